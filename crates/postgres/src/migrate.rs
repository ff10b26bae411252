//! Schema migrations, embedded in the binary and run as the owner role.

use diesel::RunQueryDsl as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::PgError;

/// The non-owner role the service connects as.
pub const APP_ROLE: &str = "coffer_app";

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Advisory lock key serialising concurrent `migrate` runs on one database.
const MIGRATION_LOCK: i64 = 0x0C0F_FE12_0001;

/// What [`migrate_with`] does besides migrating.
#[derive(Clone, Default)]
pub struct MigrateOptions {
    /// When set, `coffer_app` gets `LOGIN` and this password, so the
    /// service can connect as `postgres://coffer_app:<password>@…`. When
    /// not set, its login is left as a DBA configured it.
    pub app_password: Option<String>,
}

impl std::fmt::Debug for MigrateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateOptions")
            .field(
                "app_password",
                &self.app_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Applies the pending migrations as the owner role of `owner_url`. Running
/// it again changes nothing.
///
/// # Errors
/// `PgError::Connect` when the database does not answer, `Migration` when a
/// migration fails (the failing one is rolled back).
pub async fn migrate(owner_url: &str) -> Result<Vec<String>, PgError> {
    migrate_with(owner_url, MigrateOptions::default()).await
}

/// [`migrate`], and then what `options` ask for. Returns the versions applied.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_with(
    owner_url: &str,
    options: MigrateOptions,
) -> Result<Vec<String>, PgError> {
    let url = owner_url.to_owned();
    // diesel_migrations is synchronous: run it on a blocking thread through
    // the wrapper, which drives the async connection on this runtime.
    tokio::task::spawn_blocking(move || -> Result<Vec<String>, PgError> {
        use diesel::Connection as _;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        // Replicas starting together take turns; the lock ends with the session.
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| PgError::Migration(e.to_string()))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        if let Some(password) = &options.app_password {
            // ALTER ROLE takes no bind parameters; quote as a SQL literal
            // (standard_conforming_strings is on since PostgreSQL 9.1).
            let literal = format!("'{}'", password.replace('\'', "''"));
            diesel::sql_query(format!(
                "ALTER ROLE {APP_ROLE} WITH LOGIN PASSWORD {literal}"
            ))
            .execute(&mut conn)?;
        }
        Ok(applied)
    })
    .await
    .map_err(|e| PgError::Migration(format!("migration task failed: {e}")))?
}
