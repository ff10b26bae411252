//! Small fixtures shared by the PostgreSQL-specific tests. The first few
//! are the contract suite's (`coffer_contract::metadata`), kept here so
//! these tests do not depend on how that suite is built.

use coffer_domain::{
    BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, LimitOverrides,
    LogicalPath, Metadata, ObjectKey, Plan, PlanLimits, Region, Role, Subject, Tenant, TenantId,
    TenantSlug, TenantStatus, UserId, Visibility,
};
use coffer_ports::{
    FileCatalog, FileQuery, JobLock, JobLocks, Journal, Members, NewAudit, NewFile, NewTenant,
    ReadFilter, TenantRegistry, TenantScope,
};
use coffer_postgres::PgMetadataStore;
use time::OffsetDateTime;

const T0: i64 = 1_700_000_000;

/// A whole-second instant, `secs` after a fixed origin.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap()
}

/// The record a change is made with where the test does not look at it.
pub fn record() -> Journal {
    Journal::audit(NewAudit {
        actor: Subject::new("contract").unwrap(),
        action: "contract.change".to_owned(),
        file_id: None,
        detail: serde_json::json!({}),
        request_id: None,
        client_addr: None,
        at: at(-1000),
    })
}

/// An active tenant `slug`, created at `at(created)`, in the shared database.
pub fn new_tenant(slug: &str, created: i64) -> NewTenant {
    NewTenant {
        id: TenantId::new_random(),
        slug: TenantSlug::new(slug).unwrap(),
        display_name: format!("Tenant {slug}"),
        plan: Plan::Professional,
        status: TenantStatus::Active,
        region: Region::new("eu-west").unwrap(),
        dedicated_bucket: None,
        dedicated_database: None,
        limit_overrides: LimitOverrides::default(),
        created_at: at(created),
    }
}

/// Generous limits.
pub fn limits() -> PlanLimits {
    PlanLimits {
        max_file_size: 1 << 30,
        max_total_bytes: 1 << 40,
        max_files: 1_000_000,
        allowed_content_types: vec![],
        url_ttl_secs: 300,
        retention_days: 30,
    }
}

/// A listing of available files, 100 a page, no other filter.
pub fn query(filter: ReadFilter) -> FileQuery {
    FileQuery {
        filter,
        status: FileStatus::Available,
        category: None,
        path: None,
        prefix: None,
        name_contains: None,
        metadata: None,
        owner: None,
        after: None,
        limit: 100,
    }
}

/// The job lock, retried for a few seconds: PostgreSQL releases a dropped
/// guard when the server sees its connection close.
pub async fn lock_soon(store: &dyn JobLocks, job: &str) -> Option<JobLock> {
    for _ in 0..50 {
        if let Some(lock) = store.try_lock_job(job).await.unwrap() {
            return Some(lock);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

/// A tenant and its user `owner`.
pub async fn tenant(store: &PgMetadataStore, slug: &str) -> (Tenant, UserId) {
    let tenant = store
        .create_tenant(new_tenant(slug, 0), record())
        .await
        .unwrap();
    let owner = store
        .upsert_user(
            &TenantScope::new(tenant.id),
            &Subject::new("owner").unwrap(),
            &[Role::Editor],
        )
        .await
        .unwrap();
    (tenant, owner)
}

/// A pending file of `size` bytes named `name` in `/`, owned by `owner`.
pub fn new_file(tenant: &Tenant, owner: UserId, name: &str, size: u64) -> NewFile {
    let id = FileId::new_v7();
    let category = Category::default_category();
    NewFile {
        id,
        owner_id: owner,
        owner: Subject::new("owner").unwrap(),
        key: ObjectKey::for_file(tenant.id, &category, id),
        category,
        path: LogicalPath::new("/").unwrap(),
        filename: Filename::new(name).unwrap(),
        content_type: ContentType::new("application/pdf").unwrap(),
        size_bytes: size,
        checksum_sha256: None,
        visibility: Visibility::Private,
        metadata: Metadata::default(),
        bucket: BucketName::new("coffer-files").unwrap(),
        upload_expires_at: at(1 + 3600),
        created_at: at(1),
    }
}

/// A pending one-byte file.
pub async fn file(
    store: &PgMetadataStore,
    tenant: &Tenant,
    owner: UserId,
    name: &str,
) -> FileRecord {
    store
        .reserve_upload(
            &TenantScope::new(tenant.id),
            new_file(tenant, owner, name, 1),
            &limits(),
            record(),
        )
        .await
        .unwrap()
}
