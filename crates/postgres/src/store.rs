//! The pool, the transaction discipline and the scoping of every
//! transaction to one tenant (or, explicitly, to the platform).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use coffer_domain::TenantId;
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Text};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::error::PgError;

/// How often a unit of work is attempted when PostgreSQL reports a
/// serialization failure before the error is returned.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

diesel::define_sql_function! {
    /// `set_config(name, value, is_local)`: with `is_local = true` this is
    /// exactly `SET LOCAL name = value`, but it takes bind parameters and so
    /// is one cached prepared statement that can be pipelined.
    fn set_config(name: Text, value: Text, is_local: Bool) -> Text;
}

/// Coffer's metadata ports on PostgreSQL. Connect it with the service role
/// (`coffer_app`), never with the owner of the tables: row-level security is
/// what keeps tenants apart, and it does not bind a superuser.
#[derive(Clone)]
pub struct PgMetadataStore {
    pub(crate) pool: Pool<AsyncPgConnection>,
    /// Client-side bound of `check_ready` (the statement timeout).
    pub(crate) ready_timeout: Option<Duration>,
    /// For the dedicated connections that hold job locks (`jobs.rs`).
    pub(crate) app_url: std::sync::Arc<str>,
    /// Batches the audit appends of this database, across tenants.
    pub(crate) group_commit: coffer_ports::GroupCommit,
    /// Batches the upload reservations of this database, per tenant.
    pub(crate) reservations: crate::reservations::ReservationBatches,
    /// Batches the upload completions of this database, per tenant.
    pub(crate) completions: crate::completions::CompletionBatches,
    /// The tenant schema every transaction of this store works in (schema
    /// per tenant); `None` for the database's default search path.
    pub(crate) in_schema: Option<InSchema>,
}

/// What puts a transaction in one tenant's schema: `SET LOCAL search_path`,
/// sent right after `BEGIN`, so it ends with the transaction and a pooled
/// connection goes back without it.
#[derive(Clone)]
pub(crate) struct InSchema {
    /// `SET LOCAL search_path TO "<schema>"`, for write transactions.
    pub(crate) set: std::sync::Arc<str>,
    /// `BEGIN READ ONLY` and the same setting in one simple-protocol message.
    pub(crate) begin_read: std::sync::Arc<str>,
    /// `BEGIN` and the same setting, for writes whose transaction is
    /// managed by hand ([`HandConn`]).
    pub(crate) begin_write: std::sync::Arc<str>,
}

impl PgMetadataStore {
    /// This store's pool with every transaction in `schema` (which must be a
    /// plain identifier: it is spliced into `SET LOCAL search_path`) and
    /// nothing else on the search path, so a table missing there fails
    /// rather than falling back to the shared tables. Audit appends,
    /// reservations and completions batch apart from the shared store's: a batch is one
    /// transaction, and so in one schema.
    ///
    /// # Errors
    /// `InvalidState` for a name that is not a plain identifier.
    pub fn in_schema(&self, schema: &str) -> Result<Self, PgError> {
        if !coffer_domain::is_plain_identifier(schema, 63) {
            return Err(PgError::InvalidState(format!(
                "{schema:?} is not a plain lower-case identifier"
            )));
        }
        let set = format!("SET LOCAL search_path TO \"{schema}\"");
        Ok(Self {
            pool: self.pool.clone(),
            ready_timeout: self.ready_timeout,
            app_url: self.app_url.clone(),
            group_commit: coffer_ports::GroupCommit::new(self.group_commit.lane_count()),
            reservations: Default::default(),
            completions: Default::default(),
            in_schema: Some(InSchema {
                begin_read: format!("BEGIN READ ONLY; {set}").into(),
                begin_write: format!("BEGIN; {set}").into(),
                set: set.into(),
            }),
        })
    }

    /// What opens a read-write transaction managed by hand.
    pub(crate) fn begin_write(&self) -> &str {
        self.in_schema.as_ref().map_or("BEGIN", |s| &s.begin_write)
    }

    /// What opens a read-only transaction of this store.
    pub(crate) fn begin_read(&self) -> &str {
        self.in_schema
            .as_ref()
            .map_or("BEGIN READ ONLY", |s| &s.begin_read)
    }
}

impl fmt::Debug for PgMetadataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL (and its password) stays out of logs.
        let status = self.pool.status();
        f.debug_struct("PgMetadataStore")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .finish()
    }
}

/// The connections of a pool at one moment (for the operator's metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Most connections it may open.
    pub max_size: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections not lent out.
    pub idle: usize,
    /// Checkouts waiting for a connection.
    pub waiting: usize,
}

impl PgMetadataStore {
    /// The pool's connections now: cheap, no round trip.
    pub fn pool_stats(&self) -> PoolStats {
        let status = self.pool.status();
        PoolStats {
            max_size: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }
}

/// How long the pool waits on PostgreSQL before it gives up with
/// `Unavailable`. Without these a database that accepts connections but
/// never answers (or a pool whose every connection is stuck) would hold a
/// request forever. `None` waits without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: usize,
    /// Opening one connection: TCP, TLS, startup and authentication.
    pub connect_timeout: Option<Duration>,
    /// Waiting for a free connection when all `max_size` are lent out.
    pub checkout_timeout: Option<Duration>,
    /// PostgreSQL's `statement_timeout`, set on every new session: the
    /// server cancels a statement that runs longer (a lock wait, a runaway
    /// query) and the error maps to `Unavailable`.
    pub statement_timeout: Option<Duration>,
    /// Audit group-commit batches in flight at once
    /// ([`coffer_ports::GroupCommit::new`]); a dedicated database or a
    /// tenant schema gets as many of its own.
    pub audit_lanes: usize,
}

impl PoolOptions {
    /// `max_size` connections, no timeouts, one audit lane.
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            connect_timeout: None,
            checkout_timeout: None,
            statement_timeout: None,
            audit_lanes: 1,
        }
    }
}

impl PgMetadataStore {
    /// A store with a pool of at most `pool_size` connections to `app_url`,
    /// with no timeouts (see [`PgMetadataStore::connect_with`]).
    ///
    /// # Errors
    /// `PgError::PoolBuild` when the pool cannot be configured.
    pub fn connect(app_url: &str, pool_size: usize) -> Result<Self, PgError> {
        Self::connect_with(app_url, PoolOptions::new(pool_size))
    }

    /// A store with a pool to `app_url` bounded by `options`.
    /// Connections are opened lazily; call [`coffer_ports::MetadataReadiness::check_ready`]
    /// to find out whether the database answers.
    ///
    /// # Errors
    /// `PgError::PoolBuild` when the pool cannot be configured.
    pub fn connect_with(app_url: &str, options: PoolOptions) -> Result<Self, PgError> {
        // No `SELECT 1` on every checkout (the default): that ping was two of
        // a download's seven round trips (docs/benchmarks.md). A connection
        // that died meanwhile fails its first statement, which maps to
        // `Unavailable`, and the pool discards it as broken.
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        if let Some(timeout) = options.statement_timeout {
            // One `SET` per new session rather than per transaction: sessions
            // live long in the pool, so it costs nothing on the hot path.
            let set = format!("SET statement_timeout = {}", timeout.as_millis().max(1));
            config.custom_setup = Box::new(move |url| {
                let url = url.to_owned();
                let set = set.clone();
                Box::pin(async move {
                    let mut conn = AsyncPgConnection::establish(&url).await?;
                    conn.batch_execute(&set)
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                    Ok(conn)
                })
            });
        }
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(app_url, config);
        let pool = Pool::builder(manager)
            .max_size(options.max_size.max(1))
            .wait_timeout(options.checkout_timeout)
            .create_timeout(options.connect_timeout)
            // Fast recycling sends nothing, but a custom method might.
            .recycle_timeout(options.connect_timeout)
            // deadpool needs a runtime to time anything out.
            .runtime(deadpool::Runtime::Tokio1)
            .build()?;
        Ok(Self {
            pool,
            ready_timeout: options.statement_timeout,
            app_url: app_url.into(),
            group_commit: coffer_ports::GroupCommit::new(options.audit_lanes),
            reservations: Default::default(),
            completions: Default::default(),
            in_schema: None,
        })
    }
}

/// Runs `$body` (an expression of type `Result<T, PgError>` using `$conn:
/// &mut AsyncPgConnection`) in one transaction on a pooled connection,
/// replaying it from the start when PostgreSQL reports a serialization
/// failure. The transaction manager of diesel-async tracks the transaction,
/// so a connection dropped mid-transaction is discarded by the pool rather
/// than reused with a transaction (and a tenant setting) still open.
macro_rules! transaction {
    ($store:expr, |$conn:ident| $body:expr) => {{
        use diesel_async::TransactionManager as _;
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            let mut pooled = $store.pool.get().await.map_err($crate::error::PgError::from)?;
            let $conn: &mut diesel_async::AsyncPgConnection = &mut pooled;
            let result: Result<_, $crate::error::PgError> = async {
                diesel_async::AnsiTransactionManager::begin_transaction(&mut *$conn).await?;
                if let Some(schema) = &$store.in_schema {
                    diesel_async::SimpleAsyncConnection::batch_execute(&mut *$conn, &schema.set)
                        .await?;
                }
                let outcome: Result<_, $crate::error::PgError> = async { $body }.await;
                match outcome {
                    Ok(value) => {
                        diesel_async::AnsiTransactionManager::commit_transaction(&mut *$conn)
                            .await?;
                        Ok(value)
                    }
                    Err(err) => {
                        if let Err(rollback) =
                            diesel_async::AnsiTransactionManager::rollback_transaction(&mut *$conn)
                                .await
                        {
                            tracing::warn!(error = %rollback, "rollback failed; the connection will be discarded");
                        }
                        Err(err)
                    }
                }
            }
            .await;
            match result {
                Err(err) if err.is_retryable() && attempt < $crate::store::MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %err, "serialization failure; replaying the transaction");
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use transaction;

/// One statement on the platform path (registry tables), in a transaction
/// of its own: `on_platform!(self, |conn| query.execute(&mut &*conn))`.
macro_rules! on_platform {
    ($store:expr, |$conn:ident| $query:expr) => {
        $crate::store::transaction!($store, |$conn| {
            Ok::<_, $crate::error::PgError>($crate::store::platform($conn, $query).await?)
        })
    };
}
pub(crate) use on_platform;

fn set_tenant<'a>(
    conn: &'a AsyncPgConnection,
    tenant: TenantId,
) -> impl Future<Output = QueryResult<usize>> + Send + 'a {
    diesel::select(set_config("coffer.tenant_id", tenant.to_string(), true)).execute(&mut &*conn)
}

/// Begins a tenant-scoped unit of work: `SET LOCAL coffer.tenant_id` and
/// the transaction's first query, pipelined into one round trip. The setting
/// is polled first, and diesel-async sends requests in the order they are
/// first polled (prepares included, under its statement-cache lock), so the
/// query always runs with the tenant set.
pub(crate) async fn scoped<'a, T>(
    conn: &'a AsyncPgConnection,
    tenant: TenantId,
    first: impl Future<Output = QueryResult<T>> + Send + 'a,
) -> QueryResult<T> {
    let (_, out) = futures::future::try_join(set_tenant(conn, tenant), first).await?;
    Ok(out)
}

/// Begins a platform unit of work (tenant onboarding and administration):
/// `SET LOCAL coffer.platform = 'on'`, pipelined with the first query. Only
/// the `tenants` table honours it; tenant tables stay invisible.
pub(crate) async fn platform<'a, T>(
    conn: &'a AsyncPgConnection,
    first: impl Future<Output = QueryResult<T>> + Send + 'a,
) -> QueryResult<T> {
    let set = diesel::select(set_config("coffer.platform", "on", true)).execute(&mut &*conn);
    let (_, out) = futures::future::try_join(set, first).await?;
    Ok(out)
}

/// Sets the tenant without a query to pipeline it with.
pub(crate) async fn enter_tenant(conn: &AsyncPgConnection, tenant: TenantId) -> QueryResult<()> {
    set_tenant(conn, tenant).await.map(|_| ())
}

/// A pooled connection lent to one unit of work that manages its
/// transaction by hand (the reads of [`read_scoped!`], the audit batch). Unless [`HandConn::finish`]
/// ends the transaction cleanly, the connection is taken out of the pool
/// and closed, so no connection returns with a transaction — or a tenant
/// setting — still open.
pub(crate) struct HandConn {
    conn: Option<Object<AsyncPgConnection>>,
}

impl HandConn {
    pub(crate) async fn get(store: &PgMetadataStore) -> Result<Self, PgError> {
        Ok(Self {
            conn: Some(store.pool.get().await?),
        })
    }

    pub(crate) fn conn(&self) -> Result<&AsyncPgConnection, PgError> {
        self.conn.as_deref().ok_or(PgError::Diesel(
            diesel::result::Error::BrokenTransactionManager,
        ))
    }

    /// Ends the transaction (`COMMIT` after success, `ROLLBACK` after an
    /// error) and gives the connection back to the pool.
    pub(crate) async fn finish<T>(mut self, result: QueryResult<T>) -> Result<T, PgError> {
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = match self.conn.as_deref() {
            Some(conn) => {
                let mut conn = conn;
                conn.batch_execute(end).await
            }
            None => Err(diesel::result::Error::BrokenTransactionManager),
        };
        if ended.is_ok() {
            // Dropping the pool object returns it to the pool.
            drop(self.conn.take());
        }
        let value = result?;
        ended?;
        Ok(value)
    }
}

impl Drop for HandConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(Object::take(conn));
        }
    }
}

/// The read path in two round trips: `BEGIN READ ONLY`, `SET LOCAL
/// coffer.tenant_id` and the first query pipelined, then `COMMIT`. `BEGIN`
/// is a simple-protocol message sent as soon as it is polled, before the
/// other two, which keep their order as in [`scoped`].
pub(crate) async fn pipelined_read<'a, T>(
    conn: &'a AsyncPgConnection,
    begin: &'a str,
    scope: Scope,
    first: impl Future<Output = QueryResult<T>> + Send + 'a,
) -> QueryResult<T> {
    let (name, value) = match scope {
        Scope::Tenant(tenant) => ("coffer.tenant_id", tenant.to_string()),
        Scope::Platform => ("coffer.platform", "on".to_owned()),
    };
    let mut begin_conn = conn;
    let begin = begin_conn.batch_execute(begin);
    let set = diesel::select(set_config(name, value, true)).execute(&mut &*conn);
    let (_, _, out) = futures::future::try_join3(begin, set, first).await?;
    Ok(out)
}

/// Whom a read-only unit of work runs for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    Tenant(TenantId),
    /// The explicit platform path (tenants table only).
    Platform,
}

/// Runs `$first` (a query future built on `$c: &AsyncPgConnection`) as a
/// read-only transaction in `$scope` ([`Scope`]) of its own, in two round trips.
/// Evaluates to `Result<T, PgError>`.
macro_rules! read_scoped {
    ($store:expr, $scope:expr, |$c:ident| $first:expr) => {{
        let lent = $crate::store::HandConn::get($store).await?;
        let result = match lent.conn() {
            Ok($c) => $crate::store::pipelined_read($c, $store.begin_read(), $scope, $first).await,
            Err(_) => Err(diesel::result::Error::BrokenTransactionManager),
        };
        lent.finish(result).await
    }};
}
pub(crate) use read_scoped;
