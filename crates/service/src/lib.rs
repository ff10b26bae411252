//! Coffer's use cases, written against the ports only.
//!
//! [`Coffer`] holds the ports as `Arc<dyn …>` and offers one method per use
//! case. Every tenant use case takes a [`Caller`] (an authenticated principal
//! and its resolved tenant) and works inside that tenant's
//! [`coffer_ports::TenantScope`]; access is decided by
//! [`coffer_domain::decide`], and another tenant's file is always "not found".

mod audit;
mod billing;
mod caller;
mod config;
mod dedicated;
mod erase;
mod error;
mod events;
mod files;
mod grants;
mod onboarding;
mod platform;
mod purge;
mod reconcile;
mod settings;
mod sniff;
mod stores;
mod stream;
mod sweep;
mod tenants;

use std::sync::Arc;

use coffer_domain::Region;
use coffer_ports::{
    BillingLedger, Clock, IdentityProvider, JobLock, JobLocks, MetadataPorts, MetadataReadiness,
    ObjectStore, OnboardingQueue, TenantDataResolver, TenantDatabases, TenantRegistry,
    TenantSettings, WebhookSender,
};

pub use billing::{BILLING_ACTOR, BILLING_SETTING, BillingOutcome, BillingReceipt, BillingWebhook};
pub use caller::{Caller, RequestMeta};
pub use config::{DedicatedDatabasePolicy, PlanDefaults, ServiceConfig};
pub use error::{ErrorKind, ServiceError};
pub use events::{DeliveryPolicy, DispatchReport, Webhook};
pub use files::{
    InitiateUpload, InitiatedUpload, ListFiles, MultipartUpload, NewFileFields, PartRequest,
    PresignedPart, ReceivedParts, StreamUpload, UpdateFile, UploadTarget,
};
pub use grants::AddGrant;
pub use platform::PlatformMetrics;
pub use reconcile::ReconcileReport;
pub use settings::{EffectiveConfigView, FeatureView, SetFeature, SettingView};
pub use stores::Stores;
pub use sweep::SweepReport;
pub use tenants::{CreateTenant, TenantUpdate, TenantView};

/// The application: every use case over the ports it needs. The metadata
/// ports are kept apart, so that each use case names the ones it uses.
#[derive(Clone)]
pub struct Coffer {
    registry: Arc<dyn TenantRegistry>,
    settings: Arc<dyn TenantSettings>,
    onboarding: Arc<dyn OnboardingQueue>,
    billing: Arc<dyn BillingLedger>,
    jobs: Arc<dyn JobLocks>,
    /// Where each tenant's own data is: asked once per use case (per
    /// tenant, in the jobs that go over tenants).
    tenant_data: Arc<dyn TenantDataResolver>,
    /// Dedicated databases, where the deployment has them.
    databases: Option<Arc<dyn TenantDatabases>>,
    readiness: Arc<dyn MetadataReadiness>,
    stores: Arc<Stores>,
    identity: Arc<dyn IdentityProvider>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    caches: Arc<caller::Caches>,
    webhooks: Arc<dyn WebhookSender>,
}

impl std::fmt::Debug for Coffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coffer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Coffer {
    pub fn new(
        meta: MetadataPorts,
        store: Arc<dyn ObjectStore>,
        identity: Arc<dyn IdentityProvider>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Self {
        let MetadataPorts {
            registry,
            settings,
            onboarding,
            billing,
            jobs,
            tenant_data,
            databases,
            readiness,
        } = meta;
        let caches = Arc::new(caller::Caches::new(config.tenant_cache_ttl));
        Self {
            registry,
            settings,
            onboarding,
            billing,
            jobs,
            tenant_data,
            databases,
            readiness,
            stores: Arc::new(Stores::new(store)),
            identity,
            clock,
            config: Arc::new(config),
            caches,
            webhooks: Arc::new(events::NoSender),
        }
    }

    /// Give tenants of `region` an object store of their own (an endpoint
    /// in that region). The region needs a bucket in
    /// [`ServiceConfig::placement`] too, or its tenants' objects would be
    /// named after buckets of the default store.
    #[must_use]
    pub fn with_region_store(mut self, region: Region, store: Arc<dyn ObjectStore>) -> Self {
        let stores = (*self.stores).clone().with_region(region, store);
        self.stores = Arc::new(stores);
        self
    }

    /// Every object store, by region.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The store of `tenant`'s objects.
    pub(crate) fn store_of(&self, tenant: &coffer_domain::Tenant) -> &dyn ObjectStore {
        self.stores.for_tenant(tenant).as_ref()
    }

    /// Every bucket of its store `tenant`'s objects may be in. A region
    /// with a store of its own has only ever held its region's bucket (or
    /// the tenant's dedicated one) there: the category and default buckets
    /// belong to the default store, and asking another endpoint about them
    /// fails where bucket names are global (AWS answers with a redirect or
    /// `AccessDenied`), which would stop every repair of the tenant.
    pub(crate) fn buckets_of(
        &self,
        tenant: &coffer_domain::Tenant,
    ) -> std::collections::BTreeSet<coffer_domain::BucketName> {
        if self.stores.has_own_store(&tenant.region) {
            self.config.placement.tenant_buckets(tenant)
        } else {
            self.config.placement.buckets_for(tenant)
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Whether the metadata store and every object store answer.
    ///
    /// # Errors
    /// The first dependency that does not answer, as `Unavailable`.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        self.readiness.check_ready().await?;
        self.stores.check_ready().await?;
        Ok(())
    }

    /// Claim the background job `job` (the sweep, the reconciler) for this
    /// process, so that one instance runs it at a time: `None` while
    /// another holder has it; the claim lasts until the guard is dropped.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    pub async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, ServiceError> {
        Ok(self.jobs.try_lock_job(job).await?)
    }
}
