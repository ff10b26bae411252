//! Every metadata port of a deployment, as the wiring hands them to the use
//! cases; each use case takes only the ones it uses.

use std::sync::Arc;

use coffer_domain::Tenant;

use crate::{
    AuditLog, BillingLedger, EventOutbox, FileCatalog, FileVersions, Grants, Integrity, JobLocks,
    Journal, Members, MetadataError, MetadataReadiness, MoveQueue, NewTenant, OnboardingQueue,
    OneDatabase, Records, ScanQueue, ShareLinks, TenantData, TenantDataResolver, TenantDatabases,
    TenantRegistry, TenantRowCopier, TenantSettings, UndeliveredEvents, UploadRequests,
    UploadSessions,
};

/// The metadata ports of one deployment.
#[derive(Clone)]
pub struct MetadataPorts {
    pub registry: Arc<dyn TenantRegistry>,
    pub settings: Arc<dyn TenantSettings>,
    pub onboarding: Arc<dyn OnboardingQueue>,
    pub scans: Arc<dyn ScanQueue>,
    pub sessions: Arc<dyn UploadSessions>,
    pub links: Arc<dyn ShareLinks>,
    pub upload_requests: Arc<dyn UploadRequests>,
    pub billing: Arc<dyn BillingLedger>,
    pub jobs: Arc<dyn JobLocks>,
    /// Where each tenant's own data is.
    pub tenant_data: Arc<dyn TenantDataResolver>,
    /// Which tenants have undelivered events, over every database.
    pub undelivered: Arc<dyn UndeliveredEvents>,
    /// Dedicated databases, where the deployment has them (`None`: a
    /// tenant with one is refused).
    pub databases: Option<Arc<dyn TenantDatabases>>,
    /// Moving tenants between placements, where the deployment has more
    /// than one (`None`: a move is refused).
    pub moves: Option<TenantMoves>,
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
            + ScanQueue
            + UploadSessions
            + ShareLinks
            + UploadRequests
            + BillingLedger
            + JobLocks
            + MetadataReadiness
            + FileCatalog
            + Members
            + Grants
            + AuditLog
            + Integrity
            + EventOutbox
            + UndeliveredEvents
            + Records
            + FileVersions,
    {
        Self {
            registry: store.clone(),
            settings: store.clone(),
            onboarding: store.clone(),
            scans: store.clone(),
            sessions: store.clone(),
            links: store.clone(),
            upload_requests: store.clone(),
            billing: store.clone(),
            jobs: store.clone(),
            readiness: store.clone(),
            undelivered: store.clone(),
            tenant_data: Arc::new(OneDatabase::new(TenantData::in_one(store))),
            databases: None,
            moves: None,
        }
    }
}

/// The two ports a move needs: its queue in the registry and the copy of
/// rows between placements.
#[derive(Clone)]
pub struct TenantMoves {
    pub queue: Arc<dyn MoveQueue>,
    pub rows: Arc<dyn TenantRowCopier>,
}

impl std::fmt::Debug for TenantMoves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMoves").finish_non_exhaustive()
    }
}

impl MetadataPorts {
    /// Create a tenant as it is, outside onboarding (the command line, the
    /// embedded bootstrap, tests). A dedicated database exists before the
    /// registry row that names it: it is provisioned first, and dropped
    /// again when the registry refuses the row, since nothing would name it.
    ///
    /// # Errors
    /// `Conflict` when the slug (or id) is taken; `InvalidState` for a
    /// tenant with a dedicated database where the deployment has none; the
    /// errors of [`TenantDatabases::provision_database`].
    pub async fn create_tenant(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        let planned = new.planned();
        let Some(databases) = crate::databases_for(self.databases.as_deref(), &planned)? else {
            return self.registry.create_tenant(new, journal).await;
        };
        databases.provision_database(&planned).await?;
        let created = self.registry.create_tenant(new, journal).await;
        if created.is_err()
            && let Err(dropped) = databases.drop_database(&planned).await
        {
            tracing::warn!(tenant = %planned.slug, error = %dropped, "could not drop the database of a tenant not created");
        }
        created
    }
}
