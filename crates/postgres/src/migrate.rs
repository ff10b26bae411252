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
    /// Migrate this schema (a tenant's, schema per tenant) rather than the
    /// database's default one: the session's search path is the schema,
    /// then `public` (where extensions such as `pg_trgm` live), so every
    /// table, function and the migrations' own bookkeeping are made there.
    /// Must be a plain identifier (it is spliced into `SET search_path`).
    pub schema: Option<String>,
}

impl std::fmt::Debug for MigrateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateOptions")
            .field(
                "app_password",
                &self.app_password.as_ref().map(|_| "<redacted>"),
            )
            .field("schema", &self.schema)
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
        if let Some(schema) = &options.schema {
            if !coffer_domain::is_plain_identifier(schema, 63) {
                return Err(PgError::InvalidState(format!(
                    "{schema:?} is not a plain lower-case identifier"
                )));
            }
            diesel::sql_query(format!("SET search_path TO \"{schema}\", public"))
                .execute(&mut conn)?;
        }
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| PgError::Migration(e.to_string()))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        chain_unchained(&mut conn)?;
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

/// Links the audit rows written before the chain existed (no `seq`), per
/// tenant in `(at, id)` order after whatever its chain holds: nothing when
/// this runs right after the migration that added the chain. One
/// transaction; running it again finds nothing to do.
fn chain_unchained(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> Result<usize, PgError> {
    use diesel::prelude::*;

    use crate::rows::AuditRow;
    use crate::schema::{audit_chain_heads as h, audit_events as a, tenants};
    let set = |conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, name: &str, value: String| {
        diesel::sql_query("SELECT set_config($1, $2, true)")
            .bind::<diesel::sql_types::Text, _>(name.to_owned())
            .bind::<diesel::sql_types::Text, _>(value)
            .execute(conn)
    };
    use coffer_domain::ChainHash;

    conn.transaction(|conn| {
        // The tables force row-level security even on their owner: list
        // the tenants on the platform path, then work as each tenant.
        set(conn, "coffer.platform", "on".to_owned())?;
        let ids: Vec<uuid::Uuid> = tenants::table.select(tenants::id).load(conn)?;
        let mut done = 0;
        for tenant in ids {
            set(conn, "coffer.tenant_id", tenant.to_string())?;
            let rows: Vec<AuditRow> = a::table
                .select(AuditRow::as_select())
                .filter(a::tenant_id.eq(tenant))
                .filter(a::seq.is_null())
                .order((a::at, a::id))
                .load(conn)?;
            if rows.is_empty() {
                continue;
            }
            let head: Option<(i64, Vec<u8>)> = h::table
                .find(tenant)
                .select((h::seq, h::hash))
                .for_update()
                .first(conn)
                .optional()?;
            let (mut seq, mut prev) = match head {
                Some((seq, hash)) => (
                    seq,
                    ChainHash::from_slice(&hash)
                        .ok_or_else(|| PgError::CorruptRow("chain head hash".into()))?,
                ),
                None => (0, ChainHash::GENESIS),
            };
            for row in &rows {
                seq += 1;
                let linked = row.linked(seq, &prev)?;
                let hash = linked.hash.clone().unwrap_or_default();
                diesel::update(a::table.find(row.id))
                    .set((a::seq.eq(seq), a::hash.eq(&hash)))
                    .execute(conn)?;
                prev = ChainHash::from_slice(&hash).unwrap_or(prev);
            }
            diesel::insert_into(h::table)
                .values((
                    h::tenant_id.eq(tenant),
                    h::seq.eq(seq),
                    h::hash.eq(prev.as_bytes().to_vec()),
                ))
                .on_conflict(h::tenant_id)
                .do_update()
                .set((
                    h::seq.eq(diesel::upsert::excluded(h::seq)),
                    h::hash.eq(diesel::upsert::excluded(h::hash)),
                ))
                .execute(conn)?;
            done += rows.len();
        }
        Ok(done)
    })
}
