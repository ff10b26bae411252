//! Test databases for this crate and for every crate whose tests need
//! PostgreSQL (feature `testing`).
//!
//! [`TestDb::new`] finds a server — `COFFER_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`, or else a throwaway
//! cluster it starts with `initdb`/`pg_ctl` — migrates a template database
//! once (named after a hash of the migrations taken by `build.rs`, built under an advisory lock
//! so parallel test processes do not race), and clones a fresh database
//! from it for each test, dropped again when the `TestDb` is dropped.
//! nextest runs every test in its own process, so everything shared lives in
//! the server (template, lock) or on disk (the throwaway cluster), not in
//! process memory.

mod cluster;
mod url;

use std::time::Duration;

use coffer_domain::TenantId;
use coffer_ports::FileQuery;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::error::PgError;
use crate::migrate::{APP_ROLE, MigrateOptions, migrate_with};
use crate::store::PgMetadataStore;
pub use url::ServerUrl;

/// The variable naming the server tests use.
pub const DATABASE_URL_VAR: &str = "COFFER_TEST_DATABASE_URL";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The `coffer_app` password the harness sets (test clusters only).
const APP_PASSWORD: &str = "coffer_app";
/// Advisory lock key serialising template builds across test processes.
const TEMPLATE_LOCK: i64 = 0x0C0F_FE12_0002;

static TEMPLATE: OnceCell<(ServerUrl, String)> = OnceCell::const_new();

/// One test's own database, cloned from the migrated template.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    server: ServerUrl,
}

impl TestDb {
    /// A fresh, migrated database.
    ///
    /// # Panics
    /// When no PostgreSQL can be reached or started; the message says what
    /// was tried. A test that needs a database must not pass without one.
    #[allow(clippy::expect_used)]
    pub async fn new() -> Self {
        Self::try_new()
            .await
            .expect("coffer_postgres::testing: no PostgreSQL for tests")
    }

    /// [`TestDb::new`], returning the error instead of panicking.
    ///
    /// # Errors
    /// When no server answers and none can be started, or cloning fails.
    pub async fn try_new() -> Result<Self, String> {
        let (server, template) = TEMPLATE
            .get_or_try_init(|| async {
                let server = find_server().await?;
                let template = ensure_template(&server).await?;
                Ok::<_, String>((server, template))
            })
            .await?
            .clone();
        let name = format!("coffer_test_{}", Uuid::new_v4().simple());
        let mut conn = connect(&server.database("postgres")).await?;
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("cloning {template}: {e}"))?;
        Ok(Self { name, server })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The prefix of this test's dedicated databases (tenants' own
    /// databases made on the same server): dropped with the test database.
    pub fn dedicated_prefix(&self) -> String {
        let id = self.name.trim_start_matches("coffer_test_");
        format!("ct{}_", &id[..id.len().min(12)])
    }

    /// The owner's URL with `{database}` for the database, as
    /// `metadata.dedicated.admin_url` takes it.
    pub fn owner_url_template(&self) -> String {
        self.server.database(crate::DATABASE_PLACEHOLDER)
    }

    /// The service role's URL with `{database}` (`metadata.dedicated.app_url`).
    pub fn app_url_template(&self) -> String {
        self.server
            .as_user(APP_ROLE, APP_PASSWORD)
            .database(crate::DATABASE_PLACEHOLDER)
    }

    /// Run `sql` in database `db` of this server as the owner (for tests
    /// that break or rewind a database on purpose).
    ///
    /// # Errors
    /// When the database cannot be reached or the statements fail.
    pub async fn execute_in(&self, db: &str, sql: &str) -> Result<(), String> {
        use diesel_async::SimpleAsyncConnection as _;
        let mut conn = connect(&self.server.database(db)).await?;
        conn.batch_execute(sql).await.map_err(|e| e.to_string())
    }

    /// Whether roles without a grant of their own (`PUBLIC`) may connect
    /// to database `db` of this server.
    ///
    /// # Errors
    /// When the server cannot be queried.
    pub async fn public_may_connect(&self, db: &str) -> Result<bool, String> {
        #[derive(diesel::QueryableByName)]
        struct May {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            may: bool,
        }
        let mut conn = connect(&self.server.database("postgres")).await?;
        let row: May =
            diesel::sql_query("SELECT has_database_privilege('public', $1, 'CONNECT') AS may")
                .bind::<diesel::sql_types::Text, _>(db)
                .get_result(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        Ok(row.may)
    }

    /// The databases on this server whose names start with `prefix`.
    ///
    /// # Errors
    /// When the server cannot be queried.
    pub async fn databases_like(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut conn = connect(&self.server.database("postgres")).await?;
        let rows: Vec<SubjectRow> = diesel::sql_query(
            "SELECT datname AS subject FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
        )
        .bind::<diesel::sql_types::Text, _>(prefix)
        .load(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().map(|r| r.subject).collect())
    }

    /// `SELECT count(*)` of `table` rows of `tenant` in database `db` of
    /// this server, read as the owner (past row-level security).
    ///
    /// # Errors
    /// When the database cannot be reached or the query fails.
    pub async fn count_rows(&self, db: &str, table: &str, tenant: Uuid) -> Result<i64, String> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = connect(&self.server.database(db)).await?;
        diesel::sql_query("SET coffer.platform = 'on'")
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        // `tenants`, or schema-qualified `<schema>.tenants`.
        let column = if table.rsplit('.').next() == Some("tenants") {
            "id"
        } else {
            "tenant_id"
        };
        let row: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} WHERE {column} = $1"
        ))
        .bind::<diesel::sql_types::Uuid, _>(tenant)
        .get_result(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        Ok(row.n)
    }

    /// `SELECT count(*)` of `table` (schema-qualified as the caller likes)
    /// as the service role in `scope`'s tenant transaction: what row-level
    /// security lets that tenant see of it, whatever search path it names.
    ///
    /// # Errors
    /// When the service role cannot connect or the query fails.
    pub async fn count_in_scope(&self, table: &str, scope: Uuid) -> Result<i64, String> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = connect(&self.app_url()).await?;
        diesel::sql_query("SELECT set_config('coffer.tenant_id', $1, false)")
            .bind::<diesel::sql_types::Text, _>(scope.to_string())
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.n)
    }

    /// The owner role's URL (the role that ran the migrations).
    pub fn owner_url(&self) -> String {
        self.server.database(&self.name)
    }

    /// The service role's URL (`coffer_app`): what the server connects with.
    pub fn app_url(&self) -> String {
        self.server
            .as_user(APP_ROLE, APP_PASSWORD)
            .database(&self.name)
    }

    /// A store connected as `coffer_app`.
    ///
    /// # Errors
    /// When the pool cannot be configured.
    pub fn store(&self, pool_size: usize) -> Result<PgMetadataStore, PgError> {
        PgMetadataStore::connect(&self.app_url(), pool_size)
    }

    /// Kill every session of `coffer_app` on this database with
    /// `pg_terminate_backend`, as its owner (a superuser on test servers),
    /// the way an operator or a failover would; returns how many died.
    /// For fault tests.
    ///
    /// # Errors
    /// When the owner cannot connect or the query fails.
    pub async fn terminate_app_backends(&self) -> Result<usize, String> {
        let mut owner = connect(&self.owner_url()).await?;
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND usename = $1",
        )
        .bind::<diesel::sql_types::Text, _>(APP_ROLE)
        .execute(&mut owner)
        .await
        .map_err(|e| e.to_string())
    }

    /// `EXPLAIN` of the query `list_files` runs for `query`, as `coffer_app`.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn explain_list_files(
        &self,
        tenant: TenantId,
        query: &FileQuery,
    ) -> Result<String, PgError> {
        let mut conn = AsyncPgConnection::establish(&self.app_url()).await?;
        crate::listing::explain_files_query(&mut conn, tenant, query).await
    }
}

impl TestDb {
    /// `n` active tenants `<prefix>-<i>`, each with a webhook set in 2020,
    /// by SQL in bulk as the database owner (past row-level security).
    ///
    /// # Errors
    /// When the statements fail.
    pub async fn seed_webhook_tenants(&self, prefix: &str, n: usize) -> Result<(), String> {
        self.execute_in(
            self.name(),
            &format!(
                "BEGIN;
                 INSERT INTO tenants (id, slug, display_name, plan, status, region, created_at)
                 SELECT gen_random_uuid(), '{prefix}-' || i, '{prefix} ' || i, 'starter',
                        'active', 'eu-west', now()
                 FROM generate_series(1, {n}) AS i;
                 INSERT INTO tenant_settings (tenant_id, key, value)
                 SELECT id, 'webhook', jsonb_build_object(
                            'url', 'https://' || slug || '.hooks.example/coffer',
                            'secret', 'whsec_test',
                            'since', '2020-01-01T00:00:00Z')
                 FROM tenants WHERE starts_with(slug, '{prefix}-');
                 COMMIT;"
            ),
        )
        .await
    }

    /// `EXPLAIN (ANALYZE, FORMAT JSON)` of the question a dispatcher round
    /// asks ([`coffer_ports::UndeliveredEvents::pending_events`]), as
    /// `coffer_app` on the platform path.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn explain_pending_events(
        &self,
        now: time::OffsetDateTime,
        dead_since: time::OffsetDateTime,
    ) -> Result<String, PgError> {
        let mut conn = AsyncPgConnection::establish(&self.app_url()).await?;
        crate::events::explain_pending(&mut conn, now, dead_since).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort, on a thread of its own: Drop cannot await, and the
        // test's runtime may be single-threaded.
        let url = self.server.database("postgres");
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let prefix = self.dedicated_prefix();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = connect(&url).await.ok()?;
                // The test's dedicated databases go with it.
                let own: Vec<SubjectRow> = diesel::sql_query(
                    "SELECT datname AS subject FROM pg_database WHERE starts_with(datname, $1)",
                )
                .bind::<diesel::sql_types::Text, _>(&prefix)
                .load(&mut conn)
                .await
                .ok()?;
                for db in own {
                    let drop_own = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.subject);
                    diesel::sql_query(drop_own).execute(&mut conn).await.ok()?;
                }
                diesel::sql_query(sql).execute(&mut conn).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("coffer_postgres::testing: could not drop {}", self.name);
        }
    }
}

async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("{}: {e}", ServerUrl::parse(url).redacted())),
        Err(_) => Err(format!("{}: timed out", ServerUrl::parse(url).redacted())),
    }
}

async fn find_server() -> Result<ServerUrl, String> {
    let configured = std::env::var(DATABASE_URL_VAR).ok();
    let url = configured.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
    match connect(&url).await {
        Ok(_) => Ok(ServerUrl::parse(&url)),
        Err(first) => {
            eprintln!(
                "coffer_postgres::testing: {first}; starting a throwaway cluster (set {DATABASE_URL_VAR} to use another server)"
            );
            let server = tokio::task::spawn_blocking(cluster::ensure_running)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{DATABASE_URL_VAR} does not answer ({first}) and no cluster could be started: {e}"))?;
            connect(&server.database("postgres")).await?;
            Ok(server)
        }
    }
}

#[derive(diesel::QueryableByName)]
struct IsTemplate {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    datistemplate: bool,
}

/// FNV-1a of the embedded migrations' names, in order.
fn embedded_names_hash() -> Result<String, String> {
    use diesel::migration::MigrationSource;
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&crate::migrate::MIGRATIONS)
        .map_err(|e| e.to_string())?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in migrations {
        for byte in migration.name().to_string().bytes().chain(Some(b'\n')) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

async fn ensure_template(server: &ServerUrl) -> Result<String, String> {
    // Named after the embedded migrations: a changed schema gets a new
    // template. The build script fingerprints their files; the names are
    // read here from what is really embedded, so that a build script
    // output reused from another checkout (a shared target directory)
    // cannot pair this schema with another's template.
    let name = format!(
        "coffer_tpl_{}_{}",
        env!("COFFER_PG_MIGRATIONS_HASH"),
        embedded_names_hash()?
    );
    let mut conn = connect(&server.database("postgres")).await?;
    let sql_err = |e: diesel::result::Error| e.to_string();
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .execute(&mut conn)
        .await
        .map_err(sql_err)?;
    let result = async {
        let existing: Vec<IsTemplate> =
            diesel::sql_query("SELECT datistemplate FROM pg_database WHERE datname = $1")
                .bind::<diesel::sql_types::Text, _>(&name)
                .load(&mut conn)
                .await
                .map_err(sql_err)?;
        match existing.into_iter().next() {
            Some(row) if row.datistemplate => return Ok(()),
            // Left half-built by a run that died: start over.
            Some(_) => {
                diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(sql_err)?;
            }
            None => {}
        }
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(sql_err)?;
        migrate_with(
            &server.database(&name),
            MigrateOptions {
                app_password: Some(APP_PASSWORD.to_owned()),
                schema: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        diesel::sql_query(format!("ALTER DATABASE {name} IS_TEMPLATE true"))
            .execute(&mut conn)
            .await
            .map_err(sql_err)?;
        Ok::<_, String>(())
    }
    .await;
    let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .execute(&mut conn)
        .await;
    result?;
    unlocked.map_err(sql_err)?;
    Ok(name)
}

#[derive(diesel::QueryableByName)]
struct SubjectRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    subject: String,
}

impl TestDb {
    /// The subjects of `tenant`'s users with their roles (`alice:admin`),
    /// read as the owner (past row-level security). For onboarding tests.
    ///
    /// # Errors
    /// When the owner cannot connect or the query fails.
    pub async fn users_of(&self, tenant: uuid::Uuid) -> Result<Vec<String>, String> {
        self.users_in(&self.name, tenant).await
    }

    /// [`TestDb::users_of`] in database `db` of this server (a dedicated one).
    ///
    /// # Errors
    /// As [`TestDb::users_of`].
    pub async fn users_in(&self, db: &str, tenant: uuid::Uuid) -> Result<Vec<String>, String> {
        let mut owner = connect(&self.server.database(db)).await?;
        diesel::sql_query("SET coffer.platform = 'on'")
            .execute(&mut owner)
            .await
            .map_err(|e| e.to_string())?;
        let rows: Vec<SubjectRow> = diesel::sql_query(
            "SELECT subject || ':' || array_to_string(roles, ',') AS subject
             FROM users WHERE tenant_id = $1 ORDER BY subject",
        )
        .bind::<diesel::sql_types::Uuid, _>(tenant)
        .load(&mut owner)
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().map(|r| r.subject).collect())
    }
}

/// A file's row in the scan queue, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct QueuedScan {
    /// Claims so far.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    /// Whether a worker's lease on it is still running.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub leased: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub last_error: Option<String>,
}

impl TestDb {
    /// `file`'s row in `scan_jobs`, read as the owner; `None` when it is
    /// not queued. For scanning tests.
    ///
    /// # Errors
    /// When the owner cannot connect or the query fails.
    pub async fn queued_scan(&self, file: uuid::Uuid) -> Result<Option<QueuedScan>, String> {
        let mut owner = connect(&self.owner_url()).await?;
        diesel::sql_query("SET coffer.platform = 'on'")
            .execute(&mut owner)
            .await
            .map_err(|e| e.to_string())?;
        let rows: Vec<QueuedScan> = diesel::sql_query(
            "SELECT attempts, coalesce(lease_until > now(), false) AS leased, last_error
             FROM scan_jobs WHERE file_id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(file)
        .load(&mut owner)
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().next())
    }
}
