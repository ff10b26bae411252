//! Dedicated databases: a tenant whose data lives in a database of its own.
//! Only a deployment that has them (PostgreSQL with `[metadata.dedicated]`)
//! implements this port; elsewhere the use cases have none and refuse such
//! tenants.

use async_trait::async_trait;
use coffer_domain::Tenant;

use crate::{MetadataError, MetadataErrorKind};

/// Makes and drops the databases tenants have of their own.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantDatabases: Send + Sync + 'static {
    /// Make the tenant's dedicated database ready (database per tenant):
    /// created if missing, migrated, and holding the tenant's row. Nothing
    /// to do for a tenant without one. Idempotent.
    ///
    /// # Errors
    /// `Unavailable` when the database server does not answer; `Internal`
    /// when the database cannot be made or migrated.
    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError>;

    /// Drop the tenant's dedicated database with everything in it (an
    /// onboarding's compensation; purge). Nothing to do for a tenant
    /// without one, or when it is gone already.
    ///
    /// # Errors
    /// As [`Self::provision_database`].
    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError>;
}

/// The port that makes and drops `tenant`'s dedicated database: `None` for
/// a tenant without one (there is nothing to make or drop).
///
/// # Errors
/// `InvalidState` when the tenant has a dedicated database and the
/// deployment has none (`databases` is `None`).
pub fn databases_for<'a>(
    databases: Option<&'a dyn TenantDatabases>,
    tenant: &Tenant,
) -> Result<Option<&'a dyn TenantDatabases>, MetadataError> {
    match (&tenant.dedicated_database, databases) {
        (None, _) => Ok(None),
        (Some(_), Some(databases)) => Ok(Some(databases)),
        (Some(database), None) => Err(MetadataError::new(
            MetadataErrorKind::InvalidState,
            format!(
                "tenant {} has the dedicated database {database}, and this deployment has no dedicated databases configured",
                tenant.slug
            ),
        )),
    }
}
