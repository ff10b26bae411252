//! The tenant registry: the platform path to tenants (create, read,
//! change, list, purge) and the one read of usage across tenants.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{
    LimitOverrides, PageCursor, Plan, Region, Tenant, TenantId, TenantSlug, TenantStatus,
};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, Page, PlatformRecord, TenantUsage};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub display_name: String,
    pub plan: Plan,
    pub status: TenantStatus,
    pub region: Region,
    pub dedicated_bucket: Option<String>,
    /// See [`Tenant::dedicated_database`].
    pub dedicated_database: Option<String>,
    /// See [`Tenant::dedicated_schema`].
    pub dedicated_schema: Option<String>,
    /// See [`Tenant::metadata_region`].
    pub metadata_region: Option<Region>,
    pub limit_overrides: LimitOverrides,
    pub created_at: OffsetDateTime,
}

impl NewTenant {
    /// The tenant as the registry will hold it once created: what a
    /// dedicated database is provisioned for before the registry row exists.
    pub fn planned(&self) -> Tenant {
        Tenant {
            id: self.id,
            slug: self.slug.clone(),
            display_name: self.display_name.clone(),
            plan: self.plan,
            status: self.status,
            region: self.region.clone(),
            dedicated_bucket: self.dedicated_bucket.clone(),
            dedicated_database: self.dedicated_database.clone(),
            dedicated_schema: self.dedicated_schema.clone(),
            metadata_region: self.metadata_region.clone(),
            limit_overrides: self.limit_overrides.clone(),
            created_at: self.created_at,
            suspended_at: None,
            cancelled_at: None,
            purge_after: None,
            writes_frozen_at: None,
        }
    }
}

/// Changes to a tenant; `None` leaves a field as it is, `Some(None)` clears
/// an optional one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    pub plan: Option<Plan>,
    pub status: Option<TenantStatus>,
    pub limit_overrides: Option<LimitOverrides>,
    pub dedicated_bucket: Option<Option<String>>,
    pub suspended_at: Option<Option<OffsetDateTime>>,
    pub cancelled_at: Option<Option<OffsetDateTime>>,
    pub purge_after: Option<Option<OffsetDateTime>>,
}

/// Tenants, on the platform path (no tenant scope): the registry every
/// instance shares, whatever database a tenant's own data lives in.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantRegistry: Send + Sync + 'static {
    /// # Errors
    /// `Conflict` when the slug (or id) is taken.
    async fn create_tenant(
        &self,
        tenant: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError>;

    /// All tenants, oldest first, keyset-paged (platform path).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn update_tenant(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError>;

    /// Every tenant's usage and user count, oldest tenant first,
    /// keyset-paged (the platform path: the one read across tenants).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError>;

    /// Remove a cancelled tenant and every row of it (users, files, grants,
    /// usage, settings, its audit log and events), and append `record` to
    /// the platform audit log, in one transaction. Its objects must be
    /// deleted first.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless the tenant is cancelled.
    async fn purge_tenant(&self, id: TenantId, record: PlatformRecord)
    -> Result<(), MetadataError>;
}
