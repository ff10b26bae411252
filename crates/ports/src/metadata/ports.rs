//! Every metadata port of a deployment, as the wiring hands them to the use
//! cases; each use case takes only the ones it uses.

use std::sync::Arc;

use crate::{
    AuditLog, BillingLedger, EventOutbox, FileCatalog, Grants, Integrity, JobLocks, Members,
    MetadataReadiness, OnboardingQueue, OneDatabase, TenantData, TenantDataResolver,
    TenantDatabases, TenantRegistry, TenantSettings,
};

/// The metadata ports of one deployment.
#[derive(Clone)]
pub struct MetadataPorts {
    pub registry: Arc<dyn TenantRegistry>,
    pub settings: Arc<dyn TenantSettings>,
    pub onboarding: Arc<dyn OnboardingQueue>,
    pub billing: Arc<dyn BillingLedger>,
    pub jobs: Arc<dyn JobLocks>,
    /// Where each tenant's own data is.
    pub tenant_data: Arc<dyn TenantDataResolver>,
    /// Dedicated databases, where the deployment has them (`None`: a
    /// tenant with one is refused).
    pub databases: Option<Arc<dyn TenantDatabases>>,
    pub readiness: Arc<dyn MetadataReadiness>,
}

impl std::fmt::Debug for MetadataPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataPorts")
            .field("databases", &self.databases.is_some())
            .finish_non_exhaustive()
    }
}

impl MetadataPorts {
    /// Every port from one adapter that keeps all tenants in one database.
    pub fn in_one<S>(store: Arc<S>) -> Self
    where
        S: TenantRegistry
            + TenantSettings
            + OnboardingQueue
            + BillingLedger
            + JobLocks
            + MetadataReadiness
            + FileCatalog
            + Members
            + Grants
            + AuditLog
            + Integrity
            + EventOutbox,
    {
        Self {
            registry: store.clone(),
            settings: store.clone(),
            onboarding: store.clone(),
            billing: store.clone(),
            jobs: store.clone(),
            readiness: store.clone(),
            tenant_data: Arc::new(OneDatabase::new(TenantData::in_one(store))),
            databases: None,
        }
    }
}
