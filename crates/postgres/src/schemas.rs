//! Schemas per tenant (docs/tenants-placement.md): a tenant's tables in a
//! schema of its own in the shared database — making, migrating and
//! dropping one.
//!
//! A tenant schema has the whole set of tables (the same migrations, run
//! with the schema first on the search path) and one row in `tenants`: its
//! tenant's, there for the foreign keys. Row-level security stays on in it.
//! The service role reaches it only through a store made with
//! [`crate::PgMetadataStore::in_schema`], whose every transaction begins
//! with `SET LOCAL search_path` to the schema the tenant row names.

use std::fmt;

use coffer_domain::Tenant;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::dedicated::{Exists, insert_tenant_copy, plain_name};
use crate::error::PgError;
use crate::migrate::{APP_ROLE, MigrateOptions, migrate_with};

/// Where tenant schemas are made: the shared database, through its owner.
#[derive(Clone, PartialEq, Eq)]
pub struct DedicatedSchemas {
    /// URL of the shared database's owner role (the one `coffer migrate`
    /// uses): it creates the schemas, owns their tables and migrates them.
    pub owner_url: String,
}

impl fmt::Debug for DedicatedSchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL carries a password.
        f.debug_struct("DedicatedSchemas").finish_non_exhaustive()
    }
}

impl DedicatedSchemas {
    /// The schema of `tenant`, checked to be a plain identifier (it is
    /// spliced into `CREATE SCHEMA` and the search path); `None` without one.
    pub(crate) fn schema_of(tenant: &Tenant) -> Result<Option<&str>, PgError> {
        plain_name(tenant, tenant.dedicated_schema.as_deref(), "schema")
    }

    /// Create `tenant`'s schema if it does not exist, migrate it, let the
    /// service role use it and put the tenant's row in it. Safe to run
    /// again, and by two workers at once.
    pub(crate) async fn provision(&self, tenant: &Tenant) -> Result<(), PgError> {
        let Some(name) = Self::schema_of(tenant)? else {
            return Ok(());
        };
        let mut owner = AsyncPgConnection::establish(&self.owner_url).await?;
        match owner
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {name}"))
            .await
        {
            Ok(()) => {}
            // Two workers racing: IF NOT EXISTS does not cover the loser.
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(e.into()),
        }
        self.migrate_schema(name).await?;
        owner
            .batch_execute(&format!(
                "GRANT USAGE ON SCHEMA {name} TO {APP_ROLE}; SET search_path TO {name}"
            ))
            .await?;
        insert_tenant_copy(&mut owner, tenant).await
    }

    /// Drop `tenant`'s schema with every table in it.
    pub(crate) async fn drop_schema(&self, tenant: &Tenant) -> Result<(), PgError> {
        let Some(name) = Self::schema_of(tenant)? else {
            return Ok(());
        };
        let mut owner = AsyncPgConnection::establish(&self.owner_url).await?;
        owner
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .await?;
        Ok(())
    }

    /// Apply the pending migrations to `tenant`'s schema.
    pub(crate) async fn migrate(&self, tenant: &Tenant) -> Result<Vec<String>, PgError> {
        let Some(name) = Self::schema_of(tenant)? else {
            return Ok(Vec::new());
        };
        let mut owner = AsyncPgConnection::establish(&self.owner_url).await?;
        let found: Exists = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(&mut owner)
        .await?;
        if !found.exists {
            return Err(PgError::NotFound("dedicated schema"));
        }
        self.migrate_schema(name).await
    }

    async fn migrate_schema(&self, name: &str) -> Result<Vec<String>, PgError> {
        migrate_with(
            &self.owner_url,
            MigrateOptions {
                app_password: None,
                schema: Some(name.to_owned()),
            },
        )
        .await
    }
}
