//! Dedicated databases (a database per tenant, docs/tenants-databases.md): the
//! servers they are made on, and making, migrating and dropping one.
//!
//! A dedicated database has the whole schema (the same migrations) and one
//! row in `tenants`: its tenant's, there for the foreign keys. That copy is
//! never read for decisions; the shared database's row is the tenant.

use std::collections::BTreeMap;
use std::fmt;

use coffer_domain::{Region, Tenant};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::error::PgError;
use crate::migrate::{APP_ROLE, MigrateOptions, migrate_with};
use crate::rows::TenantRow;
use crate::schema::{tenants, usage_counters};
use crate::store::PoolOptions;

/// What stands for the database's name in a server's URLs.
pub const DATABASE_PLACEHOLDER: &str = "{database}";

/// The database `CREATE DATABASE` and `DROP DATABASE` are sent to.
const MAINTENANCE_DATABASE: &str = "postgres";

/// One PostgreSQL server that holds dedicated databases.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseServer {
    /// URL of a role that may create databases, with `{database}` where
    /// the database name goes; it owns what it creates and runs the
    /// migrations.
    pub admin_url: String,
    /// URL of the service role (`coffer_app`), with `{database}`.
    pub app_url: String,
}

impl fmt::Debug for DatabaseServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs carry passwords.
        f.debug_struct("DatabaseServer").finish_non_exhaustive()
    }
}

impl DatabaseServer {
    fn admin_url_of(&self, database: &str) -> String {
        self.admin_url.replace(DATABASE_PLACEHOLDER, database)
    }

    pub(crate) fn app_url_of(&self, database: &str) -> String {
        self.app_url.replace(DATABASE_PLACEHOLDER, database)
    }

    /// # Errors
    /// A URL without the placeholder: every tenant would share one database.
    pub fn check(&self) -> Result<(), PgError> {
        for url in [&self.admin_url, &self.app_url] {
            if !url.contains(DATABASE_PLACEHOLDER) {
                return Err(PgError::InvalidState(format!(
                    "a dedicated database server URL needs {DATABASE_PLACEHOLDER} where the database name goes"
                )));
            }
        }
        Ok(())
    }
}

/// Where dedicated databases are made: a server per region where one is
/// configured (data residency), else the default server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedicatedDatabases {
    pub default: DatabaseServer,
    pub regions: BTreeMap<Region, DatabaseServer>,
    /// The pool of each dedicated database (opened on first use).
    pub pool: PoolOptions,
    /// The password migrations give `coffer_app` on a server (see
    /// [`MigrateOptions::app_password`]).
    pub app_password: Option<String>,
}

impl DedicatedDatabases {
    /// # Errors
    /// A server URL without the `{database}` placeholder.
    pub fn check(&self) -> Result<(), PgError> {
        std::iter::once(&self.default)
            .chain(self.regions.values())
            .try_for_each(DatabaseServer::check)
    }

    pub(crate) fn server_for(&self, region: &Region) -> &DatabaseServer {
        self.regions.get(region).unwrap_or(&self.default)
    }

    /// The dedicated database of `tenant`, checked to be a plain identifier
    /// (it is spliced into `CREATE DATABASE`); `None` without one.
    pub(crate) fn database_of(tenant: &Tenant) -> Result<Option<&str>, PgError> {
        plain_name(tenant, tenant.dedicated_database.as_deref(), "database")
    }

    /// Create `tenant`'s database if it does not exist, migrate it and put
    /// the tenant's row in it. Safe to run again, and by two workers at once.
    pub(crate) async fn provision(&self, tenant: &Tenant) -> Result<(), PgError> {
        let Some(name) = Self::database_of(tenant)? else {
            return Ok(());
        };
        let (server, mut maintenance) = self.maintenance(tenant).await?;
        if !database_exists(&mut maintenance, name).await? {
            match maintenance
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
            {
                Ok(()) => {}
                // Another worker made it meanwhile.
                Err(e) if e.to_string().contains("already exists") => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.migrate_database(server, name).await?;
        // A new database lets every role of the server connect; this one is
        // for the service role (and its owner) only. The role exists once
        // the migrations ran.
        maintenance
            .batch_execute(&format!(
                "REVOKE ALL ON DATABASE {name} FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {APP_ROLE}"
            ))
            .await?;
        let mut owner = AsyncPgConnection::establish(&server.admin_url_of(name)).await?;
        insert_tenant_copy(&mut owner, tenant).await
    }

    /// Drop `tenant`'s database, closing whatever sessions it still has.
    pub(crate) async fn drop_database(&self, tenant: &Tenant) -> Result<(), PgError> {
        let Some(name) = Self::database_of(tenant)? else {
            return Ok(());
        };
        let (_, mut maintenance) = self.maintenance(tenant).await?;
        maintenance
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }

    /// Apply the pending migrations to `tenant`'s database.
    pub(crate) async fn migrate(&self, tenant: &Tenant) -> Result<Vec<String>, PgError> {
        let Some(name) = Self::database_of(tenant)? else {
            return Ok(Vec::new());
        };
        let (server, mut maintenance) = self.maintenance(tenant).await?;
        if !database_exists(&mut maintenance, name).await? {
            return Err(PgError::NotFound("dedicated database"));
        }
        self.migrate_database(server, name).await
    }

    /// The server of `tenant`'s database, and a session on its maintenance
    /// database (where databases are created and dropped).
    async fn maintenance(
        &self,
        tenant: &Tenant,
    ) -> Result<(&DatabaseServer, AsyncPgConnection), PgError> {
        let server = self.server_for(&tenant.region);
        let conn = AsyncPgConnection::establish(&server.admin_url_of(MAINTENANCE_DATABASE)).await?;
        Ok((server, conn))
    }

    async fn migrate_database(
        &self,
        server: &DatabaseServer,
        name: &str,
    ) -> Result<Vec<String>, PgError> {
        migrate_with(
            &server.admin_url_of(name),
            MigrateOptions {
                app_password: self.app_password.clone(),
                schema: None,
            },
        )
        .await
    }
}

/// `name` (of `tenant`'s own `what`), checked to be a plain identifier of at
/// most 63 bytes (PostgreSQL's longest) before it is spliced into SQL.
pub(crate) fn plain_name<'a>(
    tenant: &Tenant,
    name: Option<&'a str>,
    what: &str,
) -> Result<Option<&'a str>, PgError> {
    match name {
        Some(name) if !coffer_domain::is_plain_identifier(name, 63) => Err(PgError::InvalidState(
            format!("tenant {} has an invalid {what} name", tenant.slug),
        )),
        other => Ok(other),
    }
}

/// Put `tenant`'s row and usage counters where its data lives (an owner's
/// session on its own database, or with the search path on its schema),
/// unless they are there already. The session is closed right after, so
/// the platform setting goes with it.
pub(crate) async fn insert_tenant_copy(
    owner: &mut AsyncPgConnection,
    tenant: &Tenant,
) -> Result<(), PgError> {
    let row = TenantRow::of(tenant)?;
    // The owner is bound by FORCE ROW LEVEL SECURITY too.
    owner.batch_execute("SET coffer.platform = 'on'").await?;
    diesel::insert_into(tenants::table)
        .values(&row)
        .on_conflict(tenants::id)
        .do_nothing()
        .execute(owner)
        .await?;
    // Its counters live with its files.
    diesel::insert_into(usage_counters::table)
        .values(usage_counters::tenant_id.eq(tenant.id.as_uuid()))
        .on_conflict(usage_counters::tenant_id)
        .do_nothing()
        .execute(owner)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
pub(crate) struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) exists: bool,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool, PgError> {
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(conn)
            .await?;
    Ok(row.exists)
}
