//! Regional shared databases (docs/tenants-placement.md): the shared
//! database of one region, holding the data of that region's tenants (their
//! files, users, grants, usage, audit log and events, and the schemas of
//! those with one) while the registry keeps their rows, settings and flags.
//!
//! Like a dedicated database it has the whole set of tables and a copy of
//! each of its tenants' rows, there for the foreign keys; unlike one it is
//! shared, so row-level security is what keeps its tenants apart, as in the
//! registry's database.

use std::fmt;

use coffer_domain::Tenant;
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::dedicated::insert_tenant_copy;
use crate::error::PgError;
use crate::migrate::{MigrateOptions, migrate_with};
use crate::schema::tenants;
use crate::schemas::DedicatedSchemas;
use crate::store::PgMetadataStore;

/// One region's shared database.
#[derive(Clone)]
pub struct RegionalDatabase {
    /// The service role's stores there (`coffer_app`).
    pub store: PgMetadataStore,
    /// Its owner role's URL: migrations, the tenants' row copies, schemas.
    pub owner_url: String,
}

impl fmt::Debug for RegionalDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL carries a password.
        f.debug_struct("RegionalDatabase")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RegionalDatabase {
    /// Put `tenant`'s row and usage counters in this database (its shared
    /// tables), unless they are there already.
    pub(crate) async fn provision(&self, tenant: &Tenant) -> Result<(), PgError> {
        let mut owner = AsyncPgConnection::establish(&self.owner_url).await?;
        insert_tenant_copy(&mut owner, tenant).await
    }

    /// Remove `tenant`'s rows from this database: its row copy, and with it
    /// (every tenant table references `tenants` on delete cascade) its
    /// files, users, grants, usage, audit log and events. Nothing of
    /// another tenant is touched.
    pub(crate) async fn remove_tenant(&self, tenant: &Tenant) -> Result<(), PgError> {
        let mut owner = AsyncPgConnection::establish(&self.owner_url).await?;
        // The owner is bound by FORCE ROW LEVEL SECURITY too; the session
        // ends right after.
        owner.batch_execute("SET coffer.platform = 'on'").await?;
        diesel::delete(tenants::table.find(tenant.id.as_uuid()))
            .execute(&mut owner)
            .await?;
        Ok(())
    }

    /// Apply the pending migrations to this database's shared tables.
    pub(crate) async fn migrate(&self, options: MigrateOptions) -> Result<Vec<String>, PgError> {
        migrate_with(&self.owner_url, options).await
    }

    /// Where the schemas of this region's tenants are made.
    pub(crate) fn schemas(&self) -> DedicatedSchemas {
        DedicatedSchemas {
            owner_url: self.owner_url.clone(),
        }
    }
}
