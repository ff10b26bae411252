use std::sync::Arc;

use coffer_domain::{
    BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, LimitOverrides,
    LogicalPath, Metadata, ObjectKey, Plan, Principal, Region, Role, Subject, Tenant, TenantId,
    TenantSlug, TenantStatus, UserId, Visibility,
};
use coffer_ports::{
    Clock, MetadataError, MetadataErrorKind, MetadataPorts, MockAuditLog, MockBillingLedger,
    MockEventOutbox, MockFileCatalog, MockGrants, MockIdentityProvider, MockIntegrity,
    MockJobLocks, MockMembers, MockMetadataReadiness, MockObjectStore, MockOnboardingQueue,
    MockTenantDataResolver, MockTenantDatabases, MockTenantRegistry, MockTenantSettings,
    OneDatabase, PresignedRequest, StoreError, StoreErrorKind, StoredFile, TenantData,
    TenantDataResolver, TenantDatabases,
};
use coffer_service::{Caller, Coffer, ErrorKind, RequestMeta, ServiceConfig, ServiceError};
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

/// The mocked ports of one test, one mock per port; set expectations on
/// the ports the use case uses, then `build`.
pub struct Fx {
    pub registry: MockTenantRegistry,
    pub settings: MockTenantSettings,
    pub onboarding: MockOnboardingQueue,
    pub billing: MockBillingLedger,
    pub jobs: MockJobLocks,
    pub readiness: MockMetadataReadiness,
    /// The tenant data ports: every tenant's in one database, unless
    /// `resolver` says otherwise.
    pub files: MockFileCatalog,
    pub members: MockMembers,
    pub grants: MockGrants,
    pub audit: MockAuditLog,
    pub integrity: MockIntegrity,
    pub events: MockEventOutbox,
    /// Dedicated databases; `None` (the default) is a deployment without.
    pub databases: Option<MockTenantDatabases>,
    /// Where tenants' data is, instead of one database of the mocks above.
    pub resolver: Option<MockTenantDataResolver>,
    /// How often the tenant data of the mocks above must be resolved
    /// (any number of times when `None`).
    pub resolutions: Option<usize>,
    pub store: MockObjectStore,
    pub identity: MockIdentityProvider,
    pub config: ServiceConfig,
    /// Regions with an object store of their own.
    pub regions: Vec<(Region, MockObjectStore)>,
}

impl Fx {
    pub fn new() -> Self {
        Self {
            registry: MockTenantRegistry::new(),
            settings: MockTenantSettings::new(),
            onboarding: MockOnboardingQueue::new(),
            billing: MockBillingLedger::new(),
            jobs: MockJobLocks::new(),
            readiness: MockMetadataReadiness::new(),
            files: MockFileCatalog::new(),
            members: MockMembers::new(),
            grants: MockGrants::new(),
            audit: MockAuditLog::new(),
            integrity: MockIntegrity::new(),
            events: MockEventOutbox::new(),
            databases: None,
            resolver: None,
            resolutions: None,
            store: MockObjectStore::new(),
            identity: MockIdentityProvider::new(),
            config: ServiceConfig::new(BucketName::new("coffer-test").unwrap()),
            regions: Vec::new(),
        }
    }

    pub fn build(mut self) -> Coffer {
        // A tenant without settings or flags, unless the test said otherwise
        // (mockall tries expectations in the order they were set).
        self.settings
            .expect_list_settings()
            .returning(|_| Ok(vec![]));
        self.settings
            .expect_list_features()
            .returning(|_| Ok(vec![]));
        let data = TenantData {
            files: Arc::new(self.files),
            members: Arc::new(self.members),
            grants: Arc::new(self.grants),
            audit: Arc::new(self.audit),
            integrity: Arc::new(self.integrity),
            events: Arc::new(self.events),
        };
        let tenant_data: Arc<dyn TenantDataResolver> = match (self.resolver, self.resolutions) {
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
        };
        let ports = MetadataPorts {
            registry: Arc::new(self.registry),
            settings: Arc::new(self.settings),
            onboarding: Arc::new(self.onboarding),
            billing: Arc::new(self.billing),
            jobs: Arc::new(self.jobs),
            tenant_data,
            databases: self
                .databases
                .map(|d| Arc::new(d) as Arc<dyn TenantDatabases>),
            readiness: Arc::new(self.readiness),
        };
        let coffer = Coffer::new(
            ports,
            Arc::new(self.store),
            Arc::new(self.identity),
            Arc::new(FixedClock(now())),
            self.config,
        );
        self.regions
            .into_iter()
            .fold(coffer, |coffer, (region, store)| {
                coffer.with_region_store(region, Arc::new(store))
            })
    }

    /// Audit appends succeed (and are otherwise not the test's subject).
    pub fn audit_ok(&mut self) {
        self.audit.expect_append_audit().returning(|_, _| Ok(()));
    }

    /// `begin_erase` of any of `files` succeeds, answering the file.
    pub fn marks_for_erase(&mut self, files: &[FileRecord]) {
        let files = files.to_vec();
        self.integrity
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
    pub fn no_unfinished_erases(&mut self) {
        self.integrity
            .expect_list_file_objects()
            .returning(|_, _| Ok(vec![]));
    }

    pub fn serves_file(&mut self, file: &FileRecord) {
        let stored = StoredFile {
            file: file.clone(),
            grants: vec![],
        };
        self.files.expect_get_file().returning(move |scope, id| {
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
        limit_overrides: LimitOverrides::default(),
        created_at: now(),
        suspended_at: None,
        cancelled_at: None,
        purge_after: None,
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
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
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
