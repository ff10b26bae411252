//! Opening the database, the connection pool, and the two kinds of unit of
//! work: reads in a deferred transaction, writes in `BEGIN IMMEDIATE` (which
//! takes SQLite's write lock up front, so a read-then-write such as a quota
//! check cannot interleave with another writer).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use coffer_ports::{MetadataError, MetadataErrorKind, MetadataReadiness};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionResult};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;

use crate::error::SqliteError;
use crate::functions;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// How long a writer waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const POOL_SIZE: usize = 4;

type Conn = SyncConnectionWrapper<SqliteConnection>;

/// Every metadata port on one SQLite file (each implemented in the module
/// that holds its SQL); `MetadataPorts::in_one` bundles them. Cheap to clone.
#[derive(Clone)]
pub struct SqliteMetadataStore {
    pool: Pool<Conn>,
    path: PathBuf,
    /// Background jobs running in this process (`jobs.rs`).
    pub(crate) jobs: crate::jobs::Claims,
    /// Batches the audit appends, per tenant.
    pub(crate) group_commit: coffer_ports::GroupCommit,
}

impl fmt::Debug for SqliteMetadataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteMetadataStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteMetadataStore {
    /// Opens (creating if needed) the database at `path` (mode 0600): WAL
    /// mode, a busy timeout, foreign keys on, and the embedded migrations of
    /// `migrations/sqlite` applied.
    ///
    /// # Errors
    /// The directory or file cannot be created, or a migration fails.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let url = path.to_string_lossy().into_owned();
        let migrate_url = url.clone();
        tokio::task::spawn_blocking(move || -> Result<(), SqliteError> {
            let mut conn = connect(&migrate_url)?;
            conn.run_pending_migrations(MIGRATIONS)
                .map_err(|e| SqliteError::Migration(e.to_string()))?;
            // Rows written before the audit chain existed get their links.
            conn.immediate_transaction(crate::journal::chain_unchained)?;
            Ok(())
        })
        .await
        .map_err(|e| SqliteError::Migration(e.to_string()))??;
        // Every tenant's metadata is in this file: readable by its owner only.
        // SQLite gives the -wal and -shm files the same mode.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(|url| {
            let url = url.to_owned();
            async move {
                tokio::task::spawn_blocking(move || connect(&url).map(SyncConnectionWrapper::new))
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<Conn>::new_with_config(url, config);
        let pool = Pool::builder(manager).max_size(POOL_SIZE).build()?;
        Ok(Self {
            pool,
            path,
            jobs: crate::jobs::Claims::default(),
            // SQLite has one writer at a time: more lanes would only queue
            // smaller batches on its lock.
            group_commit: coffer_ports::GroupCommit::new(1),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in a read transaction on a pooled connection.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, SqliteError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| conn.transaction(work)).await
    }

    /// Runs `work` in a `BEGIN IMMEDIATE` transaction on a pooled connection.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, SqliteError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| conn.immediate_transaction(work)).await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, SqliteError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, SqliteError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        // The unit of work runs in a task of its own, so a caller that gives
        // up (a cancelled request, a client gone) detaches from it instead of
        // dropping it halfway: diesel-async would then block the thread until
        // the blocking part ends, which actix's current-thread workers forbid.
        let task = tokio::spawn(async move {
            let mut conn = pool.get().await?;
            // The wrapper's blocking task speaks diesel's error type; ours rides inside.
            conn.spawn_blocking(move |c| Ok(work(c))).await?
        });
        task.await.map_err(|e| SqliteError::Task(e.to_string()))?
    }
}

#[async_trait]
impl MetadataReadiness for SqliteMetadataStore {
    async fn check_ready(&self) -> Result<(), MetadataError> {
        self.read(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
        // Whatever stops a trivial read, the store cannot serve.
        .map_err(|e| {
            MetadataError::new(MetadataErrorKind::Unavailable, e.to_string()).with_source(e)
        })
    }
}

/// A connection with Coffer's settings and SQL functions.
fn connect(url: &str) -> ConnectionResult<SqliteConnection> {
    let mut conn = SqliteConnection::establish(url)?;
    // The busy timeout first: setting the journal mode takes a lock, which
    // a just-closed instance's last write (a restart) may still hold.
    let setup = format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        BUSY_TIMEOUT.as_millis()
    );
    conn.batch_execute(&setup)
        .and_then(|()| functions::register(&mut conn))
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}
