//! The pool, the transaction discipline and the scoping of every
//! transaction to one tenant (or, explicitly, to the platform).

use std::fmt;
use std::future::Future;

use coffer_domain::TenantId;
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Text};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

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

/// `MetadataStore` on PostgreSQL. Connect it with the service role
/// (`coffer_app`), never with the owner of the tables: row-level security is
/// what keeps tenants apart, and it does not bind a superuser.
#[derive(Clone)]
pub struct PgMetadataStore {
    pub(crate) pool: Pool<AsyncPgConnection>,
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

impl PgMetadataStore {
    /// A store with a pool of at most `pool_size` connections to `app_url`.
    /// Connections are opened lazily; call [`coffer_ports::MetadataStore::check_ready`]
    /// to find out whether the database answers.
    ///
    /// # Errors
    /// `PgError::PoolBuild` when the pool cannot be configured.
    pub fn connect(app_url: &str, pool_size: usize) -> Result<Self, PgError> {
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(app_url);
        let pool = Pool::builder(manager).max_size(pool_size.max(1)).build()?;
        Ok(Self { pool })
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
