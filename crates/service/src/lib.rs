//! Coffer's use cases, written against the ports only.
//!
//! The use cases come in groups, each a struct holding only the ports it
//! uses ([`Files`], [`Tenants`], [`Sweeper`] …); [`Coffer`] builds them all
//! over one set of ports and hands them out. Every tenant use case takes a
//! [`Caller`] (an authenticated principal and its resolved tenant) and
//! works inside that tenant's [`coffer_ports::TenantScope`]; access is
//! decided by [`coffer_domain::decide`], and another tenant's file is
//! always "not found".

mod audit;
mod billing;
mod caches;
mod caller;
mod config;
mod credentials;
mod dedicated;
mod effective_config;
mod erase;
mod error;
mod events;
mod files;
mod grants;
mod links;
mod moves;
mod onboarding;
mod operations;
mod platform;
mod purge;
mod reconcile;
mod recorder;
mod scanning;
mod settings;
mod sniff;
mod stores;
mod stream;
mod sweep;
mod tenants;
mod upload_requests;

use std::sync::Arc;

use coffer_domain::Region;
use coffer_ports::{
    Clock, CredentialIssuer, IdentityProvider, MetadataPorts, ObjectStore, Scanner, WebhookSender,
};

pub use audit::{Audit, ChainFault, ChainSummary, ExportedEntry};
pub use billing::{
    BILLING_ACTOR, BILLING_SETTING, Billing, BillingOutcome, BillingReceipt, BillingWebhook,
};
pub use caches::TenantCaches;
pub use caller::{Authentication, Caller, RequestMeta};
pub use config::{
    CredentialsPolicy, DedicatedPolicy, PlanDefaults, PlanDurations, ScanningPolicy, ServiceConfig,
};
pub use credentials::{
    CredentialAccess, Credentials, CredentialsRequest, IssuedCredentials, MIN_CREDENTIAL_TTL,
};
pub use effective_config::EffectiveConfigs;
pub use error::{ErrorKind, ServiceError, page_limit};
pub use events::{DeliveryPolicy, DispatchReport, Events, Webhook};
pub use files::{
    Files, HoldRequest, InitiateUpload, InitiateVersion, InitiatedUpload, ListFiles,
    MAX_SESSION_ENTRIES, MultipartUpload, NewFileFields, PartRequest, PresignedPart, ReceivedParts,
    RefusedEntry, RetentionChange, SessionEntry, SessionRegistration, StreamUpload, UpdateFile,
    UploadTarget,
};
pub use grants::{AddGrant, Sharing};
pub use links::{CreateLink, CreatedLink, LinkRefusal, LinkSharing, OpenedLink, PasswordProblem};
pub use moves::{MoveTenant, Mover};
pub use onboarding::{CreateTenant, Onboarder};
pub use operations::Operations;
pub use platform::{Platform, PlatformMetrics};
pub use purge::Purge;
pub use reconcile::{ReconcileReport, Reconciler};
pub use scanning::{ScanReport, Scanning};
pub use settings::{EffectiveConfigView, FeatureView, SetFeature, SettingView, Settings};
pub use stores::Stores;
pub use sweep::{SweepReport, Sweeper};
pub use tenants::{TenantUpdate, TenantView, Tenants};
pub use upload_requests::{
    CreatedRequest, OpenedRequest, REQUEST_MARKER, RequestRefusal, UploadRequesting, VisitorUpload,
};

/// The ports, caches and configuration the groups are built from, kept so
/// that a store or sender added after [`Coffer::new`] reaches every group
/// that uses it.
#[derive(Clone)]
struct Parts {
    meta: MetadataPorts,
    stores: Arc<Stores>,
    identity: Arc<dyn IdentityProvider>,
    webhooks: Arc<dyn WebhookSender>,
    /// The malware scanner, where the deployment has one.
    scanner: Option<Arc<dyn Scanner>>,
    /// One instance for every group: a change made through one drops what
    /// the others cached.
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
}

/// The composition root: every group of use cases, built over one set of
/// ports.
#[derive(Clone)]
pub struct Coffer {
    parts: Parts,
    authentication: Authentication,
    files: Files,
    credentials: Credentials,
    sharing: Sharing,
    links: LinkSharing,
    upload_requests: UploadRequesting,
    audit: Audit,
    tenants: Tenants,
    settings: Settings,
    onboarder: Onboarder,
    mover: Mover,
    billing: Billing,
    events: Events,
    sweeper: Sweeper,
    reconciler: Reconciler,
    platform: Platform,
    operations: Operations,
    scanning: Option<Scanning>,
}

impl std::fmt::Debug for Coffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coffer")
            .field("config", &self.parts.config)
            .finish_non_exhaustive()
    }
}

/// Ports are trait objects without `Debug`: a group shows its name.
macro_rules! debug_by_name {
    ($($group:ident),* $(,)?) => {
        $(impl std::fmt::Debug for $group {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($group)).finish_non_exhaustive()
            }
        })*
    };
}

debug_by_name!(
    Authentication,
    Scanning,
    Files,
    Credentials,
    Sharing,
    LinkSharing,
    UploadRequesting,
    Audit,
    Tenants,
    Settings,
    Onboarder,
    Billing,
    Events,
    Sweeper,
    Purge,
    Reconciler,
    Platform,
    Operations,
    EffectiveConfigs,
);

impl Coffer {
    pub fn new(
        meta: MetadataPorts,
        store: Arc<dyn ObjectStore>,
        identity: Arc<dyn IdentityProvider>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Self {
        Self::assemble(Parts {
            meta,
            stores: Arc::new(Stores::new(store)),
            identity,
            webhooks: Arc::new(events::NoSender),
            scanner: None,
            caches: Arc::new(TenantCaches::new(config.tenant_cache_ttl)),
            clock,
            config: Arc::new(config),
        })
    }

    /// Give tenants of `region` an object store of their own (an endpoint
    /// in that region). The region needs a bucket in
    /// [`ServiceConfig::placement`] too, or its tenants' objects would be
    /// named after buckets of the default store.
    #[must_use]
    pub fn with_region_store(self, region: Region, store: Arc<dyn ObjectStore>) -> Self {
        let mut parts = self.parts;
        parts.stores = Arc::new((*parts.stores).clone().with_region(region, store));
        Self::assemble(parts)
    }

    /// Deliver events with `sender` (the server's HTTP client).
    /// Let the store of `region` (`None`: the default store) issue
    /// temporary credentials (`POST /api/v1/credentials`).
    #[must_use]
    pub fn with_credential_issuer(
        self,
        region: Option<Region>,
        issuer: Arc<dyn CredentialIssuer>,
    ) -> Self {
        let mut parts = self.parts;
        parts.stores = Arc::new((*parts.stores).clone().with_issuer(region, issuer));
        Self::assemble(parts)
    }

    #[must_use]
    pub fn with_webhook_sender(self, sender: Arc<dyn WebhookSender>) -> Self {
        let mut parts = self.parts;
        parts.webhooks = sender;
        Self::assemble(parts)
    }

    /// Scan uploads with `scanner` (docs/scanning.md): tenants whose
    /// uploads are scanned get `scanning` files until its verdict.
    #[must_use]
    pub fn with_scanner(self, scanner: Arc<dyn Scanner>) -> Self {
        let mut parts = self.parts;
        parts.scanner = Some(scanner);
        Self::assemble(parts)
    }

    fn assemble(parts: Parts) -> Self {
        let Parts {
            meta,
            stores,
            identity,
            webhooks,
            scanner,
            caches,
            clock,
            config,
        } = &parts;
        let configs = EffectiveConfigs::new(
            meta.settings.clone(),
            caches.clone(),
            clock.clone(),
            config.clone(),
        );
        let purge = Purge::new(
            meta.registry.clone(),
            meta.tenant_data.clone(),
            meta.databases.clone(),
            stores.clone(),
            caches.clone(),
            clock.clone(),
            config.clone(),
        );
        let files = Files::new(
            meta.tenant_data.clone(),
            scanner.as_ref().map(|_| meta.scans.clone()),
            meta.sessions.clone(),
            stores.clone(),
            configs.clone(),
            clock.clone(),
            config.clone(),
        );
        Self {
            upload_requests: UploadRequesting::new(
                meta.upload_requests.clone(),
                meta.registry.clone(),
                caches.clone(),
                meta.tenant_data.clone(),
                files.clone(),
                configs.clone(),
                clock.clone(),
                config.clone(),
            ),
            authentication: Authentication::new(
                identity.clone(),
                meta.registry.clone(),
                meta.tenant_data.clone(),
                caches.clone(),
            ),
            files,
            credentials: Credentials::new(
                meta.sessions.clone(),
                meta.tenant_data.clone(),
                stores.clone(),
                clock.clone(),
                config.clone(),
            ),
            sharing: Sharing::new(meta.tenant_data.clone(), clock.clone()),
            links: LinkSharing::new(
                meta.links.clone(),
                meta.registry.clone(),
                caches.clone(),
                meta.tenant_data.clone(),
                stores.clone(),
                configs.clone(),
                clock.clone(),
            ),
            audit: Audit::new(meta.tenant_data.clone(), clock.clone()),
            tenants: Tenants::new(
                meta.registry.clone(),
                meta.settings.clone(),
                meta.onboarding.clone(),
                meta.tenant_data.clone(),
                configs.clone(),
                caches.clone(),
                clock.clone(),
            ),
            settings: Settings::new(
                meta.registry.clone(),
                meta.settings.clone(),
                configs.clone(),
                caches.clone(),
                clock.clone(),
            ),
            mover: Mover::new(
                meta.registry.clone(),
                meta.moves.clone(),
                meta.databases.clone(),
                stores.clone(),
                caches.clone(),
                clock.clone(),
                config.clone(),
            ),
            onboarder: Onboarder::new(
                meta.registry.clone(),
                meta.onboarding.clone(),
                meta.tenant_data.clone(),
                meta.databases.clone(),
                stores.clone(),
                caches.clone(),
                clock.clone(),
                config.clone(),
            ),
            billing: Billing::new(
                meta.registry.clone(),
                meta.settings.clone(),
                meta.billing.clone(),
                configs.clone(),
                caches.clone(),
                clock.clone(),
            ),
            events: Events::new(
                meta.registry.clone(),
                meta.settings.clone(),
                meta.tenant_data.clone(),
                meta.undelivered.clone(),
                webhooks.clone(),
                caches.clone(),
                clock.clone(),
                config.clone(),
            ),
            sweeper: Sweeper::new(
                meta.registry.clone(),
                meta.tenant_data.clone(),
                meta.sessions.clone(),
                stores.clone(),
                purge,
                configs,
                clock.clone(),
                config.clone(),
            ),
            reconciler: Reconciler::new(
                meta.registry.clone(),
                meta.tenant_data.clone(),
                stores.clone(),
                clock.clone(),
                config.clone(),
            ),
            platform: Platform::new(meta.registry.clone(), meta.tenant_data.clone()),
            operations: Operations::new(
                meta.jobs.clone(),
                meta.readiness.clone(),
                stores.clone(),
                scanner.clone(),
            ),
            scanning: scanner.as_ref().map(|scanner| {
                Scanning::new(
                    meta.registry.clone(),
                    meta.tenant_data.clone(),
                    meta.scans.clone(),
                    stores.clone(),
                    scanner.clone(),
                    clock.clone(),
                    config.clone(),
                )
            }),
            parts,
        }
    }

    /// Token verification, tenant resolution, just-in-time users.
    pub fn authentication(&self) -> &Authentication {
        &self.authentication
    }

    /// The scan worker, where the deployment has a scanner.
    pub fn scanning(&self) -> Option<&Scanning> {
        self.scanning.as_ref()
    }

    /// Uploads, reads, changes and deletes of a tenant's files.
    pub fn files(&self) -> &Files {
        &self.files
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The grants of a file.
    pub fn sharing(&self) -> &Sharing {
        &self.sharing
    }

    /// Share links for people outside the tenant, and their public use.
    pub fn links(&self) -> &LinkSharing {
        &self.links
    }

    /// Upload requests for people outside the tenant, and their public use.
    pub fn upload_requests(&self) -> &UploadRequesting {
        &self.upload_requests
    }

    /// The tenant's audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Tenants as members and platform administrators see and change them.
    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// Tenants' settings and feature flags.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// New tenants, and the onboarding that makes them.
    pub fn onboarder(&self) -> &Onboarder {
        &self.onboarder
    }

    /// Tenants moving between placements.
    pub fn mover(&self) -> &Mover {
        &self.mover
    }

    /// Billing events.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    /// Webhooks, the event feed and its dispatcher.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The sweep (and the purge of cancelled tenants).
    pub fn sweeper(&self) -> &Sweeper {
        &self.sweeper
    }

    /// The reconciler of rows and objects.
    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
    }

    /// Platform metrics.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Readiness and job locks.
    pub fn operations(&self) -> &Operations {
        &self.operations
    }

    /// The caches every group shares; `coffer serve` keeps them in step
    /// with other instances ([`TenantCaches::follow_changes`]).
    pub fn tenant_caches(&self) -> &Arc<TenantCaches> {
        &self.parts.caches
    }

    /// Every object store, by region.
    pub fn stores(&self) -> &Stores {
        &self.parts.stores
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.parts.config
    }
}
