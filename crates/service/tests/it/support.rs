use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use coffer_domain::{
    BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, LimitOverrides,
    LogicalPath, Metadata, ObjectKey, Plan, Principal, Region, Role, Subject, Tenant, TenantId,
    TenantSlug, TenantStatus, UserId, Visibility,
};
use coffer_ports::{
    Clock, MetadataError, MetadataErrorKind, MockAuditLog, MockBillingLedger, MockCredentialIssuer,
    MockEventOutbox, MockFileCatalog, MockFileVersions, MockGrants, MockIdentityProvider,
    MockIntegrity, MockMembers, MockObjectStore, MockOnboardingQueue, MockRecords, MockScanQueue,
    MockTenantDataResolver, MockTenantDatabases, MockTenantRegistry, MockTenantSettings,
    MockUndeliveredEvents, MockUploadSessions, MockWebhookSender, OneDatabase, PresignedRequest,
    ScanQueue, StoreError, StoreErrorKind, StoredFile, TenantData, TenantDataResolver,
    TenantDatabases, TenantSettings, Undelivered, UndeliveredEvents,
};
use coffer_service::{
    Authentication, Billing, Caller, Credentials, EffectiveConfigs, ErrorKind, Events, Files,
    LinkSharing, Onboarder, Purge, Reconciler, RequestMeta, ServiceConfig, ServiceError, Settings,
    Sharing, Stores, Sweeper, TenantCaches, Tenants, UploadRequesting,
};
use time::OffsetDateTime;

pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock(now()))
}

/// The service configuration of a test: every tenant's objects in
/// `coffer-test`, unless the test places them otherwise.
pub struct Config(pub ServiceConfig);

impl Default for Config {
    fn default() -> Self {
        Self(ServiceConfig::new(BucketName::new("coffer-test").unwrap()))
    }
}

impl Deref for Config {
    type Target = ServiceConfig;
    fn deref(&self) -> &ServiceConfig {
        &self.0
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut ServiceConfig {
        &mut self.0
    }
}

impl Config {
    fn shared(self) -> Arc<ServiceConfig> {
        Arc::new(self.0)
    }
}

/// A tenant's data whose stores expect no call: a fixture gives the stores
/// its group uses, so a use case that reaches another one fails its test.
pub fn no_data() -> TenantData {
    TenantData {
        files: Arc::new(MockFileCatalog::new()),
        members: Arc::new(MockMembers::new()),
        grants: Arc::new(MockGrants::new()),
        audit: Arc::new(MockAuditLog::new()),
        integrity: Arc::new(MockIntegrity::new()),
        events: Arc::new(MockEventOutbox::new()),
        records: Arc::new(MockRecords::new()),
        versions: Arc::new(no_versions()),
    }
}

/// A versions store of files with no version but their current one (what
/// an erase, the reconciler and a complete read); adding one is unexpected.
pub fn no_versions() -> MockFileVersions {
    let mut versions = MockFileVersions::new();
    versions
        .expect_list_versions()
        .returning(|_, _| Ok(Vec::new()));
    versions
        .expect_list_all_versions()
        .returning(|_, _, _| Ok(Vec::new()));
    versions.expect_folded_upload().returning(|_, _| Ok(None));
    versions
}

/// The outbox as the dispatcher asks it across tenants: every tenant asked
/// about has events due (the dispatcher then gives each a turn, as a store
/// with something due for everyone would) — asked in full, or, once asked
/// in full, asked what is pending.
#[derive(Default)]
pub struct AllDue(std::sync::Mutex<Vec<coffer_domain::TenantId>>);

#[async_trait::async_trait]
impl UndeliveredEvents for AllDue {
    async fn pending_events(
        &self,
        now: OffsetDateTime,
        _: OffsetDateTime,
        subscribed: Arc<dyn coffer_ports::Subscribed>,
    ) -> Result<Vec<coffer_ports::Pending>, MetadataError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|t| subscribed.subscribed(**t))
            .map(|t| coffer_ports::Pending {
                tenant: *t,
                oldest: Some(now),
                due: true,
                dead_lately: false,
            })
            .collect())
    }

    async fn undelivered_events(
        &self,
        _: OffsetDateTime,
        subscribers: &[coffer_ports::Subscriber],
    ) -> Result<Vec<Undelivered>, MetadataError> {
        let mut asked = self.0.lock().unwrap();
        asked.extend(subscribers.iter().map(|s| s.tenant));
        asked.sort();
        asked.dedup();
        Ok(subscribers
            .iter()
            .map(|s| Undelivered {
                tenant: s.tenant,
                awaiting: true,
                due: true,
                dead: false,
            })
            .collect())
    }
}

/// Every tenant's data is `data`, in one database, resolved `times` times
/// when given (any number of times when not) — or `resolver` decides.
pub fn resolver(
    data: TenantData,
    resolver: Option<MockTenantDataResolver>,
    times: Option<usize>,
) -> Arc<dyn TenantDataResolver> {
    match (resolver, times) {
        (Some(resolver), _) => Arc::new(resolver),
        (None, Some(times)) => {
            let data = Arc::new(data);
            let mut counted = MockTenantDataResolver::new();
            counted
                .expect_tenant_data()
                .times(times)
                .returning(move |_| Ok(data.clone()));
            Arc::new(counted)
        }
        (None, None) => Arc::new(OneDatabase::new(data)),
    }
}

/// The default store, and the regions with a store of their own.
pub fn stores(store: MockObjectStore, regions: Vec<(Region, MockObjectStore)>) -> Arc<Stores> {
    let stores = regions
        .into_iter()
        .fold(Stores::new(Arc::new(store)), |stores, (region, store)| {
            stores.with_region(region, Arc::new(store))
        });
    Arc::new(stores)
}

/// A feed of tenant changes that reports `self.0`, then ends.
pub struct Feed(pub Vec<coffer_ports::TenantChange>);

impl coffer_ports::TenantChanges for Feed {
    fn subscribe(&self) -> futures::stream::BoxStream<'static, coffer_ports::TenantChange> {
        Box::pin(futures::stream::iter(self.0.clone()))
    }
}

pub fn caches(config: &ServiceConfig) -> Arc<TenantCaches> {
    Arc::new(TenantCaches::new(config.tenant_cache_ttl))
}

/// A tenant without settings or flags, unless the test said otherwise
/// (mockall tries expectations in the order they were set).
pub fn unset(mut settings: MockTenantSettings) -> Arc<dyn TenantSettings> {
    settings.expect_list_settings().returning(|_| Ok(vec![]));
    settings.expect_list_features().returning(|_| Ok(vec![]));
    Arc::new(settings)
}

pub fn configs(
    settings: &Arc<dyn TenantSettings>,
    caches: &Arc<TenantCaches>,
    config: &Arc<ServiceConfig>,
) -> EffectiveConfigs {
    EffectiveConfigs::new(settings.clone(), caches.clone(), clock(), config.clone())
}

fn databases(databases: Option<MockTenantDatabases>) -> Option<Arc<dyn TenantDatabases>> {
    databases.map(|d| Arc::new(d) as Arc<dyn TenantDatabases>)
}

/// [`Authentication`]'s ports.
#[derive(Default)]
pub struct AuthFx {
    pub identity: MockIdentityProvider,
    pub registry: MockTenantRegistry,
    pub members: MockMembers,
}

impl AuthFx {
    pub fn build(self) -> Authentication {
        let data = TenantData {
            members: Arc::new(self.members),
            ..no_data()
        };
        Authentication::new(
            Arc::new(self.identity),
            Arc::new(self.registry),
            resolver(data, None, None),
            caches(&Config::default()),
        )
    }
}

/// [`Files`]' ports.
#[derive(Default)]
pub struct FilesFx {
    pub files: MockFileCatalog,
    pub audit: MockAuditLog,
    pub integrity: MockIntegrity,
    pub settings: MockTenantSettings,
    /// Where tenants' data is, instead of one database of the mocks above.
    pub resolver: Option<MockTenantDataResolver>,
    pub store: MockObjectStore,
    /// Regions with an object store of their own.
    pub regions: Vec<(Region, MockObjectStore)>,
    /// The scan queue, where the deployment scans uploads.
    pub scans: Option<MockScanQueue>,
    pub sessions: MockUploadSessions,
    /// File versions; `None` (the default): [`no_versions`].
    pub versions: Option<MockFileVersions>,
    pub config: Config,
}

impl FilesFx {
    pub fn build(self) -> Files {
        let config = self.config.shared();
        let data = TenantData {
            files: Arc::new(self.files),
            audit: Arc::new(self.audit),
            integrity: Arc::new(self.integrity),
            versions: Arc::new(self.versions.unwrap_or_else(no_versions)),
            ..no_data()
        };
        Files::new(
            resolver(data, self.resolver, None),
            self.scans
                .map(|scans| Arc::new(scans) as Arc<dyn ScanQueue>),
            Arc::new(self.sessions),
            stores(self.store, self.regions),
            configs(&unset(self.settings), &caches(&config), &config),
            clock(),
            config,
        )
    }
}

/// [`Credentials`]' ports: an issuer for the default store unless `issuer` is `None`.
#[derive(Default)]
pub struct CredentialsFx {
    pub sessions: MockUploadSessions,
    pub audit: MockAuditLog,
    pub issuer: Option<MockCredentialIssuer>,
    pub config: Config,
}

impl CredentialsFx {
    pub fn build(self) -> Credentials {
        let config = self.config.shared();
        let data = TenantData {
            audit: Arc::new(self.audit),
            ..no_data()
        };
        let mut stores = Stores::new(Arc::new(MockObjectStore::new()));
        if let Some(issuer) = self.issuer {
            stores = stores.with_issuer(None, Arc::new(issuer));
        }
        Credentials::new(
            Arc::new(self.sessions),
            resolver(data, None, None),
            Arc::new(stores),
            clock(),
            config,
        )
    }
}

/// [`Sharing`]'s ports.
#[derive(Default)]
pub struct SharingFx {
    pub files: MockFileCatalog,
    pub grants: MockGrants,
    /// Refusals are on record.
    pub audit: MockAuditLog,
}

impl SharingFx {
    pub fn build(self) -> Sharing {
        let data = TenantData {
            files: Arc::new(self.files),
            grants: Arc::new(self.grants),
            audit: Arc::new(self.audit),
            ..no_data()
        };
        Sharing::new(resolver(data, None, None), clock())
    }
}

/// [`LinkSharing`]'s ports.
#[derive(Default)]
pub struct LinksFx {
    pub links: coffer_ports::MockShareLinks,
    pub registry: MockTenantRegistry,
    pub files: MockFileCatalog,
    pub audit: MockAuditLog,
    /// Where making and revoking a link is recorded and announced.
    pub events: MockEventOutbox,
    pub store: MockObjectStore,
}

impl LinksFx {
    pub fn build(self) -> LinkSharing {
        let config = Config::default().shared();
        let data = TenantData {
            files: Arc::new(self.files),
            audit: Arc::new(self.audit),
            events: Arc::new(self.events),
            ..no_data()
        };
        let caches = caches(&config);
        LinkSharing::new(
            Arc::new(self.links),
            Arc::new(self.registry),
            caches.clone(),
            resolver(data, None, None),
            stores(self.store, vec![]),
            configs(&unset(MockTenantSettings::new()), &caches, &config),
            clock(),
        )
    }
}

/// [`UploadRequesting`]'s ports (and those of the [`Files`] it uploads with).
#[derive(Default)]
pub struct RequestsFx {
    pub requests: coffer_ports::MockUploadRequests,
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub files: MockFileCatalog,
    /// The requester's user, provisioned for the visitor's uploads.
    pub members: MockMembers,
    pub audit: MockAuditLog,
    /// Where making and closing a request is recorded.
    pub events: MockEventOutbox,
    pub store: MockObjectStore,
}

impl RequestsFx {
    pub fn build(self) -> UploadRequesting {
        let config = Config::default().shared();
        let data = TenantData {
            files: Arc::new(self.files),
            members: Arc::new(self.members),
            audit: Arc::new(self.audit),
            events: Arc::new(self.events),
            ..no_data()
        };
        let caches = caches(&config);
        let resolver = resolver(data, None, None);
        let stores = stores(self.store, vec![]);
        let configs = configs(&unset(self.settings), &caches, &config);
        let files = Files::new(
            resolver.clone(),
            None,
            Arc::new(MockUploadSessions::new()),
            stores,
            configs.clone(),
            clock(),
            config.clone(),
        );
        UploadRequesting::new(
            Arc::new(self.requests),
            Arc::new(self.registry),
            caches,
            resolver,
            files,
            configs,
            clock(),
            config,
        )
    }
}

/// [`Tenants`]' ports.
#[derive(Default)]
pub struct TenantsFx {
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub onboarding: MockOnboardingQueue,
    pub files: MockFileCatalog,
    pub config: Config,
}

impl TenantsFx {
    pub fn build(self) -> Tenants {
        let config = self.config.shared();
        let (settings, caches) = (unset(self.settings), caches(&config));
        let data = TenantData {
            files: Arc::new(self.files),
            ..no_data()
        };
        Tenants::new(
            Arc::new(self.registry),
            settings.clone(),
            Arc::new(self.onboarding),
            resolver(data, None, None),
            configs(&settings, &caches, &config),
            caches,
            clock(),
        )
    }
}

/// [`Settings`]' ports; `build_with` also answers the effective
/// configurations the group shares its cache with.
#[derive(Default)]
pub struct SettingsFx {
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub config: Config,
}

impl SettingsFx {
    pub fn build(self) -> Settings {
        self.build_with().0
    }

    pub fn build_with(self) -> (Settings, EffectiveConfigs) {
        let config = self.config.shared();
        let (settings, caches) = (unset(self.settings), caches(&config));
        let configs = configs(&settings, &caches, &config);
        let group = Settings::new(
            Arc::new(self.registry),
            settings,
            configs.clone(),
            caches,
            clock(),
        );
        (group, configs)
    }
}

/// [`Onboarder`]'s ports.
#[derive(Default)]
pub struct OnboarderFx {
    pub registry: MockTenantRegistry,
    pub onboarding: MockOnboardingQueue,
    pub members: MockMembers,
    /// Dedicated databases; `None` (the default) is a deployment without.
    pub databases: Option<MockTenantDatabases>,
    pub store: MockObjectStore,
    pub regions: Vec<(Region, MockObjectStore)>,
    pub config: Config,
}

impl OnboarderFx {
    pub fn build(self) -> Onboarder {
        let config = self.config.shared();
        let data = TenantData {
            members: Arc::new(self.members),
            ..no_data()
        };
        Onboarder::new(
            Arc::new(self.registry),
            Arc::new(self.onboarding),
            resolver(data, None, None),
            databases(self.databases),
            stores(self.store, self.regions),
            caches(&config),
            clock(),
            config,
        )
    }
}

/// [`Billing`]'s ports.
#[derive(Default)]
pub struct BillingFx {
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub billing: MockBillingLedger,
}

impl BillingFx {
    pub fn build(self) -> Billing {
        let config = Config::default().shared();
        let (settings, caches) = (unset(self.settings), caches(&config));
        Billing::new(
            Arc::new(self.registry),
            settings.clone(),
            Arc::new(self.billing),
            configs(&settings, &caches, &config),
            caches,
            clock(),
        )
    }
}

/// [`Events`]' ports.
#[derive(Default)]
pub struct EventsFx {
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub events: MockEventOutbox,
    /// Which tenants have undelivered events; every one asked about has
    /// some due when `None`.
    pub undelivered: Option<MockUndeliveredEvents>,
    /// How often the tenant data must be resolved (any number of times
    /// when `None`).
    pub resolutions: Option<usize>,
    pub sender: MockWebhookSender,
    pub config: Config,
}

impl EventsFx {
    pub fn build(self) -> Events {
        let config = self.config.shared();
        let data = TenantData {
            events: Arc::new(self.events),
            ..no_data()
        };
        Events::new(
            Arc::new(self.registry),
            Arc::new(self.settings),
            resolver(data, None, self.resolutions),
            match self.undelivered {
                Some(undelivered) => Arc::new(undelivered),
                None => Arc::new(AllDue::default()),
            },
            Arc::new(self.sender),
            caches(&config),
            clock(),
            config,
        )
    }
}

/// [`Sweeper`]'s ports, and those of the [`Purge`] it runs.
#[derive(Default)]
pub struct SweeperFx {
    pub registry: MockTenantRegistry,
    pub files: MockFileCatalog,
    pub integrity: MockIntegrity,
    pub settings: MockTenantSettings,
    /// Dedicated databases; `None` (the default) is a deployment without.
    pub databases: Option<MockTenantDatabases>,
    pub store: MockObjectStore,
    /// Upload sessions; `None` (the default): none is closed.
    pub sessions: Option<MockUploadSessions>,
    /// Records rules; `None` (the default): nothing binds a purge.
    pub records: Option<MockRecords>,
    pub config: Config,
}

impl SweeperFx {
    pub fn build(self) -> Sweeper {
        let config = self.config.shared();
        let registry = Arc::new(self.registry);
        let records = self.records.unwrap_or_else(|| {
            let mut none = MockRecords::new();
            none.expect_binding_records()
                .returning(|_, _, _| Ok(Vec::new()));
            none
        });
        let data = TenantData {
            files: Arc::new(self.files),
            integrity: Arc::new(self.integrity),
            records: Arc::new(records),
            ..no_data()
        };
        let tenant_data = resolver(data, None, None);
        let stores = stores(self.store, Vec::new());
        let caches = caches(&config);
        let purge = Purge::new(
            registry.clone(),
            tenant_data.clone(),
            databases(self.databases),
            stores.clone(),
            caches.clone(),
            clock(),
            config.clone(),
        );
        let sessions = self.sessions.unwrap_or_else(|| {
            let mut none = MockUploadSessions::new();
            none.expect_closed_sessions()
                .returning(|_, _| Ok(Vec::new()));
            none
        });
        Sweeper::new(
            registry,
            tenant_data,
            Arc::new(sessions),
            stores,
            purge,
            configs(&unset(self.settings), &caches, &config),
            clock(),
            config,
        )
    }
}

/// [`Reconciler`]'s ports.
#[derive(Default)]
pub struct ReconcilerFx {
    pub registry: MockTenantRegistry,
    pub files: MockFileCatalog,
    pub audit: MockAuditLog,
    pub integrity: MockIntegrity,
    pub store: MockObjectStore,
    pub regions: Vec<(Region, MockObjectStore)>,
    pub config: Config,
}

impl ReconcilerFx {
    pub fn build(self) -> Reconciler {
        let data = TenantData {
            files: Arc::new(self.files),
            audit: Arc::new(self.audit),
            integrity: Arc::new(self.integrity),
            ..no_data()
        };
        Reconciler::new(
            Arc::new(self.registry),
            resolver(data, None, None),
            stores(self.store, self.regions),
            clock(),
            self.config.shared(),
        )
    }
}

/// Audit appends succeed (and are otherwise not the test's subject).
pub fn audit_ok(audit: &mut MockAuditLog) {
    audit.expect_append_audit().returning(|_, _| Ok(()));
}

/// `begin_erase` of any of `files` succeeds, answering the file.
pub fn marks_for_erase(integrity: &mut MockIntegrity, files: &[FileRecord]) {
    let files = files.to_vec();
    integrity
        .expect_begin_erase()
        .returning(move |_, id, _, _| {
            files
                .iter()
                .find(|f| f.id == id)
                .cloned()
                .ok_or_else(|| meta_err(MetadataErrorKind::NotFound))
        });
}

/// No permanent delete was left unfinished.
pub fn no_unfinished_erases(integrity: &mut MockIntegrity) {
    integrity
        .expect_list_file_objects()
        .returning(|_, _| Ok(vec![]));
}

pub fn serves_file(files: &mut MockFileCatalog, file: &FileRecord) {
    let stored = StoredFile {
        file: file.clone(),
        grants: vec![],
    };
    files.expect_get_file().returning(move |scope, id| {
        if scope.tenant_id() == stored.file.tenant_id && id == stored.file.id {
            Ok(stored.clone())
        } else {
            Err(MetadataError::new(
                MetadataErrorKind::NotFound,
                "no such file",
            ))
        }
    });
}

pub fn tenant(status: TenantStatus) -> Tenant {
    Tenant {
        id: TenantId::new_random(),
        slug: TenantSlug::new("acme").unwrap(),
        display_name: "Acme".into(),
        plan: Plan::Starter,
        status,
        region: Region::new("eu-west").unwrap(),
        dedicated_bucket: None,
        dedicated_database: None,
        dedicated_schema: None,
        metadata_region: None,
        limit_overrides: LimitOverrides::default(),
        created_at: now(),
        suspended_at: None,
        cancelled_at: None,
        purge_after: None,
        writes_frozen_at: None,
    }
}

pub fn limited(overrides: LimitOverrides) -> Tenant {
    Tenant {
        limit_overrides: overrides,
        ..tenant(TenantStatus::Active)
    }
}

pub fn caller(tenant: &Tenant, sub: &str, roles: &[Role]) -> Caller {
    Caller {
        principal: Principal {
            subject: Subject::new(sub).unwrap(),
            tenant: Some(tenant.id),
            user_id: Some(UserId::new_random()),
            roles: roles.to_vec(),
        },
        tenant: Some(tenant.clone()),
        request: RequestMeta {
            request_id: Some("req-1".into()),
            client_addr: None,
        },
        acting: None,
    }
}

pub fn platform_admin() -> Caller {
    Caller {
        principal: Principal {
            subject: Subject::new("root").unwrap(),
            tenant: None,
            user_id: None,
            roles: vec![Role::PlatformAdmin],
        },
        tenant: None,
        request: RequestMeta::default(),
        acting: None,
    }
}

pub fn file(tenant: &Tenant, owner: &str, status: FileStatus) -> FileRecord {
    let id = FileId::new_v7();
    let category = Category::default_category();
    FileRecord {
        id,
        tenant_id: tenant.id,
        owner_id: UserId::new_random(),
        owner: Subject::new(owner).unwrap(),
        key: ObjectKey::for_file(tenant.id, &category, id),
        category,
        path: LogicalPath::root(),
        filename: Filename::new("Bericht März.pdf").unwrap(),
        content_type: ContentType::new("application/pdf").unwrap(),
        size_bytes: 9,
        checksum_sha256: None,
        visibility: Visibility::Private,
        metadata: Metadata::default(),
        status,
        bucket: BucketName::new("coffer-test").unwrap(),
        multipart_upload_id: None,
        upload_expires_at: Some(now() + time::Duration::hours(1)),
        scan_verdict: None,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
        retention: None,
        legal_hold: false,
        version: 1,
        version_of: None,
    }
}

pub fn presigned(method: &str) -> PresignedRequest {
    PresignedRequest {
        method: method.into(),
        url: "https://store.example/obj?sig".into(),
        headers: Default::default(),
        expires_at: now() + time::Duration::minutes(5),
    }
}

pub fn meta_err(kind: MetadataErrorKind) -> MetadataError {
    MetadataError::new(kind, "mocked")
}

pub fn store_err(kind: StoreErrorKind) -> StoreError {
    StoreError::new(kind, "mocked")
}

#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(
    result: Result<T, ServiceError>,
    kind: ErrorKind,
    code: &str,
) {
    match result {
        Err(err) => {
            assert_eq!(err.kind, kind, "{err}");
            assert_eq!(err.code.as_str(), code, "{err}");
        }
        Ok(value) => panic!("expected {kind:?}/{code}, got {value:?}"),
    }
}

/// A part to presign, without a checksum.
pub fn part(part_number: u16) -> coffer_service::PartRequest {
    coffer_service::PartRequest {
        part_number,
        checksum_sha256: None,
    }
}

/// [`coffer_service::Scanning`]'s ports.
#[derive(Default)]
pub struct ScanningFx {
    pub registry: MockTenantRegistry,
    pub files: MockFileCatalog,
    pub scans: MockScanQueue,
    pub store: MockObjectStore,
    pub scanner: coffer_ports::MockScanner,
    pub config: Config,
}

impl ScanningFx {
    pub fn build(self) -> coffer_service::Scanning {
        let data = TenantData {
            files: Arc::new(self.files),
            ..no_data()
        };
        coffer_service::Scanning::new(
            Arc::new(self.registry),
            resolver(data, None, None),
            Arc::new(self.scans),
            stores(self.store, Vec::new()),
            Arc::new(self.scanner),
            clock(),
            self.config.shared(),
        )
    }
}
