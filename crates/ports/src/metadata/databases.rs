//! Dedicated databases and schemas: a tenant whose data lives in a database
//! or a schema of its own. Only a deployment that has them (PostgreSQL with
//! `[metadata.dedicated]` or `[metadata.schemas]`) implements this port;
//! elsewhere the use cases have none and refuse such tenants.

use async_trait::async_trait;
use coffer_domain::Tenant;

use crate::{MetadataError, MetadataErrorKind};

/// Makes and drops the databases (and schemas) tenants have of their own.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantDatabases: Send + Sync + 'static {
    /// Make the tenant's dedicated database (database per tenant) or schema
    /// (schema per tenant) ready: created if missing, migrated, and holding
    /// the tenant's row. Nothing to do for a tenant without one. Idempotent.
    ///
    /// # Errors
    /// `Unavailable` when the database server does not answer; `Internal`
    /// when the database cannot be made or migrated.
    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError>;

    /// Drop the tenant's dedicated database or schema with everything in it (an
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
    let own = tenant
        .dedicated_database
        .as_deref()
        .map(|name| ("database", name))
        .or_else(|| {
            tenant
                .dedicated_schema
                .as_deref()
                .map(|name| ("schema", name))
        })
        .or_else(|| {
            tenant
                .metadata_region
                .as_ref()
                .map(|region| ("regional database", region.as_str()))
        });
    match (own, databases) {
        (None, _) => Ok(None),
        (Some(_), Some(databases)) => Ok(Some(databases)),
        (Some((what, name)), None) => Err(MetadataError::new(
            MetadataErrorKind::InvalidState,
            format!(
                "tenant {} has the dedicated {what} {name}, and this deployment has no dedicated {what}s configured",
                tenant.slug
            ),
        )),
    }
}
