//! Where a tenant's own data lives, resolved once per unit of work.
//!
//! A tenant's files, members, grants, audit log and events live in the
//! shared database or, for a tenant with a dedicated database, in that
//! one. A use case asks [`TenantDataResolver::tenant_data`] once and uses
//! the stores it got for the rest of its work: the routing happens in one
//! place, and never again per call.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_domain::Tenant;

use crate::{
    AuditLog, EventOutbox, FileCatalog, FileVersions, Grants, Integrity, Members, MetadataError,
    Records,
};

/// The stores that hold one tenant's data. Every method of each still
/// takes the tenant's [`crate::TenantScope`]: row-level security confines
/// the work to it whichever database the stores are on.
#[derive(Clone)]
pub struct TenantData {
    pub files: Arc<dyn FileCatalog>,
    pub members: Arc<dyn Members>,
    pub grants: Arc<dyn Grants>,
    pub audit: Arc<dyn AuditLog>,
    pub integrity: Arc<dyn Integrity>,
    pub events: Arc<dyn EventOutbox>,
    pub records: Arc<dyn Records>,
    pub versions: Arc<dyn FileVersions>,
}

impl std::fmt::Debug for TenantData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantData").finish_non_exhaustive()
    }
}

impl TenantData {
    /// Every store of a tenant's data in one adapter.
    pub fn in_one<S>(store: Arc<S>) -> Self
    where
        S: FileCatalog
            + Members
            + Grants
            + AuditLog
            + Integrity
            + EventOutbox
            + Records
            + FileVersions,
    {
        Self {
            files: store.clone(),
            members: store.clone(),
            grants: store.clone(),
            audit: store.clone(),
            integrity: store.clone(),
            records: store.clone(),
            versions: store.clone(),
            events: store,
        }
    }
}

/// Finds the stores of a tenant's data.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantDataResolver: Send + Sync + 'static {
    /// The stores of `tenant`'s data. The tenant row says where its data
    /// lives (its dedicated database, if any), so this needs no lookup.
    ///
    /// # Errors
    /// `Unavailable` when the tenant's database is not configured here or
    /// cannot be opened.
    async fn tenant_data(&self, tenant: &Tenant) -> Result<Arc<TenantData>, MetadataError>;
}

/// Every tenant's data in one database (SQLite; PostgreSQL without
/// dedicated databases; unit tests).
#[derive(Debug, Clone)]
pub struct OneDatabase(Arc<TenantData>);

impl OneDatabase {
    pub fn new(data: TenantData) -> Self {
        Self(Arc::new(data))
    }
}

#[async_trait]
impl TenantDataResolver for OneDatabase {
    async fn tenant_data(&self, _tenant: &Tenant) -> Result<Arc<TenantData>, MetadataError> {
        Ok(self.0.clone())
    }
}
