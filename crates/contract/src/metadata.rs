//! MetadataStore contract suite.
//!
//! Every case is a `pub async fn` taking a fresh, empty store and panicking
//! when the store breaks the contract of [`MetadataStore`]. An adapter runs
//! them all with one line in its integration tests:
//!
//! ```ignore
//! coffer_contract::metadata_store_contract!(async {
//!     let db = TestDb::new().await;                 // whatever the adapter needs
//!     let store: Arc<dyn MetadataStore> = Arc::new(db.store(4).unwrap());
//!     (store, db)                                   // `db` lives until the case ends
//! });
//! ```
//!
//! The factory yields the store and a guard that is kept alive for the
//! duration of the case (a test database to drop, a temporary directory…).
//! Times are whole seconds, so every store round-trips them exactly.

// The suite is test code compiled as a library: a failed expectation must
// panic, with the case's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

pub use coffer_ports::MetadataStore;

use coffer_domain::{
    Access, BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, GrantId,
    GrantSubject, LimitOverrides, LogicalPath, Metadata, ObjectKey, OnboardingRequest,
    OnboardingState, OnboardingStep, PageCursor, Plan, PlanLimits, Principal, Region, Role,
    Sha256Digest, Subject, Tenant, TenantId, TenantSlug, TenantStatus, Usage, UserId, Visibility,
    effective_access,
};
use coffer_ports::{
    AuditQuery, BillingChange, BillingEffect, BillingRecorded, FileObjectQuery, FilePatch,
    FileQuery, Journal, MetadataErrorKind, NewAudit, NewBillingEvent, NewFile, NewGrant,
    NewOnboarding, NewTenant, ObjectFacts, OnboardingUpdate, ReadFilter, TenantPatch, TenantScope,
};
use serde_json::json;
use time::OffsetDateTime;

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

/// Expands to one `#[tokio::test]` per contract case. `$factory` is an
/// expression evaluating to a future of `(Arc<dyn MetadataStore>, guard)`;
/// it is evaluated afresh for every case.
#[macro_export]
macro_rules! metadata_store_contract {
    ($factory:expr) => {
        $crate::metadata_store_contract!(@cases $factory;
            tenants_create_read_update,
            tenants_conflict_and_not_found,
            tenants_list_oldest_first_in_pages,
            users_upsert_is_idempotent,
            reserve_records_pending_file_and_reservation,
            other_tenants_files_are_not_found,
            duplicate_live_path_conflicts,
            quota_is_enforced_with_reservations,
            concurrent_reservations_admit_exactly_what_fits,
            mark_available_commits_usage_once,
            multipart_upload_id_only_while_pending,
            update_file_changes_and_conflicts,
            trash_and_restore_transitions,
            remove_file_releases_usage_and_grants,
            grants_replace_list_delete,
            list_files_filters,
            list_files_pages_newest_first,
            list_files_read_filter_matches_effective_access,
            audit_append_and_list,
            changes_are_recorded_exactly_when_they_happen,
            events_are_claimed_leased_and_settled,
            settings_are_set_read_and_cleared,
            webhooks_are_listed_across_tenants,
            billing_events_are_recorded_once_with_their_effect,
            billing_events_for_a_missing_tenant_record_nothing,
            concurrent_billing_events_with_one_id_apply_once,
            billing_events_older_than_their_stream_change_nothing,
            racing_billing_events_end_at_the_latest,
            settings_are_listed_per_tenant_in_key_order,
            features_are_set_read_listed_and_cleared,
            erase_marks_hide_a_file_until_it_is_removed,
            file_objects_list_every_row_by_id,
            object_missing_is_marked_once,
            job_locks_admit_one_holder_per_job,
            onboarding_is_queued_claimed_once_and_finished,
            failed_onboarding_is_requeued_and_reclaimed,
            remove_user_is_idempotent_and_spares_owners,
            purge_removes_only_a_cancelled_tenant,
            check_ready_answers,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $factory.await;
                let store: ::std::sync::Arc<dyn $crate::metadata::MetadataStore> = store;
                $crate::metadata::$case(store).await;
            }
        )+
    };
}

type Store = Arc<dyn MetadataStore>;

// ---------------------------------------------------------------- fixtures

const T0: i64 = 1_700_000_000;

/// A whole-second instant, `secs` after a fixed origin.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap()
}

fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

fn scope(t: &Tenant) -> TenantScope {
    TenantScope::new(t.id)
}

/// The prefix of a database of its own for every tenant the cases create
/// (see [`dedicate_tenants`]).
static DEDICATED_PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Run the cases with every tenant in a database of its own named
/// `<prefix><id>` (for a store with dedicated databases: it must make the
/// database when the tenant is created). Process-wide; nextest runs every
/// case in a process of its own.
pub fn dedicate_tenants(prefix: &str) {
    let _ = DEDICATED_PREFIX.set(prefix.to_owned());
}

/// An active tenant `slug`, created at `at(created)`.
pub fn new_tenant(slug: &str, created: i64) -> NewTenant {
    let id = TenantId::new_random();
    NewTenant {
        dedicated_database: DEDICATED_PREFIX
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

async fn tenant(store: &Store, slug: &str) -> Tenant {
    store
        .create_tenant(new_tenant(slug, 0), record())
        .await
        .unwrap()
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
    }
}

async fn user(store: &Store, t: &Tenant, sub: &str, roles: &[Role]) -> UserId {
    store
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
    }
}

fn facts(size: u64, secs: i64) -> ObjectFacts {
    ObjectFacts {
        size_bytes: size,
        checksum_sha256: Some(Sha256Digest::from_bytes([7; 32])),
        content_type: ContentType::new("application/pdf").unwrap(),
        at: at(secs),
    }
}

async fn reserve(store: &Store, t: &Tenant, f: NewFile) -> FileRecord {
    store
        .reserve_upload(&scope(t), f, &limits(), record())
        .await
        .unwrap()
}

/// Reserve and complete: an `available` file.
async fn available(store: &Store, t: &Tenant, f: NewFile) -> FileRecord {
    let size = f.size_bytes;
    let created = f.created_at.unix_timestamp() - T0;
    let rec = reserve(store, t, f).await;
    store
        .mark_available(&scope(t), rec.id, facts(size, created + 1), record())
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
        metadata: None,
        owner: None,
        after: None,
        limit: 100,
    }
}

async fn names(store: &Store, t: &Tenant, q: &FileQuery) -> BTreeSet<String> {
    store
        .list_files(&scope(t), q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|f| f.filename.to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(
    result: Result<T, coffer_ports::MetadataError>,
    kind: MetadataErrorKind,
    what: &str,
) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        Ok(v) => panic!("{what}: expected {kind}, got Ok({v:?})"),
    }
}

// ------------------------------------------------------------------ tenants

pub async fn tenants_create_read_update(store: Store) {
    let mut new = new_tenant("acme", 5);
    new.dedicated_bucket = Some("acme-bucket".into());
    new.limit_overrides.max_files = Some(10);
    let created = store.create_tenant(new.clone(), record()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.slug, new.slug);
    assert_eq!(created.display_name, "Tenant acme");
    assert_eq!(created.plan, Plan::Professional);
    assert_eq!(created.status, TenantStatus::Active);
    assert_eq!(created.region.as_str(), "eu-west");
    assert_eq!(created.dedicated_bucket.as_deref(), Some("acme-bucket"));
    assert_eq!(created.limit_overrides.max_files, Some(10));
    assert_eq!(created.created_at, at(5));
    assert_eq!(created.suspended_at, None);

    assert_eq!(store.get_tenant(new.id).await.unwrap(), created);
    assert_eq!(store.find_tenant_by_slug(&new.slug).await.unwrap(), created);

    let patch = TenantPatch {
        display_name: Some("Acme Corp".into()),
        plan: Some(Plan::Enterprise),
        status: Some(TenantStatus::Suspended),
        suspended_at: Some(Some(at(50))),
        dedicated_bucket: Some(None),
        limit_overrides: Some(LimitOverrides {
            max_total_bytes: Some(99),
            ..LimitOverrides::default()
        }),
        ..TenantPatch::default()
    };
    let updated = store.update_tenant(new.id, patch, record()).await.unwrap();
    assert_eq!(updated.display_name, "Acme Corp");
    assert_eq!(updated.plan, Plan::Enterprise);
    assert_eq!(updated.status, TenantStatus::Suspended);
    assert_eq!(updated.suspended_at, Some(at(50)));
    assert_eq!(updated.dedicated_bucket, None, "Some(None) clears");
    assert_eq!(updated.limit_overrides.max_total_bytes, Some(99));
    assert_eq!(updated.limit_overrides.max_files, None);
    assert_eq!(updated.slug, created.slug, "slugs are immutable");
    assert_eq!(store.get_tenant(new.id).await.unwrap(), updated);

    // An empty patch changes nothing.
    let same = store
        .update_tenant(new.id, TenantPatch::default(), record())
        .await
        .unwrap();
    assert_eq!(same, updated);
}

pub async fn tenants_conflict_and_not_found(store: Store) {
    tenant(&store, "acme").await;
    assert_kind(
        store.create_tenant(new_tenant("acme", 1), record()).await,
        MetadataErrorKind::Conflict,
        "duplicate slug",
    );
    let other = tenant(&store, "other").await;
    let mut same_id = new_tenant("third", 1);
    same_id.id = other.id;
    assert_kind(
        store.create_tenant(same_id, record()).await,
        MetadataErrorKind::Conflict,
        "duplicate id",
    );
    let unknown = TenantId::new_random();
    assert_kind(
        store.get_tenant(unknown).await,
        MetadataErrorKind::NotFound,
        "get unknown",
    );
    assert_kind(
        store
            .find_tenant_by_slug(&TenantSlug::new("nobody").unwrap())
            .await,
        MetadataErrorKind::NotFound,
        "find unknown slug",
    );
    assert_kind(
        store
            .update_tenant(unknown, TenantPatch::default(), record())
            .await,
        MetadataErrorKind::NotFound,
        "update unknown",
    );
}

pub async fn tenants_list_oldest_first_in_pages(store: Store) {
    let mut ids = Vec::new();
    for (i, slug) in ["t-one", "t-two", "t-three", "t-four", "t-five"]
        .iter()
        .enumerate()
    {
        let t = store
            .create_tenant(new_tenant(slug, i as i64 * 10), record())
            .await
            .unwrap();
        ids.push(t.id);
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store.list_tenants(after, 2).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(c) => after = Some(PageCursor::decode(&c).unwrap()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ids, "oldest first, every tenant once");
    assert_eq!(pages, 3);
}

pub async fn users_upsert_is_idempotent(store: Store) {
    let t = tenant(&store, "acme").await;
    let alice = user(&store, &t, "alice", &[Role::Editor]).await;
    let again = user(&store, &t, "alice", &[Role::Admin, Role::Viewer]).await;
    assert_eq!(alice, again, "same subject, same user");
    let bob = user(&store, &t, "bob", &[]).await;
    assert_ne!(alice, bob);
    // The same subject in another tenant is another user.
    let other = tenant(&store, "other").await;
    assert_ne!(user(&store, &other, "alice", &[]).await, alice);
    assert_kind(
        store
            .upsert_user(
                &TenantScope::new(TenantId::new_random()),
                &subject("ghost"),
                &[],
            )
            .await,
        MetadataErrorKind::NotFound,
        "unknown tenant",
    );
}

// -------------------------------------------------------------------- files

pub async fn reserve_records_pending_file_and_reservation(store: Store) {
    let t = tenant(&store, "acme").await;
    let owner = user(&store, &t, "alice", &[Role::Editor]).await;
    assert_eq!(store.usage(&scope(&t)).await.unwrap(), Usage::default());
    let mut new = file(&t, (owner, "alice"), "/docs", "a.pdf", 100, 1);
    new.checksum_sha256 = Some(Sha256Digest::from_bytes([1; 32]));
    new.visibility = Visibility::Tenant;
    new.metadata = Metadata::new(json!({"project": "x", "n": 1})).unwrap();
    let rec = reserve(&store, &t, new.clone()).await;
    assert_eq!(rec.id, new.id);
    assert_eq!(rec.tenant_id, t.id);
    assert_eq!(rec.owner_id, owner);
    assert_eq!(rec.owner, new.owner);
    assert_eq!(rec.status, FileStatus::Pending);
    assert_eq!(rec.path, new.path);
    assert_eq!(rec.filename, new.filename);
    assert_eq!(rec.category, new.category);
    assert_eq!(rec.content_type, new.content_type);
    assert_eq!(rec.size_bytes, 100);
    assert_eq!(rec.checksum_sha256, new.checksum_sha256);
    assert_eq!(rec.visibility, Visibility::Tenant);
    assert_eq!(rec.metadata, new.metadata);
    assert_eq!(rec.bucket, new.bucket);
    assert_eq!(rec.key, new.key);
    assert_eq!(rec.upload_expires_at, Some(at(3601)));
    assert_eq!(rec.multipart_upload_id, None);
    assert_eq!(rec.created_at, at(1));
    assert_eq!(rec.deleted_at, None);

    let stored = store.get_file(&scope(&t), rec.id).await.unwrap();
    assert_eq!(stored.file, rec);
    assert!(stored.grants.is_empty());
    assert_eq!(
        store.usage(&scope(&t)).await.unwrap(),
        Usage {
            used_bytes: 0,
            file_count: 0,
            reserved_bytes: 100,
            reserved_files: 1
        }
    );
    assert_kind(
        store.get_file(&scope(&t), FileId::new_v7()).await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn other_tenants_files_are_not_found(store: Store) {
    let a = tenant(&store, "tenant-a").await;
    let b = tenant(&store, "tenant-b").await;
    let alice = user(&store, &a, "alice", &[Role::Admin]).await;
    user(&store, &b, "bob", &[Role::Admin]).await;
    let rec = available(
        &store,
        &a,
        file(&a, (alice, "alice"), "/", "secret.pdf", 10, 1),
    )
    .await;
    let sb = scope(&b);
    let id = rec.id;
    assert_kind(
        store.get_file(&sb, id).await,
        MetadataErrorKind::NotFound,
        "get",
    );
    assert_kind(
        store
            .update_file(
                &sb,
                id,
                FilePatch {
                    visibility: Some(Visibility::Tenant),
                    ..FilePatch::default()
                },
                at(5),
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "update",
    );
    assert_kind(
        store.trash_file(&sb, id, at(5), record()).await,
        MetadataErrorKind::NotFound,
        "trash",
    );
    assert_kind(
        store.restore_file(&sb, id, at(5), record()).await,
        MetadataErrorKind::NotFound,
        "restore",
    );
    assert_kind(
        store.set_multipart_upload(&sb, id, "u1").await,
        MetadataErrorKind::NotFound,
        "multipart",
    );
    assert_kind(
        store.mark_available(&sb, id, facts(10, 5), record()).await,
        MetadataErrorKind::NotFound,
        "mark available",
    );
    assert_kind(
        store.list_grants(&sb, id).await,
        MetadataErrorKind::NotFound,
        "list grants",
    );
    assert_kind(
        store
            .put_grant(
                &sb,
                NewGrant {
                    id: GrantId::new_random(),
                    file_id: id,
                    subject: GrantSubject::User(subject("bob")),
                    access: Access::Manage,
                    expires_at: None,
                    created_by: subject("bob"),
                    created_at: at(5),
                },
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "put grant",
    );
    assert_kind(
        store.remove_file(&sb, id, Some(record())).await,
        MetadataErrorKind::NotFound,
        "remove",
    );
    let listed = store
        .list_files(&sb, &query(ReadFilter::All))
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "B lists nothing of A");
    assert_eq!(store.usage(&sb).await.unwrap(), Usage::default());
    // …and A's file is untouched.
    let still = store.get_file(&scope(&a), id).await.unwrap().file;
    assert_eq!(still, rec);
}

pub async fn duplicate_live_path_conflicts(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let first = reserve(&store, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 1)).await;
    assert_kind(
        store
            .reserve_upload(
                &scope(&t),
                file(&t, (o, "alice"), "/docs", "a.pdf", 1, 2),
                &limits(),
                record(),
            )
            .await,
        MetadataErrorKind::Conflict,
        "same path and name while pending",
    );
    // The failed reservation reserved nothing.
    assert_eq!(store.usage(&scope(&t)).await.unwrap().reserved_files, 1);
    // Another folder or another name is fine; so is another tenant.
    reserve(&store, &t, file(&t, (o, "alice"), "/other", "a.pdf", 1, 3)).await;
    reserve(&store, &t, file(&t, (o, "alice"), "/docs", "b.pdf", 1, 4)).await;
    let u = tenant(&store, "umbrella").await;
    let uo = user(&store, &u, "alice", &[Role::Editor]).await;
    reserve(&store, &u, file(&u, (uo, "alice"), "/docs", "a.pdf", 1, 5)).await;

    // Trash frees the name; restoring then conflicts with the new file.
    store
        .mark_available(&scope(&t), first.id, facts(1, 6), record())
        .await
        .unwrap();
    store
        .trash_file(&scope(&t), first.id, at(7), record())
        .await
        .unwrap();
    let second = reserve(&store, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 8)).await;
    assert_kind(
        store
            .restore_file(&scope(&t), first.id, at(9), record())
            .await,
        MetadataErrorKind::Conflict,
        "restore onto a live name",
    );
    assert_eq!(
        store
            .get_file(&scope(&t), first.id)
            .await
            .unwrap()
            .file
            .status,
        FileStatus::Deleted
    );
    store
        .remove_file(&scope(&t), second.id, Some(record()))
        .await
        .unwrap();
    let restored = store
        .restore_file(&scope(&t), first.id, at(10), record())
        .await
        .unwrap();
    assert_eq!(restored.status, FileStatus::Available);
}

pub async fn quota_is_enforced_with_reservations(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let tight = PlanLimits {
        max_total_bytes: 100,
        max_files: 3,
        ..limits()
    };
    let s = scope(&t);
    store
        .reserve_upload(
            &s,
            file(&t, (o, "alice"), "/", "a", 60, 1),
            &tight,
            record(),
        )
        .await
        .unwrap();
    assert_kind(
        store
            .reserve_upload(
                &s,
                file(&t, (o, "alice"), "/", "b", 41, 2),
                &tight,
                record(),
            )
            .await,
        MetadataErrorKind::QuotaExceeded,
        "pending bytes count against the quota",
    );
    store
        .reserve_upload(
            &s,
            file(&t, (o, "alice"), "/", "c", 40, 3),
            &tight,
            record(),
        )
        .await
        .unwrap();
    let usage = store.usage(&s).await.unwrap();
    assert_eq!((usage.reserved_bytes, usage.reserved_files), (100, 2));
    store
        .reserve_upload(&s, file(&t, (o, "alice"), "/", "d", 0, 4), &tight, record())
        .await
        .unwrap();
    assert_kind(
        store
            .reserve_upload(&s, file(&t, (o, "alice"), "/", "e", 0, 5), &tight, record())
            .await,
        MetadataErrorKind::QuotaExceeded,
        "file count",
    );
    assert_eq!(store.usage(&s).await.unwrap().reserved_files, 3);
}

/// Races `attempts` reservations of `size` bytes against `limits` and
/// returns how many were admitted and the usage afterwards.
async fn race(
    store: &Store,
    slug: &str,
    limits: PlanLimits,
    attempts: usize,
    size: u64,
) -> (usize, Usage) {
    let t = tenant(store, slug).await;
    let owner = user(store, &t, "alice", &[Role::Editor]).await;
    let limits = Arc::new(limits);
    let scope = scope(&t);
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            let store = store.clone();
            let limits = limits.clone();
            let f = file(&t, (owner, "alice"), "/", &format!("f{i}"), size, 1);
            tokio::spawn(async move { store.reserve_upload(&scope, f, &limits, record()).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(e) => assert!(
                e.is(MetadataErrorKind::QuotaExceeded),
                "unexpected error: {e}"
            ),
        }
    }
    (admitted, store.usage(&scope).await.unwrap())
}

pub async fn concurrent_reservations_admit_exactly_what_fits(store: Store) {
    let bytes = PlanLimits {
        max_total_bytes: 1000,
        ..limits()
    };
    let (admitted, usage) = race(&store, "bytes", bytes, 24, 100).await;
    assert_eq!(admitted, 10, "1000 bytes fit ten 100-byte uploads");
    assert_eq!((usage.reserved_bytes, usage.reserved_files), (1000, 10));

    let files = PlanLimits {
        max_files: 7,
        ..limits()
    };
    let (admitted, usage) = race(&store, "files", files, 20, 1).await;
    assert_eq!(admitted, 7);
    assert_eq!(usage.reserved_files, 7);
}

pub async fn mark_available_commits_usage_once(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let rec = reserve(&store, &t, file(&t, (o, "alice"), "/", "a.pdf", 100, 1)).await;
    let done = store
        .mark_available(&s, rec.id, facts(100, 20), record())
        .await
        .unwrap();
    assert_eq!(done.status, FileStatus::Available);
    assert_eq!(
        done.checksum_sha256,
        Some(Sha256Digest::from_bytes([7; 32]))
    );
    assert_eq!(done.updated_at, at(20));
    assert_eq!(done.created_at, rec.created_at);
    assert_eq!(done.multipart_upload_id, None);
    let expected = Usage {
        used_bytes: 100,
        file_count: 1,
        reserved_bytes: 0,
        reserved_files: 0,
    };
    assert_eq!(store.usage(&s).await.unwrap(), expected);
    // Completing twice is harmless.
    let again = store
        .mark_available(&s, rec.id, facts(100, 30), record())
        .await
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(store.usage(&s).await.unwrap(), expected);

    store
        .trash_file(&s, rec.id, at(40), record())
        .await
        .unwrap();
    assert_kind(
        store
            .mark_available(&s, rec.id, facts(100, 50), record())
            .await,
        MetadataErrorKind::InvalidState,
        "a deleted file cannot complete",
    );
    assert_kind(
        store
            .mark_available(&s, FileId::new_v7(), facts(1, 50), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn multipart_upload_id_only_while_pending(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let rec = reserve(&store, &t, file(&t, (o, "alice"), "/", "big.bin", 10, 1)).await;
    let with = store
        .set_multipart_upload(&s, rec.id, "upload-1")
        .await
        .unwrap();
    assert_eq!(with.multipart_upload_id.as_deref(), Some("upload-1"));
    assert_eq!(
        store
            .get_file(&s, rec.id)
            .await
            .unwrap()
            .file
            .multipart_upload_id
            .as_deref(),
        Some("upload-1")
    );
    store
        .mark_available(&s, rec.id, facts(10, 2), record())
        .await
        .unwrap();
    assert_kind(
        store.set_multipart_upload(&s, rec.id, "upload-2").await,
        MetadataErrorKind::InvalidState,
        "available file",
    );
    assert_kind(
        store.set_multipart_upload(&s, FileId::new_v7(), "u").await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn update_file_changes_and_conflicts(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let a = available(&store, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 1)).await;
    available(
        &store,
        &t,
        file(&t, (o, "alice"), "/docs", "taken.pdf", 1, 2),
    )
    .await;
    let meta = Metadata::new(json!({"k": "v"})).unwrap();
    let changed = store
        .update_file(
            &s,
            a.id,
            FilePatch {
                filename: Some(Filename::new("renamed.pdf").unwrap()),
                path: Some(LogicalPath::new("/archive/2024").unwrap()),
                visibility: Some(Visibility::Tenant),
                metadata: Some(meta.clone()),
            },
            at(30),
            record(),
        )
        .await
        .unwrap();
    assert_eq!(changed.filename.as_str(), "renamed.pdf");
    assert_eq!(changed.path.as_str(), "/archive/2024");
    assert_eq!(changed.visibility, Visibility::Tenant);
    assert_eq!(changed.metadata, meta);
    assert_eq!(changed.updated_at, at(30));
    assert_eq!(changed.key, a.key, "moving never touches the object key");
    assert_eq!(store.get_file(&s, a.id).await.unwrap().file, changed);

    // Only what the patch names changes.
    let renamed_only = store
        .update_file(
            &s,
            a.id,
            FilePatch {
                filename: Some(Filename::new("again.pdf").unwrap()),
                ..FilePatch::default()
            },
            at(31),
            record(),
        )
        .await
        .unwrap();
    assert_eq!(renamed_only.path, changed.path);
    assert_eq!(renamed_only.metadata, meta);

    assert_kind(
        store
            .update_file(
                &s,
                a.id,
                FilePatch {
                    filename: Some(Filename::new("taken.pdf").unwrap()),
                    path: Some(LogicalPath::new("/docs").unwrap()),
                    ..FilePatch::default()
                },
                at(32),
                record(),
            )
            .await,
        MetadataErrorKind::Conflict,
        "moving onto a live name",
    );
    assert_kind(
        store
            .update_file(&s, FileId::new_v7(), FilePatch::default(), at(33), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn trash_and_restore_transitions(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&store, &t, file(&t, (o, "alice"), "/", "p", 5, 1)).await;
    assert_kind(
        store.trash_file(&s, pending.id, at(2), record()).await,
        MetadataErrorKind::InvalidState,
        "trash a pending file",
    );
    let f = available(&store, &t, file(&t, (o, "alice"), "/", "f", 7, 3)).await;
    assert_kind(
        store.restore_file(&s, f.id, at(4), record()).await,
        MetadataErrorKind::InvalidState,
        "restore an available file",
    );
    let before = store.usage(&s).await.unwrap();
    let trashed = store.trash_file(&s, f.id, at(5), record()).await.unwrap();
    assert_eq!(trashed.status, FileStatus::Deleted);
    assert_eq!(trashed.deleted_at, Some(at(5)));
    assert_eq!(store.usage(&s).await.unwrap(), before, "trash keeps usage");
    assert_kind(
        store.trash_file(&s, f.id, at(6), record()).await,
        MetadataErrorKind::InvalidState,
        "trash twice",
    );
    let restored = store.restore_file(&s, f.id, at(7), record()).await.unwrap();
    assert_eq!(restored.status, FileStatus::Available);
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.updated_at, at(7));
    assert_kind(
        store
            .trash_file(&s, FileId::new_v7(), at(8), record())
            .await,
        MetadataErrorKind::NotFound,
        "trash unknown",
    );
    assert_kind(
        store
            .restore_file(&s, FileId::new_v7(), at(8), record())
            .await,
        MetadataErrorKind::NotFound,
        "restore unknown",
    );
}

pub async fn remove_file_releases_usage_and_grants(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&store, &t, file(&t, (o, "alice"), "/", "p", 5, 1)).await;
    let live = available(&store, &t, file(&t, (o, "alice"), "/", "l", 7, 2)).await;
    let trashed = available(&store, &t, file(&t, (o, "alice"), "/", "t", 11, 3)).await;
    store
        .trash_file(&s, trashed.id, at(4), record())
        .await
        .unwrap();
    store
        .put_grant(&s, grant(live.id, "user:bob", Access::Read, None), record())
        .await
        .unwrap();
    assert_eq!(
        store.usage(&s).await.unwrap(),
        Usage {
            used_bytes: 18,
            file_count: 2,
            reserved_bytes: 5,
            reserved_files: 1
        }
    );
    let removed = store
        .remove_file(&s, pending.id, Some(record()))
        .await
        .unwrap();
    assert_eq!(removed.id, pending.id);
    store
        .remove_file(&s, live.id, Some(record()))
        .await
        .unwrap();
    store
        .remove_file(&s, trashed.id, Some(record()))
        .await
        .unwrap();
    assert_eq!(store.usage(&s).await.unwrap(), Usage::default());
    assert_kind(
        store.get_file(&s, live.id).await,
        MetadataErrorKind::NotFound,
        "removed",
    );
    assert_kind(
        store.list_grants(&s, live.id).await,
        MetadataErrorKind::NotFound,
        "grants of a removed file",
    );
    assert_kind(
        store.remove_file(&s, live.id, Some(record())).await,
        MetadataErrorKind::NotFound,
        "remove twice",
    );
}

// ------------------------------------------------------------------- grants

fn grant(file: FileId, to: &str, access: Access, expires: Option<i64>) -> NewGrant {
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

pub async fn grants_replace_list_delete(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&store, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;
    let g = available(&store, &t, file(&t, (o, "alice"), "/", "g", 1, 2)).await;
    assert!(store.list_grants(&s, f.id).await.unwrap().is_empty());

    let bob = store
        .put_grant(
            &s,
            grant(f.id, "user:bob", Access::Read, Some(500)),
            record(),
        )
        .await
        .unwrap();
    assert_eq!(bob.tenant_id, t.id);
    assert_eq!(bob.file_id, f.id);
    assert_eq!(bob.subject.to_string(), "user:bob");
    assert_eq!(bob.access, Access::Read);
    assert_eq!(bob.expires_at, Some(at(500)));
    assert_eq!(bob.created_by.as_str(), "alice");
    let viewers = store
        .put_grant(
            &s,
            grant(f.id, "role:viewer", Access::Write, None),
            record(),
        )
        .await
        .unwrap();
    // The same subject again replaces its grant.
    let bob2 = store
        .put_grant(&s, grant(f.id, "user:bob", Access::Manage, None), record())
        .await
        .unwrap();
    assert_eq!(bob2.access, Access::Manage);
    assert_eq!(bob2.expires_at, None);
    let listed = store.list_grants(&s, f.id).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&viewers));
    assert!(listed.contains(&bob2));
    assert_eq!(store.get_file(&s, f.id).await.unwrap().grants.len(), 2);
    assert!(store.list_grants(&s, g.id).await.unwrap().is_empty());

    assert_kind(
        store.delete_grant(&s, g.id, bob2.id, record()).await,
        MetadataErrorKind::NotFound,
        "grant on another file",
    );
    store
        .delete_grant(&s, f.id, bob2.id, record())
        .await
        .unwrap();
    assert_eq!(store.list_grants(&s, f.id).await.unwrap(), vec![viewers]);
    assert_kind(
        store.delete_grant(&s, f.id, bob2.id, record()).await,
        MetadataErrorKind::NotFound,
        "delete twice",
    );
    assert_kind(
        store
            .put_grant(
                &s,
                grant(FileId::new_v7(), "user:bob", Access::Read, None),
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "grant on unknown file",
    );
    assert_kind(
        store.list_grants(&s, FileId::new_v7()).await,
        MetadataErrorKind::NotFound,
        "list on unknown file",
    );
}

// ------------------------------------------------------------------ listing

pub async fn list_files_filters(store: Store) {
    let t = tenant(&store, "acme").await;
    let alice = user(&store, &t, "alice", &[Role::Editor]).await;
    let bob = user(&store, &t, "bob", &[Role::Editor]).await;
    let s = scope(&t);
    let mut report = file(&t, (alice, "alice"), "/docs", "Annual Report.PDF", 1, 1);
    report.metadata = Metadata::new(json!({"project": "apollo", "year": 2024})).unwrap();
    available(&store, &t, report).await;
    let mut media = file(&t, (alice, "alice"), "/docs/2024", "photo.png", 1, 2);
    media.category = Category::new("media").unwrap();
    media.key = ObjectKey::for_file(t.id, &media.category, media.id);
    media.metadata = Metadata::new(json!({"project": "apollo"})).unwrap();
    available(&store, &t, media).await;
    available(
        &store,
        &t,
        file(&t, (bob, "bob"), "/docsx", "100%_done.txt", 1, 3),
    )
    .await;
    available(&store, &t, file(&t, (bob, "bob"), "/", "root.txt", 1, 4)).await;
    reserve(
        &store,
        &t,
        file(&t, (bob, "bob"), "/docs", "pending.txt", 1, 5),
    )
    .await;
    let gone = available(
        &store,
        &t,
        file(&t, (bob, "bob"), "/docs", "gone.txt", 1, 6),
    )
    .await;
    store
        .trash_file(&s, gone.id, at(7), record())
        .await
        .unwrap();

    let all = query(ReadFilter::All);
    assert_eq!(
        names(&store, &t, &all).await,
        set(&[
            "Annual Report.PDF",
            "photo.png",
            "100%_done.txt",
            "root.txt"
        ]),
        "available only, by default"
    );
    let with = |f: &dyn Fn(&mut FileQuery)| {
        let mut q = all.clone();
        f(&mut q);
        q
    };
    let cases: Vec<(FileQuery, BTreeSet<String>)> = vec![
        (
            with(&|q| q.status = FileStatus::Pending),
            set(&["pending.txt"]),
        ),
        (
            with(&|q| q.status = FileStatus::Deleted),
            set(&["gone.txt"]),
        ),
        (
            with(&|q| q.category = Some(Category::new("media").unwrap())),
            set(&["photo.png"]),
        ),
        (
            with(&|q| q.path = Some(LogicalPath::new("/docs").unwrap())),
            set(&["Annual Report.PDF"]),
        ),
        (
            with(&|q| q.prefix = Some(LogicalPath::new("/docs").unwrap())),
            set(&["Annual Report.PDF", "photo.png"]),
        ),
        (
            with(&|q| q.prefix = Some(LogicalPath::root())),
            set(&[
                "Annual Report.PDF",
                "photo.png",
                "100%_done.txt",
                "root.txt",
            ]),
        ),
        (
            with(&|q| q.name_contains = Some("REPORT".into())),
            set(&["Annual Report.PDF"]),
        ),
        (
            with(&|q| q.name_contains = Some("%_".into())),
            set(&["100%_done.txt"]),
        ),
        (
            with(&|q| q.name_contains = Some(".t".into())),
            set(&["100%_done.txt", "root.txt"]),
        ),
        (
            with(&|q| {
                q.metadata = json!({"project": "apollo"}).as_object().cloned();
            }),
            set(&["Annual Report.PDF", "photo.png"]),
        ),
        (
            with(&|q| q.metadata = json!({"year": 2024}).as_object().cloned()),
            set(&["Annual Report.PDF"]),
        ),
        (
            with(&|q| q.metadata = json!({"project": "zeus"}).as_object().cloned()),
            set(&[]),
        ),
        (
            with(&|q| q.owner = Some(subject("bob"))),
            set(&["100%_done.txt", "root.txt"]),
        ),
        (
            with(&|q| {
                q.owner = Some(subject("alice"));
                q.prefix = Some(LogicalPath::new("/docs/2024").unwrap());
            }),
            set(&["photo.png"]),
        ),
    ];
    for (q, expected) in cases {
        assert_eq!(names(&store, &t, &q).await, expected, "{q:?}");
    }
}

pub async fn list_files_pages_newest_first(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let mut expected = Vec::new();
    // Pairs share a creation time: the id breaks the tie.
    for i in 0..7 {
        let rec = available(
            &store,
            &t,
            file(&t, (o, "alice"), "/", &format!("f{i}"), 1, i / 2),
        )
        .await;
        expected.push((rec.created_at, rec.id));
    }
    expected.sort();
    expected.reverse();
    let mut seen = Vec::new();
    let mut q = query(ReadFilter::All);
    q.limit = 3;
    let mut sizes = Vec::new();
    loop {
        let page = store.list_files(&scope(&t), &q).await.unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|f| (f.created_at, f.id)));
        match page.next_cursor {
            Some(c) => q.after = Some(PageCursor::decode(&c).unwrap()),
            None => break,
        }
        assert!(sizes.len() < 10, "paging does not end");
    }
    assert_eq!(
        seen, expected,
        "newest first by (created_at, id), each once"
    );
    assert_eq!(sizes, vec![3, 3, 1]);

    // A page that ends exactly at the last item says so.
    let mut exact = query(ReadFilter::All);
    exact.limit = 7;
    assert_eq!(
        store
            .list_files(&scope(&t), &exact)
            .await
            .unwrap()
            .next_cursor,
        None
    );
}

pub async fn list_files_read_filter_matches_effective_access(store: Store) {
    let t = tenant(&store, "acme").await;
    let s = scope(&t);
    let alice = user(&store, &t, "alice", &[Role::Editor]).await;
    let bob = user(&store, &t, "bob", &[Role::Viewer]).await;
    let now = at(1000);

    let own = available(
        &store,
        &t,
        file(&t, (alice, "alice"), "/", "alice-private", 1, 1),
    )
    .await;
    let mut shared = file(&t, (alice, "alice"), "/", "alice-tenant", 1, 2);
    shared.visibility = Visibility::Tenant;
    let shared = available(&store, &t, shared).await;
    let to_carol = available(&store, &t, file(&t, (bob, "bob"), "/", "for-carol", 1, 3)).await;
    let to_viewers = available(&store, &t, file(&t, (bob, "bob"), "/", "for-viewers", 1, 4)).await;
    let expired = available(&store, &t, file(&t, (bob, "bob"), "/", "expired", 1, 5)).await;
    let future = available(&store, &t, file(&t, (bob, "bob"), "/", "future", 1, 6)).await;
    available(&store, &t, file(&t, (bob, "bob"), "/", "bob-private", 1, 7)).await;
    store
        .put_grant(
            &s,
            grant(to_carol.id, "user:carol", Access::Read, None),
            record(),
        )
        .await
        .unwrap();
    store
        .put_grant(
            &s,
            grant(to_viewers.id, "role:viewer", Access::Read, None),
            record(),
        )
        .await
        .unwrap();
    store
        .put_grant(
            &s,
            grant(expired.id, "user:carol", Access::Write, Some(999)),
            record(),
        )
        .await
        .unwrap();
    store
        .put_grant(
            &s,
            grant(future.id, "user:carol", Access::Read, Some(1001)),
            record(),
        )
        .await
        .unwrap();
    let _ = (own, shared);

    let principals = [
        ("alice", vec![Role::Editor]),
        ("bob", vec![Role::Viewer]),
        ("carol", vec![]),
        ("carol", vec![Role::Viewer]),
        ("dave", vec![Role::Admin]),
        ("erin", vec![]),
    ];
    let everything = store
        .list_files(&s, &query(ReadFilter::All))
        .await
        .unwrap()
        .items;
    assert_eq!(everything.len(), 7);
    for (sub, roles) in principals {
        let principal = Principal {
            subject: subject(sub),
            tenant: Some(t.id),
            user_id: None,
            roles: roles.clone(),
        };
        let mut expected = BTreeSet::new();
        for f in &everything {
            let grants = store.get_file(&s, f.id).await.unwrap().grants;
            if effective_access(&principal, f, &grants, now).is_some() {
                expected.insert(f.filename.to_string());
            }
        }
        let filter = ReadFilter::Readable {
            subject: subject(sub),
            roles: roles.clone(),
            now,
        };
        let got = names(&store, &t, &query(filter)).await;
        assert_eq!(got, expected, "{sub} {roles:?}");
    }
    // Spot checks, so the comparison cannot pass vacuously.
    let carol = names(
        &store,
        &t,
        &query(ReadFilter::Readable {
            subject: subject("carol"),
            roles: vec![],
            now,
        }),
    )
    .await;
    assert_eq!(carol, set(&["for-carol", "future"]));
    let viewer_bob = names(
        &store,
        &t,
        &query(ReadFilter::Readable {
            subject: subject("bob"),
            roles: vec![Role::Viewer],
            now,
        }),
    )
    .await;
    assert_eq!(
        viewer_bob,
        set(&[
            "alice-tenant",
            "for-carol",
            "for-viewers",
            "expired",
            "future",
            "bob-private"
        ])
    );
}

// -------------------------------------------------------------------- audit

pub async fn audit_append_and_list(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&store, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;
    let entry = |actor: &str, action: &str, file: Option<FileId>, secs: i64| NewAudit {
        actor: subject(actor),
        action: action.into(),
        file_id: file,
        detail: json!({"n": secs}),
        request_id: Some(format!("req-{secs}")),
        client_addr: Some("192.0.2.1".into()),
        at: at(secs),
    };
    store
        .append_audit(&s, entry("alice", "file.create", Some(f.id), 10))
        .await
        .unwrap();
    store
        .append_audit(&s, entry("alice", "file.download_url", Some(f.id), 20))
        .await
        .unwrap();
    store
        .append_audit(&s, entry("bob", "file.download_url", Some(f.id), 30))
        .await
        .unwrap();
    store
        .append_audit(&s, entry("bob", "tenant.read", None, 40))
        .await
        .unwrap();
    store
        .append_audit(&scope(&other), entry("mallory", "file.create", None, 50))
        .await
        .unwrap();

    let base = AuditQuery {
        actor: None,
        action: None,
        file_id: None,
        // The records of the tenants' and file's creation are older.
        since: Some(at(0)),
        until: None,
        after: None,
        limit: 100,
        oldest_first: false,
    };
    let all = store.list_audit(&s, &base).await.unwrap();
    let secs: Vec<i64> = all
        .items
        .iter()
        .map(|e| e.at.unix_timestamp() - T0)
        .collect();
    assert_eq!(secs, vec![40, 30, 20, 10], "newest first, own tenant only");
    let first = all.items.last().unwrap();
    assert_eq!(first.tenant_id, t.id);
    assert_eq!(first.actor.as_str(), "alice");
    assert_eq!(first.action, "file.create");
    assert_eq!(first.file_id, Some(f.id));
    assert_eq!(first.detail, json!({"n": 10}));
    assert_eq!(first.request_id.as_deref(), Some("req-10"));
    assert_eq!(first.client_addr.as_deref(), Some("192.0.2.1"));
    assert_eq!(all.next_cursor, None);

    let count = |q: AuditQuery| {
        let store = store.clone();
        async move { store.list_audit(&s, &q).await.unwrap().items.len() }
    };
    assert_eq!(
        count(AuditQuery {
            actor: Some(subject("bob")),
            ..base.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            action: Some("file.download_url".into()),
            ..base.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            file_id: Some(f.id),
            ..base.clone()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditQuery {
            since: Some(at(20)),
            ..base.clone()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditQuery {
            until: Some(at(20)),
            ..base.clone()
        })
        .await,
        2
    );

    let mut q = AuditQuery {
        limit: 3,
        ..base.clone()
    };
    let page1 = store.list_audit(&s, &q).await.unwrap();
    assert_eq!(page1.items.len(), 3);
    q.after = Some(PageCursor::decode(page1.next_cursor.as_deref().unwrap()).unwrap());
    let page2 = store.list_audit(&s, &q).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].at, at(10));
    assert_eq!(page2.next_cursor, None);

    // An export runs oldest first, and pages forward.
    let mut q = AuditQuery {
        limit: 3,
        oldest_first: true,
        ..base.clone()
    };
    let page1 = store.list_audit(&s, &q).await.unwrap();
    let secs = |p: &coffer_ports::Page<coffer_ports::AuditEntry>| -> Vec<i64> {
        p.items.iter().map(|e| e.at.unix_timestamp() - T0).collect()
    };
    assert_eq!(secs(&page1), vec![10, 20, 30]);
    q.after = Some(PageCursor::decode(page1.next_cursor.as_deref().unwrap()).unwrap());
    let page2 = store.list_audit(&s, &q).await.unwrap();
    assert_eq!(secs(&page2), vec![40]);
    assert_eq!(page2.next_cursor, None);
}

/// A change's record: an audit entry, and an event when `announced`.
fn change(action: &str, file: Option<FileId>, secs: i64, announced: bool) -> Journal {
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
            coffer_ports::NewEvent {
                id: uuid::Uuid::now_v7(),
                kind: action.to_owned(),
                data: json!({ "n": secs }),
            },
        )
    } else {
        Journal::audit(audit)
    }
}

async fn audited(store: &Store, t: &Tenant, action: &str) -> usize {
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
    store.list_audit(&scope(t), &q).await.unwrap().items.len()
}

async fn events(store: &Store, t: &Tenant) -> Vec<coffer_ports::Event> {
    store
        .list_events(&scope(t), None, at(10_000), 1000)
        .await
        .unwrap()
        .items
}

pub async fn changes_are_recorded_exactly_when_they_happen(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&store, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;

    let trash = change("file.trashed", Some(f.id), 30, true);
    let event_id = trash.event.as_ref().unwrap().id;
    store.trash_file(&s, f.id, at(30), trash).await.unwrap();
    // A change that does not happen leaves no record.
    let again = store
        .trash_file(
            &s,
            f.id,
            at(31),
            change("file.trashed", Some(f.id), 31, true),
        )
        .await;
    assert_eq!(again.unwrap_err().kind(), MetadataErrorKind::InvalidState);
    assert_eq!(audited(&store, &t, "file.trashed").await, 1);
    let listed = events(&store, &t).await;
    assert_eq!(listed.len(), 1, "one event, for the one change");
    assert_eq!(listed[0].id, event_id);
    assert_eq!(listed[0].kind, "file.trashed");
    assert_eq!(listed[0].tenant_id, t.id);
    assert_eq!(listed[0].data, json!({ "n": 30 }));
    assert_eq!(listed[0].created_at, at(30));

    // Completing what is already available changes nothing: no record.
    let g = available(&store, &t, file(&t, (o, "alice"), "/", "g", 1, 2)).await;
    store
        .mark_available(
            &s,
            g.id,
            facts(1, 40),
            change("file.uploaded", Some(g.id), 40, true),
        )
        .await
        .unwrap();
    assert_eq!(audited(&store, &t, "file.uploaded").await, 0);
    // A conflict rolls the record back with the change.
    let h = available(&store, &t, file(&t, (o, "alice"), "/", "h", 1, 3)).await;
    let clash = FilePatch {
        filename: Some(Filename::new("g").unwrap()),
        ..FilePatch::default()
    };
    let conflict = store
        .update_file(
            &s,
            h.id,
            clash,
            at(50),
            change("file.updated", Some(h.id), 50, true),
        )
        .await;
    assert_eq!(conflict.unwrap_err().kind(), MetadataErrorKind::Conflict);
    assert_eq!(audited(&store, &t, "file.updated").await, 0);
    store
        .remove_file(&s, h.id, Some(change("file.erased", Some(h.id), 60, true)))
        .await
        .unwrap();
    assert_eq!(audited(&store, &t, "file.erased").await, 1);
    let kinds: Vec<String> = events(&store, &t)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["file.trashed", "file.erased"]);
    assert!(
        events(&store, &other).await.is_empty(),
        "events stay in their tenant"
    );
}

pub async fn events_are_claimed_leased_and_settled(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let s = scope(&t);
    for secs in [10, 11, 12] {
        store
            .put_setting(
                &s,
                "k",
                Some(json!(secs)),
                change("setting.changed", None, secs, true),
            )
            .await
            .unwrap();
    }
    let claim = |now: i64, since: i64, limit: u32| coffer_ports::EventClaim {
        now: at(now),
        since: at(since),
        lease: time::Duration::seconds(60),
        limit,
    };
    let secs = |events: &[coffer_ports::Event]| -> Vec<i64> {
        events
            .iter()
            .map(|e| e.created_at.unix_timestamp() - T0)
            .collect()
    };
    let first = store.claim_events(&s, &claim(100, 0, 2)).await.unwrap();
    assert_eq!(secs(&first), vec![10, 11], "oldest first, up to the limit");
    let rest = store.claim_events(&s, &claim(100, 0, 10)).await.unwrap();
    assert_eq!(
        secs(&rest),
        vec![12],
        "claimed events are leased to the first claim"
    );
    assert!(
        store
            .claim_events(&scope(&other), &claim(100, 0, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_events(&s, &claim(100, 0, 10))
            .await
            .unwrap()
            .is_empty()
    );

    use coffer_ports::DeliveryOutcome::{Dead, Delivered, Retry};
    store
        .record_delivery(&s, first[0].id, Delivered { at: at(101) })
        .await
        .unwrap();
    store
        .record_delivery(
            &s,
            first[1].id,
            Retry {
                error: "refused".into(),
                retry_at: at(110),
            },
        )
        .await
        .unwrap();
    store
        .record_delivery(
            &s,
            rest[0].id,
            Dead {
                error: "gone".into(),
                at: at(102),
            },
        )
        .await
        .unwrap();
    let unknown = store
        .record_delivery(&s, uuid::Uuid::now_v7(), Delivered { at: at(103) })
        .await;
    assert_eq!(unknown.unwrap_err().kind(), MetadataErrorKind::NotFound);
    let foreign = store
        .record_delivery(&scope(&other), first[1].id, Delivered { at: at(103) })
        .await;
    assert_eq!(foreign.unwrap_err().kind(), MetadataErrorKind::NotFound);

    assert!(
        store
            .claim_events(&s, &claim(109, 0, 10))
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    // After the lease and the retry time: only the retried one, never the
    // delivered or the dead-lettered one.
    let retried = store.claim_events(&s, &claim(200, 0, 10)).await.unwrap();
    assert_eq!(secs(&retried), vec![11]);
    assert_eq!(retried[0].attempts, 1);
    assert!(
        store
            .claim_events(&s, &claim(400, 12, 10))
            .await
            .unwrap()
            .is_empty(),
        "older than since"
    );

    // Polling sees every event, delivered or not, once settled.
    let all = store.list_events(&s, None, at(1000), 2).await.unwrap();
    assert_eq!(secs(&all.items), vec![10, 11]);
    let after = PageCursor::decode(all.next_cursor.as_deref().unwrap()).unwrap();
    let next = store
        .list_events(&s, Some(after), at(1000), 2)
        .await
        .unwrap();
    assert_eq!(secs(&next.items), vec![12]);
    assert_eq!(next.next_cursor, None);
    let unsettled = store.list_events(&s, None, at(12), 10).await.unwrap();
    assert_eq!(
        secs(&unsettled.items),
        vec![10, 11],
        "events from `settled_before` on wait"
    );
}

pub async fn settings_are_set_read_and_cleared(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let s = scope(&t);
    assert_eq!(store.get_setting(&s, "webhook").await.unwrap(), None);
    for (secs, value) in [(1, json!({"url": "a"})), (2, json!({"url": "b"}))] {
        store
            .put_setting(
                &s,
                "webhook",
                Some(value),
                change("setting.set", None, secs, false),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store.get_setting(&s, "webhook").await.unwrap(),
        Some(json!({"url": "b"}))
    );
    assert_eq!(
        store.get_setting(&scope(&other), "webhook").await.unwrap(),
        None
    );
    store
        .put_setting(&s, "webhook", None, change("setting.set", None, 3, false))
        .await
        .unwrap();
    assert_eq!(store.get_setting(&s, "webhook").await.unwrap(), None);
    assert_eq!(audited(&store, &t, "setting.set").await, 3);
    assert!(
        events(&store, &t).await.is_empty(),
        "unannounced changes make no event"
    );
}

pub async fn settings_are_listed_per_tenant_in_key_order(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let s = scope(&t);
    assert!(store.list_settings(&s).await.unwrap().is_empty());
    for (secs, key, value) in [
        (1, "url_ttl_secs", json!(60)),
        (2, "allowed_content_types", json!(["image/*"])),
        (3, "url_ttl_secs", json!(90)),
    ] {
        store
            .put_setting(
                &s,
                key,
                Some(value),
                change("setting.set", None, secs, false),
            )
            .await
            .unwrap();
    }
    store
        .put_setting(
            &scope(&other),
            "max_file_size",
            Some(json!(7)),
            change("setting.set", None, 4, false),
        )
        .await
        .unwrap();
    assert_eq!(
        store.list_settings(&s).await.unwrap(),
        vec![
            ("allowed_content_types".to_owned(), json!(["image/*"])),
            ("url_ttl_secs".to_owned(), json!(90)),
        ]
    );
    store
        .put_setting(
            &s,
            "url_ttl_secs",
            None,
            change("setting.set", None, 5, false),
        )
        .await
        .unwrap();
    assert_eq!(store.list_settings(&s).await.unwrap().len(), 1);
    assert_eq!(
        store.list_settings(&scope(&other)).await.unwrap(),
        vec![("max_file_size".to_owned(), json!(7))]
    );
}

pub async fn features_are_set_read_listed_and_cleared(store: Store) {
    use coffer_domain::FeatureFlag;
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let s = scope(&t);
    let flag = |key: &str, enabled: bool, expires: Option<i64>| FeatureFlag {
        key: key.to_owned(),
        enabled,
        expires_at: expires.map(at),
    };
    assert_eq!(
        store.get_feature(&s, "streamed_uploads").await.unwrap(),
        None
    );
    assert!(store.list_features(&s).await.unwrap().is_empty());
    store
        .put_feature(
            &s,
            "streamed_uploads",
            Some(flag("streamed_uploads", false, Some(100))),
            change("feature.set", None, 1, false),
        )
        .await
        .unwrap();
    // Replaced, expiry cleared; an expired flag is still stored and listed.
    store
        .put_feature(
            &s,
            "streamed_uploads",
            Some(flag("streamed_uploads", true, None)),
            change("feature.set", None, 2, false),
        )
        .await
        .unwrap();
    store
        .put_feature(
            &s,
            "content_streaming",
            Some(flag("content_streaming", false, Some(-5))),
            change("feature.set", None, 3, false),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_feature(&s, "streamed_uploads").await.unwrap(),
        Some(flag("streamed_uploads", true, None))
    );
    assert_eq!(
        store.list_features(&s).await.unwrap(),
        vec![
            flag("content_streaming", false, Some(-5)),
            flag("streamed_uploads", true, None),
        ]
    );
    assert!(
        store
            .list_features(&scope(&other))
            .await
            .unwrap()
            .is_empty(),
        "another tenant's flags are not listed"
    );
    assert_eq!(
        store
            .get_feature(&scope(&other), "streamed_uploads")
            .await
            .unwrap(),
        None
    );
    store
        .put_feature(
            &s,
            "streamed_uploads",
            None,
            change("feature.set", None, 4, false),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_feature(&s, "streamed_uploads").await.unwrap(),
        None
    );
    assert_eq!(store.list_features(&s).await.unwrap().len(), 1);
    assert_eq!(
        audited(&store, &t, "feature.set").await,
        4,
        "every change is journalled in its transaction"
    );
}

pub async fn check_ready_answers(store: Store) {
    store.check_ready().await.unwrap();
}

// ---------------------------------------------------------------- integrity

fn objects_query(after: Option<FileId>, limit: u32) -> FileObjectQuery {
    FileObjectQuery {
        erase_started_before: None,
        after,
        limit,
    }
}

pub async fn erase_marks_hide_a_file_until_it_is_removed(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let doomed = available(&store, &t, file(&t, (o, "alice"), "/", "doomed", 7, 1)).await;
    let trashed = available(&store, &t, file(&t, (o, "alice"), "/", "trashed", 5, 2)).await;
    store
        .trash_file(&s, trashed.id, at(3), record())
        .await
        .unwrap();
    let kept = available(&store, &t, file(&t, (o, "alice"), "/", "kept", 3, 4)).await;

    let marked = store
        .begin_erase(&s, doomed.id, at(10), record())
        .await
        .unwrap();
    assert_eq!(
        (marked.id, marked.key.clone()),
        (doomed.id, doomed.key.clone())
    );
    store
        .begin_erase(&s, trashed.id, at(11), record())
        .await
        .unwrap();
    // Marking again keeps the first mark (the sweep's grace counts from it).
    store
        .begin_erase(&s, doomed.id, at(20), record())
        .await
        .unwrap();

    for (id, what) in [
        (doomed.id, "erasing available"),
        (trashed.id, "erasing trashed"),
    ] {
        assert_kind(
            store.get_file(&s, id).await,
            MetadataErrorKind::NotFound,
            what,
        );
        assert_kind(
            store.restore_file(&s, id, at(21), record()).await,
            MetadataErrorKind::NotFound,
            &format!("restore {what}"),
        );
        assert_kind(
            store.trash_file(&s, id, at(21), record()).await,
            MetadataErrorKind::NotFound,
            &format!("trash {what}"),
        );
        assert_kind(
            store
                .update_file(
                    &s,
                    id,
                    FilePatch {
                        visibility: Some(Visibility::Tenant),
                        ..FilePatch::default()
                    },
                    at(21),
                    record(),
                )
                .await,
            MetadataErrorKind::NotFound,
            &format!("update {what}"),
        );
    }
    assert_eq!(
        names(&store, &t, &query(ReadFilter::All)).await,
        set(&["kept"])
    );
    let mut trash = query(ReadFilter::All);
    trash.status = FileStatus::Deleted;
    assert_eq!(
        names(&store, &t, &trash).await,
        set(&[]),
        "not in the trash either"
    );

    // A file being erased holds no name: the same one may be uploaded again.
    reserve(&store, &t, file(&t, (o, "alice"), "/", "doomed", 1, 22)).await;

    // The integrity jobs still see both, with the first mark.
    let rows = store
        .list_file_objects(&s, &objects_query(None, 100))
        .await
        .unwrap();
    let mark = |id: FileId| {
        rows.iter()
            .find(|r| r.id == id)
            .and_then(|r| r.erase_started_at)
    };
    assert_eq!(mark(doomed.id), Some(at(10)));
    assert_eq!(mark(trashed.id), Some(at(11)));
    assert_eq!(mark(kept.id), None);
    let mut due = objects_query(None, 100);
    due.erase_started_before = Some(at(11));
    let due: Vec<FileId> = store
        .list_file_objects(&s, &due)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        due,
        vec![doomed.id],
        "only erases that began before the instant"
    );

    // Removal ends it, releasing usage as for any file.
    let before = store.usage(&s).await.unwrap();
    store.remove_file(&s, doomed.id, None).await.unwrap();
    assert_eq!(
        store.usage(&s).await.unwrap().used_bytes,
        before.used_bytes - 7
    );
    assert_kind(
        store.begin_erase(&s, doomed.id, at(30), record()).await,
        MetadataErrorKind::NotFound,
        "mark a removed file",
    );
    let other = tenant(&store, "other").await;
    assert_kind(
        store
            .begin_erase(&scope(&other), kept.id, at(30), record())
            .await,
        MetadataErrorKind::NotFound,
        "mark another tenant's file",
    );
    assert!(
        store.get_file(&s, kept.id).await.is_ok(),
        "kept stays unmarked"
    );
}

pub async fn file_objects_list_every_row_by_id(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let other = tenant(&store, "other").await;
    let p = user(&store, &other, "bob", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&store, &t, file(&t, (o, "alice"), "/", "p", 1, 1)).await;
    let live = available(&store, &t, file(&t, (o, "alice"), "/", "l", 2, 2)).await;
    let trashed = available(&store, &t, file(&t, (o, "alice"), "/", "t", 3, 3)).await;
    store
        .trash_file(&s, trashed.id, at(4), record())
        .await
        .unwrap();
    available(
        &store,
        &other,
        file(&other, (p, "bob"), "/", "theirs", 4, 5),
    )
    .await;

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_file_objects(&s, &objects_query(after, 2))
            .await
            .unwrap();
        assert!(page.len() <= 2);
        after = page.last().map(|r| r.id);
        let last = page.len() < 2;
        seen.extend(page);
        if last {
            break;
        }
    }
    let mut ids: Vec<FileId> = vec![pending.id, live.id, trashed.id];
    ids.sort_by_key(|id| *id.as_uuid());
    assert_eq!(
        seen.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids,
        "this tenant's rows, by id"
    );
    let row = seen.iter().find(|r| r.id == trashed.id).unwrap();
    assert_eq!(row.status, FileStatus::Deleted);
    assert_eq!(
        (row.bucket.clone(), row.key.clone()),
        (trashed.bucket.clone(), trashed.key.clone())
    );
    assert_eq!(row.created_at, at(3));
    assert_eq!((row.erase_started_at, row.object_missing_at), (None, None));
    let row = seen.iter().find(|r| r.id == pending.id).unwrap();
    assert_eq!(row.status, FileStatus::Pending);
}

pub async fn object_missing_is_marked_once(store: Store) {
    let t = tenant(&store, "acme").await;
    let o = user(&store, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&store, &t, file(&t, (o, "alice"), "/", "f", 7, 1)).await;
    store
        .mark_object_missing(
            &s,
            f.id,
            at(5),
            change("file.object_missing", Some(f.id), 5, false),
        )
        .await
        .unwrap();
    store
        .mark_object_missing(
            &s,
            f.id,
            at(9),
            change("file.object_missing", Some(f.id), 9, false),
        )
        .await
        .unwrap();
    let rows = store
        .list_file_objects(&s, &objects_query(None, 10))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].object_missing_at,
        Some(at(5)),
        "the first mark stays"
    );
    assert_eq!(
        audited(&store, &t, "file.object_missing").await,
        1,
        "the first mark only is on record"
    );
    // The file stays visible: what to do about lost bytes is an operator's call.
    assert!(store.get_file(&s, f.id).await.is_ok());
    let other = tenant(&store, "other").await;
    assert_kind(
        store
            .mark_object_missing(&scope(&other), f.id, at(9), record())
            .await,
        MetadataErrorKind::NotFound,
        "another tenant's file",
    );
    assert_kind(
        store
            .mark_object_missing(&s, FileId::new_v7(), at(9), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn job_locks_admit_one_holder_per_job(store: Store) {
    let sweep = store.try_lock_job("sweep").await.unwrap();
    assert_eq!(sweep.as_ref().map(|l| l.job()), Some("sweep"));
    assert!(
        store.try_lock_job("sweep").await.unwrap().is_none(),
        "held: no second holder"
    );
    let reconcile = store.try_lock_job("reconcile").await.unwrap();
    assert!(reconcile.is_some(), "another job is independent");
    drop(sweep);
    assert!(
        lock_soon(&store, "sweep").await.is_some(),
        "free again once the guard is dropped"
    );
    drop(reconcile);
}

/// The job lock, retried for a few seconds: a store may release a dropped
/// guard asynchronously (PostgreSQL: when the server sees its connection close).
pub async fn lock_soon(store: &Store, job: &str) -> Option<coffer_ports::JobLock> {
    for _ in 0..50 {
        if let Some(lock) = store.try_lock_job(job).await.unwrap() {
            return Some(lock);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

// ---------------------------------------------------------------- onboarding

fn named(action: &str, secs: i64) -> Journal {
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

async fn actions(store: &Store, t: TenantId, action: &str) -> usize {
    let q = AuditQuery {
        actor: None,
        action: Some(action.to_owned()),
        file_id: None,
        since: None,
        until: None,
        after: None,
        limit: 100,
        oldest_first: true,
    };
    store
        .list_audit(&TenantScope::new(t), &q)
        .await
        .unwrap()
        .items
        .len()
}

fn progress(
    expected: OnboardingState,
    state: OnboardingState,
    done: &[OnboardingStep],
    status: Option<TenantStatus>,
    secs: i64,
) -> OnboardingUpdate {
    OnboardingUpdate {
        expected,
        state,
        current_step: done.last().copied(),
        steps_done: done.to_vec(),
        last_error: None,
        tenant_status: status,
        at: at(secs),
    }
}

async fn queue(store: &Store, slug: &str, secs: i64) -> Tenant {
    let mut new = new_tenant(slug, secs);
    new.status = TenantStatus::Provisioning;
    // Onboarding cases are about the queue: the database step is not theirs.
    new.dedicated_database = None;
    let (tenant, job) = store
        .create_onboarding(
            new,
            NewOnboarding {
                request: OnboardingRequest {
                    admin_subject: Some(subject("first-admin")),
                },
                queued_at: at(secs),
            },
            named("tenant.created", secs),
        )
        .await
        .unwrap();
    assert_eq!(tenant.status, TenantStatus::Provisioning);
    assert_eq!(job.state, OnboardingState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.request.admin_subject, Some(subject("first-admin")));
    tenant
}

pub async fn onboarding_is_queued_claimed_once_and_finished(store: Store) {
    use OnboardingState::{Done, Queued, Running};
    let first = queue(&store, "onb-first", 0).await;
    let second = queue(&store, "onb-second", 5).await;
    assert_eq!(actions(&store, first.id, "tenant.created").await, 1);
    // The slug is taken: nothing of the second attempt is left.
    let mut again = new_tenant("onb-first", 6);
    again.status = TenantStatus::Provisioning;
    let err = store
        .create_onboarding(
            again.clone(),
            NewOnboarding {
                request: OnboardingRequest::default(),
                queued_at: at(6),
            },
            record(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::Conflict);
    assert_eq!(
        store.get_onboarding(again.id).await.unwrap_err().kind(),
        MetadataErrorKind::NotFound
    );
    // Oldest first, each once, leased.
    let lease = time::Duration::seconds(60);
    let claimed = store
        .claim_onboarding(at(10), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.tenant_id, first.id);
    assert_eq!(claimed.state, Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.lease_until, Some(at(70)));
    let next = store
        .claim_onboarding(at(11), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.tenant_id, second.id);
    assert_eq!(store.claim_onboarding(at(12), lease).await.unwrap(), None);
    // A record in the wrong state changes nothing and records nothing.
    let wrong = store
        .update_onboarding(
            first.id,
            progress(Queued, Running, &[OnboardingStep::Placement], None, 13),
            named("onboarding.step", 13),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), MetadataErrorKind::InvalidState);
    assert_eq!(actions(&store, first.id, "onboarding.step").await, 0);
    // A step's record keeps the lease.
    let step = store
        .update_onboarding(
            first.id,
            progress(Running, Running, &[OnboardingStep::Placement], None, 14),
            named("onboarding.step", 14),
        )
        .await
        .unwrap();
    assert_eq!(step.steps_done, [OnboardingStep::Placement]);
    assert_eq!(step.current_step, Some(OnboardingStep::Placement));
    assert_eq!(step.lease_until, Some(at(70)));
    assert_eq!(actions(&store, first.id, "onboarding.step").await, 1);
    // A worker that died: its lease runs out and another takes over.
    assert_eq!(store.claim_onboarding(at(69), lease).await.unwrap(), None);
    let taken = store
        .claim_onboarding(at(71), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.tenant_id, first.id);
    assert_eq!(taken.attempts, 2);
    assert_eq!(taken.steps_done, [OnboardingStep::Placement]);
    // Done, and the tenant active, in one change.
    let all = OnboardingStep::ALL;
    let done = store
        .update_onboarding(
            first.id,
            progress(Running, Done, all, Some(TenantStatus::Active), 72),
            named("tenant.activated", 72),
        )
        .await
        .unwrap();
    assert_eq!(done.state, Done);
    assert_eq!(done.lease_until, None);
    assert_eq!(store.get_onboarding(first.id).await.unwrap(), done);
    assert_eq!(
        store.get_tenant(first.id).await.unwrap().status,
        TenantStatus::Active
    );
    assert_eq!(
        store.get_tenant(second.id).await.unwrap().status,
        TenantStatus::Provisioning
    );
    assert_eq!(actions(&store, first.id, "tenant.activated").await, 1);
    assert_eq!(
        store
            .claim_onboarding(at(500), lease)
            .await
            .unwrap()
            .map(|j| j.tenant_id),
        Some(second.id)
    );
    assert_eq!(store.claim_onboarding(at(501), lease).await.unwrap(), None);
}

pub async fn failed_onboarding_is_requeued_and_reclaimed(store: Store) {
    use OnboardingState::{Failed, Queued, Running};
    let t = queue(&store, "onb-fails", 0).await;
    let lease = time::Duration::seconds(60);
    store.claim_onboarding(at(1), lease).await.unwrap().unwrap();
    let mut failure = progress(
        Running,
        Failed,
        &[],
        Some(TenantStatus::ProvisioningFailed),
        2,
    );
    failure.current_step = Some(OnboardingStep::AdminUser);
    failure.last_error = Some("admin_user: boom".into());
    let failed = store
        .update_onboarding(t.id, failure, named("onboarding.failed", 2))
        .await
        .unwrap();
    assert_eq!(failed.state, Failed);
    assert_eq!(failed.current_step, Some(OnboardingStep::AdminUser));
    assert_eq!(failed.last_error.as_deref(), Some("admin_user: boom"));
    assert_eq!(
        store.get_tenant(t.id).await.unwrap().status,
        TenantStatus::ProvisioningFailed
    );
    // A failed onboarding is never claimed, even long after.
    assert_eq!(
        store.claim_onboarding(at(10_000), lease).await.unwrap(),
        None
    );
    let requeued = store
        .update_onboarding(
            t.id,
            progress(Failed, Queued, &[], Some(TenantStatus::Provisioning), 3),
            named("onboarding.retried", 3),
        )
        .await
        .unwrap();
    assert_eq!(requeued.state, Queued);
    assert_eq!(
        store.get_tenant(t.id).await.unwrap().status,
        TenantStatus::Provisioning
    );
    let again = store.claim_onboarding(at(4), lease).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    // Retrying what is not failed is refused.
    let err = store
        .update_onboarding(t.id, progress(Failed, Queued, &[], None, 5), record())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::InvalidState);
    assert_eq!(
        store
            .update_onboarding(
                TenantId::new_random(),
                progress(Running, Failed, &[], None, 5),
                record()
            )
            .await
            .unwrap_err()
            .kind(),
        MetadataErrorKind::NotFound
    );
}

pub async fn remove_user_is_idempotent_and_spares_owners(store: Store) {
    let t = tenant(&store, "rm-users").await;
    user(&store, &t, "gone", &[Role::Admin]).await;
    store
        .remove_user(&scope(&t), &subject("gone"), named("user.removed", 1))
        .await
        .unwrap();
    assert_eq!(actions(&store, t.id, "user.removed").await, 1);
    // Again: nothing to remove, nothing recorded.
    store
        .remove_user(&scope(&t), &subject("gone"), named("user.removed", 2))
        .await
        .unwrap();
    assert_eq!(actions(&store, t.id, "user.removed").await, 1);
    // A new user of the same subject is a new user.
    let owner = user(&store, &t, "owner", &[Role::Editor]).await;
    reserve(&store, &t, file(&t, (owner, "owner"), "/", "a.pdf", 1, 3)).await;
    let err = store
        .remove_user(&scope(&t), &subject("owner"), record())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::Conflict);
    // Another tenant's user of the same subject is untouched.
    let other = tenant(&store, "rm-users-other").await;
    let theirs = user(&store, &other, "owner", &[Role::Viewer]).await;
    store
        .remove_user(&scope(&t), &subject("nobody"), record())
        .await
        .unwrap();
    assert_eq!(user(&store, &other, "owner", &[Role::Viewer]).await, theirs);
}

pub async fn purge_removes_only_a_cancelled_tenant(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    for (tn, name) in [(&t, "alice"), (&other, "bob")] {
        let o = user(&store, tn, name, &[Role::Editor]).await;
        available(&store, tn, file(tn, (o, name), "/", "f", 7, 1)).await;
    }
    let purged = || coffer_ports::PlatformRecord {
        actor: subject("system:coffer"),
        action: "tenant.purged".into(),
        detail: json!({}),
        at: at(100),
    };
    assert_kind(
        store.purge_tenant(t.id, purged()).await,
        MetadataErrorKind::InvalidState,
        "an active tenant",
    );
    assert_kind(
        store.purge_tenant(TenantId::new_random(), purged()).await,
        MetadataErrorKind::NotFound,
        "an unknown tenant",
    );
    let usage = store.tenant_usage(None, 10).await.unwrap();
    let mut summary: Vec<(String, u64, u64)> = usage
        .items
        .iter()
        .map(|u| (u.slug.to_string(), u.usage.file_count, u.users))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![("acme".into(), 1, 1), ("other".into(), 1, 1)],
        "the platform path reads every tenant's usage"
    );

    let cancel = TenantPatch {
        status: Some(TenantStatus::Cancelled),
        ..TenantPatch::default()
    };
    store.update_tenant(t.id, cancel, record()).await.unwrap();
    store.purge_tenant(t.id, purged()).await.unwrap();
    assert_kind(
        store.get_tenant(t.id).await,
        MetadataErrorKind::NotFound,
        "purged",
    );
    assert_eq!(store.usage(&scope(&t)).await.unwrap(), Usage::default());
    assert!(events(&store, &t).await.is_empty());
    assert_eq!(
        audited(&store, &t, "contract.change").await,
        0,
        "its audit log went with it"
    );
    // Nothing of the other tenant.
    assert_eq!(store.usage(&scope(&other)).await.unwrap().file_count, 1);
    assert!(audited(&store, &other, "contract.change").await > 0);
    let left = store.tenant_usage(None, 10).await.unwrap();
    assert_eq!(left.items.len(), 1);
}

// ---------------------------------------------------------------- billing

fn billing_event(id: &str, tenant: Option<&Tenant>, outcome: &str) -> NewBillingEvent {
    NewBillingEvent {
        id: id.to_owned(),
        kind: "customer.subscription.updated".to_owned(),
        tenant: tenant.map(|t| t.id),
        outcome: outcome.to_owned(),
        detail: json!({ "plan": "enterprise" }),
        occurred_at: Some(at(5)),
        received_at: at(6),
        stream: None,
    }
}

fn plan_effect(t: TenantId, plan: Plan, secs: i64) -> BillingEffect {
    BillingEffect {
        tenant: t,
        change: BillingChange::Tenant(TenantPatch {
            plan: Some(plan),
            ..TenantPatch::default()
        }),
        journal: change("tenant.updated", None, secs, true),
    }
}

fn notice_effect(t: TenantId, value: Option<serde_json::Value>, secs: i64) -> BillingEffect {
    BillingEffect {
        tenant: t,
        change: BillingChange::Setting {
            key: "billing".to_owned(),
            value,
        },
        journal: change("billing.notice", None, secs, false),
    }
}

pub async fn billing_events_are_recorded_once_with_their_effect(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let first = store
        .record_billing_event(
            billing_event("evt_1", Some(&t), "applied"),
            Some(plan_effect(t.id, Plan::Enterprise, 1)),
        )
        .await
        .unwrap();
    let BillingRecorded::Recorded(Some(changed)) = first else {
        panic!("the first delivery is recorded with its change: {first:?}");
    };
    assert_eq!(changed.plan, Plan::Enterprise);
    assert_eq!(store.get_tenant(t.id).await.unwrap().plan, Plan::Enterprise);
    assert_eq!(audited(&store, &t, "tenant.updated").await, 1);
    assert_eq!(events(&store, &t).await.len(), 1);

    // The plan changes by other means; a replay of the first id changes nothing.
    store
        .update_tenant(
            t.id,
            TenantPatch {
                plan: Some(Plan::Starter),
                ..TenantPatch::default()
            },
            change("tenant.admin", None, 2, false),
        )
        .await
        .unwrap();
    let replay = store
        .record_billing_event(
            billing_event("evt_1", Some(&t), "applied"),
            Some(plan_effect(t.id, Plan::Enterprise, 3)),
        )
        .await
        .unwrap();
    assert_eq!(replay, BillingRecorded::Replay);
    assert_eq!(store.get_tenant(t.id).await.unwrap().plan, Plan::Starter);
    assert_eq!(audited(&store, &t, "tenant.updated").await, 1);
    assert_eq!(events(&store, &t).await.len(), 1);

    // An event without an effect is recorded, and its id protected, too.
    assert_eq!(
        store
            .record_billing_event(billing_event("evt_2", None, "ignored"), None)
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    assert_eq!(
        store
            .record_billing_event(
                billing_event("evt_2", Some(&t), "applied"),
                Some(plan_effect(t.id, Plan::Enterprise, 4)),
            )
            .await
            .unwrap(),
        BillingRecorded::Replay
    );
    assert_eq!(store.get_tenant(t.id).await.unwrap().plan, Plan::Starter);

    // A notice is a tenant setting, set and cleared with the event.
    let notice = json!({ "payment_failed_at": "2026-12-01T00:00:00Z", "invoice": "in_1" });
    assert_eq!(
        store
            .record_billing_event(
                billing_event("evt_3", Some(&t), "applied"),
                Some(notice_effect(t.id, Some(notice.clone()), 5)),
            )
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    assert_eq!(
        store.get_setting(&scope(&t), "billing").await.unwrap(),
        Some(notice)
    );
    assert_eq!(
        store.get_setting(&scope(&other), "billing").await.unwrap(),
        None
    );
    store
        .record_billing_event(
            billing_event("evt_4", Some(&t), "applied"),
            Some(notice_effect(t.id, None, 6)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_setting(&scope(&t), "billing").await.unwrap(),
        None
    );
    assert_eq!(audited(&store, &t, "billing.notice").await, 2);
    assert_eq!(audited(&store, &other, "billing.notice").await, 0);
    assert_eq!(other.plan, store.get_tenant(other.id).await.unwrap().plan);
}

pub async fn billing_events_for_a_missing_tenant_record_nothing(store: Store) {
    let missing = TenantId::new_random();
    for (id, effect) in [
        ("evt_plan", plan_effect(missing, Plan::Enterprise, 1)),
        (
            "evt_notice",
            notice_effect(missing, Some(json!({"x": 1})), 1),
        ),
    ] {
        let mut event = billing_event(id, None, "applied");
        event.tenant = Some(missing);
        assert_kind(
            store.record_billing_event(event, Some(effect)).await,
            MetadataErrorKind::NotFound,
            id,
        );
        // Nothing of the failed attempt was kept: the id is still new.
        assert_eq!(
            store
                .record_billing_event(billing_event(id, None, "ignored"), None)
                .await
                .unwrap(),
            BillingRecorded::Recorded(None),
            "{id}"
        );
    }
}

pub async fn concurrent_billing_events_with_one_id_apply_once(store: Store) {
    let t = tenant(&store, "acme").await;
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        let t = t.id;
        tokio::spawn(async move {
            store
                .record_billing_event(
                    NewBillingEvent {
                        id: "evt_race".to_owned(),
                        kind: "customer.subscription.updated".to_owned(),
                        tenant: Some(t),
                        outcome: "applied".to_owned(),
                        detail: json!({}),
                        occurred_at: None,
                        received_at: at(n),
                        stream: None,
                    },
                    Some(plan_effect(t, Plan::Enterprise, n)),
                )
                .await
        })
    });
    let mut recorded = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap() {
            Ok(BillingRecorded::Recorded(_)) => recorded += 1,
            Ok(BillingRecorded::Replay) => {}
            Ok(BillingRecorded::Superseded) => panic!("an unordered event is never superseded"),
            Err(e) => assert!(
                e.is(MetadataErrorKind::Unavailable),
                "a concurrent delivery fails only as retryable: {e}"
            ),
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(audited(&store, &t, "tenant.updated").await, 1);
}

/// A subscription event of `t` that occurred at `secs`, changing the plan.
fn subscription_event(id: &str, t: &Tenant, secs: i64) -> NewBillingEvent {
    NewBillingEvent {
        stream: Some("subscription".to_owned()),
        occurred_at: Some(at(secs)),
        received_at: at(100 + secs),
        ..billing_event(id, Some(t), "applied")
    }
}

pub async fn billing_events_older_than_their_stream_change_nothing(store: Store) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let newer = store
        .record_billing_event(
            subscription_event("evt_new", &t, 20),
            Some(plan_effect(t.id, Plan::Enterprise, 20)),
        )
        .await
        .unwrap();
    assert!(
        matches!(newer, BillingRecorded::Recorded(Some(_))),
        "{newer:?}"
    );
    // Delivered late: it occurred before the event already applied.
    let late = store
        .record_billing_event(
            subscription_event("evt_old", &t, 10),
            Some(plan_effect(t.id, Plan::Professional, 21)),
        )
        .await
        .unwrap();
    assert_eq!(late, BillingRecorded::Superseded);
    assert_eq!(store.get_tenant(t.id).await.unwrap().plan, Plan::Enterprise);
    assert_eq!(audited(&store, &t, "tenant.updated").await, 1);
    // It is on record: delivered again, it is a replay.
    assert_eq!(
        store
            .record_billing_event(subscription_event("evt_old", &t, 10), None)
            .await
            .unwrap(),
        BillingRecorded::Replay
    );
    // Another stream of the tenant, and the same stream of another tenant,
    // are ordered on their own.
    let invoice = NewBillingEvent {
        stream: Some("invoice".to_owned()),
        ..subscription_event("evt_invoice", &t, 5)
    };
    assert_eq!(
        store
            .record_billing_event(invoice, Some(notice_effect(t.id, Some(json!({})), 22)))
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    let theirs = store
        .record_billing_event(
            subscription_event("evt_theirs", &other, 10),
            Some(plan_effect(other.id, Plan::Professional, 23)),
        )
        .await
        .unwrap();
    assert!(
        matches!(theirs, BillingRecorded::Recorded(Some(_))),
        "{theirs:?}"
    );
    // An event of the same second as the latest is not older: it applies.
    let same_second = store
        .record_billing_event(
            subscription_event("evt_same", &t, 20),
            Some(plan_effect(t.id, Plan::Starter, 24)),
        )
        .await
        .unwrap();
    assert!(
        matches!(same_second, BillingRecorded::Recorded(Some(_))),
        "{same_second:?}"
    );
    assert_eq!(store.get_tenant(t.id).await.unwrap().plan, Plan::Starter);
}

pub async fn racing_billing_events_end_at_the_latest(store: Store) {
    let t = tenant(&store, "acme").await;
    let plans = [Plan::Enterprise, Plan::Starter, Plan::Professional];
    // Eight deliveries at once, occurred at 1..=8 s; whichever commits
    // first, the plan of the one that occurred last is where it ends.
    let attempts = (1..=8_i64).map(|n| {
        let store = store.clone();
        let t = t.clone();
        let plan = plans[usize::try_from(n).unwrap() % plans.len()];
        tokio::spawn(async move {
            loop {
                let result = store
                    .record_billing_event(
                        subscription_event(&format!("evt_{n}"), &t, n),
                        Some(plan_effect(t.id, plan, n)),
                    )
                    .await;
                match result {
                    Err(e) if e.is(MetadataErrorKind::Unavailable) => continue,
                    other => break other.unwrap(),
                }
            }
        })
    });
    for attempt in futures::future::join_all(attempts).await {
        attempt.unwrap();
    }
    assert_eq!(
        store.get_tenant(t.id).await.unwrap().plan,
        plans[8 % plans.len()]
    );
}

pub async fn webhooks_are_listed_across_tenants(store: Store) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "bravo").await;
    let quiet = tenant(&store, "quiet").await;
    for (t, url) in [(&a, "https://a.example/"), (&b, "https://b.example/")] {
        store
            .put_setting(
                &scope(t),
                "webhook",
                Some(json!({ "url": url })),
                change("webhook.set", None, 1, false),
            )
            .await
            .unwrap();
    }
    // Another setting does not make a tenant appear.
    store
        .put_setting(
            &scope(&quiet),
            "url_ttl_secs",
            Some(json!(60)),
            change("setting.set", None, 2, false),
        )
        .await
        .unwrap();
    let mut found: Vec<(String, serde_json::Value)> = store
        .setting_across_tenants("webhook")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, slug, value)| {
            assert!(id == a.id || id == b.id);
            (slug.to_string(), value)
        })
        .collect();
    found.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        found,
        vec![
            ("acme".to_owned(), json!({ "url": "https://a.example/" })),
            ("bravo".to_owned(), json!({ "url": "https://b.example/" })),
        ]
    );
    store
        .put_setting(
            &scope(&a),
            "webhook",
            None,
            change("webhook.removed", None, 3, false),
        )
        .await
        .unwrap();
    let left = store.setting_across_tenants("webhook").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, b.id);
}
