//! What the cases share: whole-second times, tenants made the way the CLI
//! makes them, files, and short reads of what a case checks.

use std::collections::BTreeSet;
use std::sync::Arc;

use coffer_domain::{
    Access, BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, GrantId,
    LimitOverrides, LogicalPath, Metadata, ObjectKey, Plan, PlanLimits, Region, Role, Sha256Digest,
    Subject, Tenant, TenantId, TenantSlug, TenantStatus, UserId, Visibility,
};
use coffer_ports::{
    AuditQuery, Event, FileQuery, JobLock, JobLocks, Journal, MetadataError, MetadataErrorKind,
    MetadataPorts, NewAudit, NewEvent, NewFile, NewGrant, NewTenant, ObjectFacts, ReadFilter,
    TenantData, TenantScope,
};
use serde_json::json;
use time::OffsetDateTime;

/// The origin of [`at`], in Unix seconds.
pub(crate) const T0: i64 = 1_700_000_000;

/// The record a change is made with where the case does not look at it.
pub fn record() -> Journal {
    Journal::audit(NewAudit {
        actor: Subject::new("contract").unwrap(),
        action: "contract.change".to_owned(),
        file_id: None,
        detail: json!({}),
        request_id: None,
        client_addr: None,
        // Before every time the cases use, so they can leave it out with `since`.
        at: at(-1000),
    })
}

/// A whole-second instant, `secs` after a fixed origin.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap()
}

pub(crate) fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

pub(crate) fn scope(t: &Tenant) -> TenantScope {
    TenantScope::new(t.id)
}

/// The prefix of a database of its own for every tenant the cases create
/// (see [`dedicate_tenants`]).
static DEDICATED_PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Run the cases with every tenant in a database of its own named
/// `<prefix><id>` (for a deployment with dedicated databases: the cases
/// provision it through [`MetadataPorts::databases`] before the tenant is
/// created, see [`MetadataPorts::create_tenant`]). Process-wide; nextest runs every case in
/// a process of its own.
pub fn dedicate_tenants(prefix: &str) {
    let _ = DEDICATED_PREFIX.set(prefix.to_owned());
}

/// The prefix of a schema of its own for every tenant the cases create
/// (see [`schema_per_tenant`]).
static SCHEMA_PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Run the cases with every tenant in a schema of its own named
/// `<prefix><id>`, as [`dedicate_tenants`] does with databases.
pub fn schema_per_tenant(prefix: &str) {
    let _ = SCHEMA_PREFIX.set(prefix.to_owned());
}

/// An active tenant `slug`, created at `at(created)`.
pub fn new_tenant(slug: &str, created: i64) -> NewTenant {
    let id = TenantId::new_random();
    NewTenant {
        dedicated_database: DEDICATED_PREFIX
            .get()
            .map(|prefix| format!("{prefix}{}", id.as_uuid().simple())),
        metadata_region: None,
        dedicated_schema: SCHEMA_PREFIX
            .get()
            .map(|prefix| format!("{prefix}{}", id.as_uuid().simple())),
        id,
        slug: TenantSlug::new(slug).unwrap(),
        display_name: format!("Tenant {slug}"),
        plan: Plan::Professional,
        status: TenantStatus::Active,
        region: Region::new("eu-west").unwrap(),
        dedicated_bucket: None,
        limit_overrides: LimitOverrides::default(),
        created_at: at(created),
    }
}

/// An active tenant `slug`, created at `at(0)`.
pub(crate) async fn tenant(ports: &MetadataPorts, slug: &str) -> Tenant {
    ports
        .create_tenant(new_tenant(slug, 0), record())
        .await
        .unwrap()
}

/// The stores of `t`'s own data.
pub(crate) async fn data(ports: &MetadataPorts, t: &Tenant) -> Arc<TenantData> {
    ports.tenant_data.tenant_data(t).await.unwrap()
}

/// Generous limits, unless a case narrows them.
pub fn limits() -> PlanLimits {
    PlanLimits {
        max_file_size: 1 << 30,
        max_total_bytes: 1 << 40,
        max_files: 1_000_000,
        allowed_content_types: vec![],
        url_ttl_secs: 300,
        retention_days: 30,
        requests_per_minute: 0,
        user_requests_per_minute: 0,
    }
}

pub(crate) async fn user(ports: &MetadataPorts, t: &Tenant, sub: &str, roles: &[Role]) -> UserId {
    data(ports, t)
        .await
        .members
        .upsert_user(&scope(t), &subject(sub), roles)
        .await
        .unwrap()
}

/// A pending file of `size` bytes at `path`/`name`, created at `created`.
pub fn file(
    t: &Tenant,
    owner: (UserId, &str),
    path: &str,
    name: &str,
    size: u64,
    created: i64,
) -> NewFile {
    let id = FileId::new_v7();
    let category = Category::default_category();
    NewFile {
        id,
        owner_id: owner.0,
        owner: subject(owner.1),
        key: ObjectKey::for_file(t.id, &category, id),
        category,
        path: LogicalPath::new(path).unwrap(),
        filename: Filename::new(name).unwrap(),
        content_type: ContentType::new("application/pdf").unwrap(),
        size_bytes: size,
        checksum_sha256: None,
        visibility: Visibility::Private,
        metadata: Metadata::default(),
        bucket: BucketName::new("coffer-files").unwrap(),
        upload_expires_at: at(created + 3600),
        created_at: at(created),
        version_of: None,
    }
}

/// What a complete of `file` verified; its bytes stay at `file.key`.
pub(crate) fn facts(file: &FileRecord, size: u64, secs: i64) -> ObjectFacts {
    ObjectFacts {
        key: file.key.clone(),
        size_bytes: size,
        checksum_sha256: Some(Sha256Digest::from_bytes([7; 32])),
        content_type: ContentType::new("application/pdf").unwrap(),
        at: at(secs),
        awaits_scan: false,
        retention: None,
    }
}

pub(crate) async fn reserve(ports: &MetadataPorts, t: &Tenant, f: NewFile) -> FileRecord {
    data(ports, t)
        .await
        .files
        .reserve_upload(&scope(t), f, &limits(), record())
        .await
        .unwrap()
}

/// Reserve and complete: an `available` file.
pub(crate) async fn available(ports: &MetadataPorts, t: &Tenant, f: NewFile) -> FileRecord {
    let size = f.size_bytes;
    let created = f.created_at.unix_timestamp() - T0;
    let rec = reserve(ports, t, f).await;
    data(ports, t)
        .await
        .files
        .mark_available(&scope(t), rec.id, facts(&rec, size, created + 1), record())
        .await
        .unwrap()
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
        filename: None,
        metadata: None,
        owner: None,
        after: None,
        limit: 100,
    }
}

/// The filenames `q` lists in `t`.
pub(crate) async fn names(ports: &MetadataPorts, t: &Tenant, q: &FileQuery) -> BTreeSet<String> {
    data(ports, t)
        .await
        .files
        .list_files(&scope(t), q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|f| f.filename.to_string())
        .collect()
}

pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[track_caller]
pub(crate) fn assert_kind<T: std::fmt::Debug>(
    result: Result<T, MetadataError>,
    kind: MetadataErrorKind,
    what: &str,
) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        Ok(v) => panic!("{what}: expected {kind}, got Ok({v:?})"),
    }
}

pub(crate) fn grant(file: FileId, to: &str, access: Access, expires: Option<i64>) -> NewGrant {
    NewGrant {
        id: GrantId::new_random(),
        file_id: file,
        subject: to.parse().unwrap(),
        access,
        expires_at: expires.map(at),
        created_by: subject("alice"),
        created_at: at(100),
    }
}

/// A change's record: an audit entry, and an event when `announced`.
pub(crate) fn change(action: &str, file: Option<FileId>, secs: i64, announced: bool) -> Journal {
    let audit = NewAudit {
        actor: subject("alice"),
        action: action.to_owned(),
        file_id: file,
        detail: json!({ "at": secs }),
        request_id: Some(format!("req-{secs}")),
        client_addr: None,
        at: at(secs),
    };
    if announced {
        Journal::announced(
            audit,
            NewEvent {
                id: uuid::Uuid::now_v7(),
                kind: action.to_owned(),
                data: json!({ "n": secs }),
            },
        )
    } else {
        Journal::audit(audit)
    }
}

/// A change the platform makes, recorded as `action` at `secs`.
pub(crate) fn named(action: &str, secs: i64) -> Journal {
    Journal::audit(NewAudit {
        actor: subject("system:coffer"),
        action: action.to_owned(),
        file_id: None,
        detail: json!({}),
        request_id: None,
        client_addr: None,
        at: at(secs),
    })
}

/// How many entries of `action` the audit log of `t` has.
pub(crate) async fn audited(ports: &MetadataPorts, t: &Tenant, action: &str) -> usize {
    let q = AuditQuery {
        actor: None,
        action: Some(action.to_owned()),
        file_id: None,
        since: None,
        until: None,
        after: None,
        limit: 1000,
        oldest_first: true,
    };
    data(ports, t)
        .await
        .audit
        .list_audit(&scope(t), &q)
        .await
        .unwrap()
        .items
        .len()
}

/// Every settled event of `t`, oldest first.
pub(crate) async fn events(ports: &MetadataPorts, t: &Tenant) -> Vec<Event> {
    data(ports, t)
        .await
        .events
        .list_events(&scope(t), None, at(10_000), 1000)
        .await
        .unwrap()
        .items
}

/// The job lock, retried for a few seconds: a store may release a dropped
/// guard asynchronously (PostgreSQL: when the server sees its connection close).
pub async fn lock_soon<J: JobLocks + ?Sized>(jobs: &J, job: &str) -> Option<JobLock> {
    for _ in 0..50 {
        if let Some(lock) = jobs.try_lock_job(job).await.unwrap() {
            return Some(lock);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}
