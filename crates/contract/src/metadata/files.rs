//! [`coffer_ports::FileCatalog`]: a tenant's files reserved against its
//! quota, completed, changed, trashed, restored, removed and listed.

use std::collections::BTreeSet;
use std::sync::Arc;

use coffer_domain::{
    Access, Category, FileId, FileRecord, FileStatus, Filename, GrantId, GrantSubject, LogicalPath,
    Metadata, ObjectKey, PageCursor, PlanLimits, Principal, Role, ScanVerdict, Sha256Digest,
    SignatureName, Usage, Visibility, effective_access,
};
use coffer_ports::{
    FilePatch, FileQuery, MetadataErrorKind, MetadataPorts, NewGrant, ObjectFacts, ReadFilter,
};
use serde_json::json;

use super::fixtures::{
    assert_kind, at, available, data, facts, file, grant, limits, names, query, record, reserve,
    scope, set, subject, tenant, user,
};

/// The cases of [`coffer_ports::FileCatalog`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! file_catalog_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; files;
            reserve_records_pending_file_and_reservation,
            other_tenants_files_are_not_found,
            duplicate_live_path_conflicts,
            quota_is_enforced_with_reservations,
            concurrent_reservations_admit_exactly_what_fits,
            mark_available_commits_usage_once,
            a_file_awaiting_its_scan_waits_for_the_verdict,
            multipart_upload_id_only_while_pending,
            update_file_changes_and_conflicts,
            trash_and_restore_transitions,
            remove_file_releases_usage_and_grants,
            list_files_filters,
            list_files_pages_newest_first,
            list_files_read_filter_matches_effective_access,
        );
    };
}

pub async fn reserve_records_pending_file_and_reservation(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let owner = user(&ports, &t, "alice", &[Role::Editor]).await;
    assert_eq!(files.usage(&scope(&t)).await.unwrap(), Usage::default());
    let mut new = file(&t, (owner, "alice"), "/docs", "a.pdf", 100, 1);
    new.checksum_sha256 = Some(Sha256Digest::from_bytes([1; 32]));
    new.visibility = Visibility::Tenant;
    new.metadata = Metadata::new(json!({"project": "x", "n": 1})).unwrap();
    let rec = reserve(&ports, &t, new.clone()).await;
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

    let stored = files.get_file(&scope(&t), rec.id).await.unwrap();
    assert_eq!(stored.file, rec);
    assert!(stored.grants.is_empty());
    assert_eq!(
        files.usage(&scope(&t)).await.unwrap(),
        Usage {
            used_bytes: 0,
            file_count: 0,
            reserved_bytes: 100,
            reserved_files: 1
        }
    );
    assert_kind(
        files.get_file(&scope(&t), FileId::new_v7()).await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn other_tenants_files_are_not_found(ports: MetadataPorts) {
    let a = tenant(&ports, "tenant-a").await;
    let b = tenant(&ports, "tenant-b").await;
    let alice = user(&ports, &a, "alice", &[Role::Admin]).await;
    user(&ports, &b, "bob", &[Role::Admin]).await;
    let rec = available(
        &ports,
        &a,
        file(&a, (alice, "alice"), "/", "secret.pdf", 10, 1),
    )
    .await;
    // B's stores, in B's scope, asked for A's file.
    let theirs = data(&ports, &b).await;
    let sb = scope(&b);
    let id = rec.id;
    assert_kind(
        theirs.files.get_file(&sb, id).await,
        MetadataErrorKind::NotFound,
        "get",
    );
    assert_kind(
        theirs
            .files
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
        theirs.files.trash_file(&sb, id, at(5), record()).await,
        MetadataErrorKind::NotFound,
        "trash",
    );
    assert_kind(
        theirs.files.restore_file(&sb, id, at(5), record()).await,
        MetadataErrorKind::NotFound,
        "restore",
    );
    assert_kind(
        theirs.files.set_multipart_upload(&sb, id, "u1").await,
        MetadataErrorKind::NotFound,
        "multipart",
    );
    assert_kind(
        theirs
            .files
            .mark_available(&sb, id, facts(&rec, 10, 5), record())
            .await,
        MetadataErrorKind::NotFound,
        "mark available",
    );
    assert_kind(
        theirs.grants.list_grants(&sb, id).await,
        MetadataErrorKind::NotFound,
        "list grants",
    );
    assert_kind(
        theirs
            .grants
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
        theirs.files.remove_file(&sb, id, Some(record())).await,
        MetadataErrorKind::NotFound,
        "remove",
    );
    let listed = theirs
        .files
        .list_files(&sb, &query(ReadFilter::All))
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "B lists nothing of A");
    assert_eq!(theirs.files.usage(&sb).await.unwrap(), Usage::default());
    // …and A's file is untouched.
    let still = data(&ports, &a)
        .await
        .files
        .get_file(&scope(&a), id)
        .await
        .unwrap()
        .file;
    assert_eq!(still, rec);
}

pub async fn duplicate_live_path_conflicts(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let first = reserve(&ports, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 1)).await;
    assert_kind(
        files
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
    assert_eq!(files.usage(&scope(&t)).await.unwrap().reserved_files, 1);
    // Another folder or another name is fine; so is another tenant.
    reserve(&ports, &t, file(&t, (o, "alice"), "/other", "a.pdf", 1, 3)).await;
    reserve(&ports, &t, file(&t, (o, "alice"), "/docs", "b.pdf", 1, 4)).await;
    let u = tenant(&ports, "umbrella").await;
    let uo = user(&ports, &u, "alice", &[Role::Editor]).await;
    reserve(&ports, &u, file(&u, (uo, "alice"), "/docs", "a.pdf", 1, 5)).await;

    // Trash frees the name; restoring then conflicts with the new file.
    files
        .mark_available(&scope(&t), first.id, facts(&first, 1, 6), record())
        .await
        .unwrap();
    files
        .trash_file(&scope(&t), first.id, at(7), record())
        .await
        .unwrap();
    let second = reserve(&ports, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 8)).await;
    assert_kind(
        files
            .restore_file(&scope(&t), first.id, at(9), record())
            .await,
        MetadataErrorKind::Conflict,
        "restore onto a live name",
    );
    assert_eq!(
        files
            .get_file(&scope(&t), first.id)
            .await
            .unwrap()
            .file
            .status,
        FileStatus::Deleted
    );
    files
        .remove_file(&scope(&t), second.id, Some(record()))
        .await
        .unwrap();
    let restored = files
        .restore_file(&scope(&t), first.id, at(10), record())
        .await
        .unwrap();
    assert_eq!(restored.status, FileStatus::Available);
}

pub async fn quota_is_enforced_with_reservations(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let tight = PlanLimits {
        max_total_bytes: 100,
        max_files: 3,
        ..limits()
    };
    let s = scope(&t);
    files
        .reserve_upload(
            &s,
            file(&t, (o, "alice"), "/", "a", 60, 1),
            &tight,
            record(),
        )
        .await
        .unwrap();
    assert_kind(
        files
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
    files
        .reserve_upload(
            &s,
            file(&t, (o, "alice"), "/", "c", 40, 3),
            &tight,
            record(),
        )
        .await
        .unwrap();
    let usage = files.usage(&s).await.unwrap();
    assert_eq!((usage.reserved_bytes, usage.reserved_files), (100, 2));
    files
        .reserve_upload(&s, file(&t, (o, "alice"), "/", "d", 0, 4), &tight, record())
        .await
        .unwrap();
    assert_kind(
        files
            .reserve_upload(&s, file(&t, (o, "alice"), "/", "e", 0, 5), &tight, record())
            .await,
        MetadataErrorKind::QuotaExceeded,
        "file count",
    );
    assert_eq!(files.usage(&s).await.unwrap().reserved_files, 3);
}

/// Races `attempts` reservations of `size` bytes against `limits` and
/// returns how many were admitted and the usage afterwards.
async fn race(
    ports: &MetadataPorts,
    slug: &str,
    limits: PlanLimits,
    attempts: usize,
    size: u64,
) -> (usize, Usage) {
    let t = tenant(ports, slug).await;
    let files = data(ports, &t).await.files.clone();
    let owner = user(ports, &t, "alice", &[Role::Editor]).await;
    let limits = Arc::new(limits);
    let scope = scope(&t);
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            let files = files.clone();
            let limits = limits.clone();
            let f = file(&t, (owner, "alice"), "/", &format!("f{i}"), size, 1);
            tokio::spawn(async move { files.reserve_upload(&scope, f, &limits, record()).await })
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
    (admitted, files.usage(&scope).await.unwrap())
}

pub async fn concurrent_reservations_admit_exactly_what_fits(ports: MetadataPorts) {
    let bytes = PlanLimits {
        max_total_bytes: 1000,
        ..limits()
    };
    let (admitted, usage) = race(&ports, "bytes", bytes, 24, 100).await;
    assert_eq!(admitted, 10, "1000 bytes fit ten 100-byte uploads");
    assert_eq!((usage.reserved_bytes, usage.reserved_files), (1000, 10));

    let files = PlanLimits {
        max_files: 7,
        ..limits()
    };
    let (admitted, usage) = race(&ports, "files", files, 20, 1).await;
    assert_eq!(admitted, 7);
    assert_eq!(usage.reserved_files, 7);
}

pub async fn mark_available_commits_usage_once(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let rec = reserve(&ports, &t, file(&t, (o, "alice"), "/", "a.pdf", 100, 1)).await;
    // Completing moves the file to the key of its verified copy.
    let verified = ObjectKey::verified(t.id, &rec.category, rec.id, uuid::Uuid::now_v7());
    let done = files
        .mark_available(
            &s,
            rec.id,
            ObjectFacts {
                key: verified.clone(),
                ..facts(&rec, 100, 20)
            },
            record(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, FileStatus::Available);
    assert_eq!(done.key, verified);
    assert_eq!(files.get_file(&s, rec.id).await.unwrap().file.key, verified);
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
    assert_eq!(files.usage(&s).await.unwrap(), expected);
    // Completing twice is harmless: the first copy's key stays.
    let again = files
        .mark_available(&s, rec.id, facts(&rec, 100, 30), record())
        .await
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(files.usage(&s).await.unwrap(), expected);

    files
        .trash_file(&s, rec.id, at(40), record())
        .await
        .unwrap();
    assert_kind(
        files
            .mark_available(&s, rec.id, facts(&rec, 100, 50), record())
            .await,
        MetadataErrorKind::InvalidState,
        "a deleted file cannot complete",
    );
    assert_kind(
        files
            .mark_available(&s, FileId::new_v7(), facts(&rec, 1, 50), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn multipart_upload_id_only_while_pending(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let rec = reserve(&ports, &t, file(&t, (o, "alice"), "/", "big.bin", 10, 1)).await;
    let with = files
        .set_multipart_upload(&s, rec.id, "upload-1")
        .await
        .unwrap();
    assert_eq!(with.multipart_upload_id.as_deref(), Some("upload-1"));
    assert_eq!(
        files
            .get_file(&s, rec.id)
            .await
            .unwrap()
            .file
            .multipart_upload_id
            .as_deref(),
        Some("upload-1")
    );
    files
        .mark_available(&s, rec.id, facts(&rec, 10, 2), record())
        .await
        .unwrap();
    assert_kind(
        files.set_multipart_upload(&s, rec.id, "upload-2").await,
        MetadataErrorKind::InvalidState,
        "available file",
    );
    assert_kind(
        files.set_multipart_upload(&s, FileId::new_v7(), "u").await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn update_file_changes_and_conflicts(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let a = available(&ports, &t, file(&t, (o, "alice"), "/docs", "a.pdf", 1, 1)).await;
    available(
        &ports,
        &t,
        file(&t, (o, "alice"), "/docs", "taken.pdf", 1, 2),
    )
    .await;
    let meta = Metadata::new(json!({"k": "v"})).unwrap();
    let changed = files
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
    assert_eq!(files.get_file(&s, a.id).await.unwrap().file, changed);

    // Only what the patch names changes.
    let renamed_only = files
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
        files
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
        files
            .update_file(&s, FileId::new_v7(), FilePatch::default(), at(33), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}

pub async fn trash_and_restore_transitions(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&ports, &t, file(&t, (o, "alice"), "/", "p", 5, 1)).await;
    assert_kind(
        files.trash_file(&s, pending.id, at(2), record()).await,
        MetadataErrorKind::InvalidState,
        "trash a pending file",
    );
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 7, 3)).await;
    assert_kind(
        files.restore_file(&s, f.id, at(4), record()).await,
        MetadataErrorKind::InvalidState,
        "restore an available file",
    );
    let before = files.usage(&s).await.unwrap();
    let trashed = files.trash_file(&s, f.id, at(5), record()).await.unwrap();
    assert_eq!(trashed.status, FileStatus::Deleted);
    assert_eq!(trashed.deleted_at, Some(at(5)));
    assert_eq!(files.usage(&s).await.unwrap(), before, "trash keeps usage");
    assert_kind(
        files.trash_file(&s, f.id, at(6), record()).await,
        MetadataErrorKind::InvalidState,
        "trash twice",
    );
    let restored = files.restore_file(&s, f.id, at(7), record()).await.unwrap();
    assert_eq!(restored.status, FileStatus::Available);
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.updated_at, at(7));
    assert_kind(
        files
            .trash_file(&s, FileId::new_v7(), at(8), record())
            .await,
        MetadataErrorKind::NotFound,
        "trash unknown",
    );
    assert_kind(
        files
            .restore_file(&s, FileId::new_v7(), at(8), record())
            .await,
        MetadataErrorKind::NotFound,
        "restore unknown",
    );
}

pub async fn remove_file_releases_usage_and_grants(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&ports, &t, file(&t, (o, "alice"), "/", "p", 5, 1)).await;
    let live = available(&ports, &t, file(&t, (o, "alice"), "/", "l", 7, 2)).await;
    let trashed = available(&ports, &t, file(&t, (o, "alice"), "/", "t", 11, 3)).await;
    d.files
        .trash_file(&s, trashed.id, at(4), record())
        .await
        .unwrap();
    d.grants
        .put_grant(&s, grant(live.id, "user:bob", Access::Read, None), record())
        .await
        .unwrap();
    assert_eq!(
        d.files.usage(&s).await.unwrap(),
        Usage {
            used_bytes: 18,
            file_count: 2,
            reserved_bytes: 5,
            reserved_files: 1
        }
    );
    let removed = d
        .files
        .remove_file(&s, pending.id, Some(record()))
        .await
        .unwrap();
    assert_eq!(removed.id, pending.id);
    d.files
        .remove_file(&s, live.id, Some(record()))
        .await
        .unwrap();
    d.files
        .remove_file(&s, trashed.id, Some(record()))
        .await
        .unwrap();
    assert_eq!(d.files.usage(&s).await.unwrap(), Usage::default());
    assert_kind(
        d.files.get_file(&s, live.id).await,
        MetadataErrorKind::NotFound,
        "removed",
    );
    assert_kind(
        d.grants.list_grants(&s, live.id).await,
        MetadataErrorKind::NotFound,
        "grants of a removed file",
    );
    assert_kind(
        d.files.remove_file(&s, live.id, Some(record())).await,
        MetadataErrorKind::NotFound,
        "remove twice",
    );
}

pub async fn list_files_filters(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let alice = user(&ports, &t, "alice", &[Role::Editor]).await;
    let bob = user(&ports, &t, "bob", &[Role::Editor]).await;
    let s = scope(&t);
    let mut report = file(&t, (alice, "alice"), "/docs", "Annual Report.PDF", 1, 1);
    report.metadata = Metadata::new(json!({"project": "apollo", "year": 2024})).unwrap();
    available(&ports, &t, report).await;
    let mut media = file(&t, (alice, "alice"), "/docs/2024", "photo.png", 1, 2);
    media.category = Category::new("media").unwrap();
    media.key = ObjectKey::for_file(t.id, &media.category, media.id);
    media.metadata = Metadata::new(json!({"project": "apollo"})).unwrap();
    available(&ports, &t, media).await;
    available(
        &ports,
        &t,
        file(&t, (bob, "bob"), "/docsx", "100%_done.txt", 1, 3),
    )
    .await;
    available(&ports, &t, file(&t, (bob, "bob"), "/", "root.txt", 1, 4)).await;
    reserve(
        &ports,
        &t,
        file(&t, (bob, "bob"), "/docs", "pending.txt", 1, 5),
    )
    .await;
    let gone = available(
        &ports,
        &t,
        file(&t, (bob, "bob"), "/docs", "gone.txt", 1, 6),
    )
    .await;
    files
        .trash_file(&s, gone.id, at(7), record())
        .await
        .unwrap();

    let all = query(ReadFilter::All);
    assert_eq!(
        names(&ports, &t, &all).await,
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
            with(&|q| q.filename = Some(Filename::new("Annual Report.PDF").unwrap())),
            set(&["Annual Report.PDF"]),
        ),
        (
            // Exact: neither a part of the name nor another case.
            with(&|q| q.filename = Some(Filename::new("Annual Report").unwrap())),
            set(&[]),
        ),
        (
            with(&|q| q.filename = Some(Filename::new("annual report.pdf").unwrap())),
            set(&[]),
        ),
        (
            // With a folder: the file at that place, not a namesake below it.
            with(&|q| {
                q.filename = Some(Filename::new("photo.png").unwrap());
                q.path = Some(LogicalPath::new("/docs").unwrap());
            }),
            set(&[]),
        ),
        (
            with(&|q| {
                q.filename = Some(Filename::new("photo.png").unwrap());
                q.path = Some(LogicalPath::new("/docs/2024").unwrap());
            }),
            set(&["photo.png"]),
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
        assert_eq!(names(&ports, &t, &q).await, expected, "{q:?}");
    }
}

pub async fn list_files_pages_newest_first(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let mut expected = Vec::new();
    // Pairs share a creation time: the id breaks the tie.
    for i in 0..7 {
        let rec = available(
            &ports,
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
        let page = files.list_files(&scope(&t), &q).await.unwrap();
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
        files
            .list_files(&scope(&t), &exact)
            .await
            .unwrap()
            .next_cursor,
        None
    );
}

pub async fn list_files_read_filter_matches_effective_access(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let s = scope(&t);
    let alice = user(&ports, &t, "alice", &[Role::Editor]).await;
    let bob = user(&ports, &t, "bob", &[Role::Viewer]).await;
    let now = at(1000);

    let own = available(
        &ports,
        &t,
        file(&t, (alice, "alice"), "/", "alice-private", 1, 1),
    )
    .await;
    let mut shared = file(&t, (alice, "alice"), "/", "alice-tenant", 1, 2);
    shared.visibility = Visibility::Tenant;
    let shared = available(&ports, &t, shared).await;
    let to_carol = available(&ports, &t, file(&t, (bob, "bob"), "/", "for-carol", 1, 3)).await;
    let to_viewers = available(&ports, &t, file(&t, (bob, "bob"), "/", "for-viewers", 1, 4)).await;
    let expired = available(&ports, &t, file(&t, (bob, "bob"), "/", "expired", 1, 5)).await;
    let future = available(&ports, &t, file(&t, (bob, "bob"), "/", "future", 1, 6)).await;
    available(&ports, &t, file(&t, (bob, "bob"), "/", "bob-private", 1, 7)).await;
    d.grants
        .put_grant(
            &s,
            grant(to_carol.id, "user:carol", Access::Read, None),
            record(),
        )
        .await
        .unwrap();
    d.grants
        .put_grant(
            &s,
            grant(to_viewers.id, "role:viewer", Access::Read, None),
            record(),
        )
        .await
        .unwrap();
    d.grants
        .put_grant(
            &s,
            grant(expired.id, "user:carol", Access::Write, Some(999)),
            record(),
        )
        .await
        .unwrap();
    d.grants
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
    let everything = d
        .files
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
            let grants = d.files.get_file(&s, f.id).await.unwrap().grants;
            if effective_access(&principal, f, &grants, now).is_some() {
                expected.insert(f.filename.to_string());
            }
        }
        let filter = ReadFilter::Readable {
            subject: subject(sub),
            roles: roles.clone(),
            now,
        };
        let got = names(&ports, &t, &query(filter)).await;
        assert_eq!(got, expected, "{sub} {roles:?}");
    }
    // Spot checks, so the comparison cannot pass vacuously.
    let carol = names(
        &ports,
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
        &ports,
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

pub async fn a_file_awaiting_its_scan_waits_for_the_verdict(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let scanned = |rec: &FileRecord, secs| ObjectFacts {
        awaits_scan: true,
        retention: None,
        ..facts(rec, 100, secs)
    };
    let clean = reserve(&ports, &t, file(&t, (o, "alice"), "/", "a.pdf", 100, 1)).await;
    let waiting = files
        .mark_available(&s, clean.id, scanned(&clean, 2), record())
        .await
        .unwrap();
    assert_eq!(waiting.status, FileStatus::Scanning);
    assert_eq!(waiting.scan_verdict, None);
    // Its bytes are stored: they count, and its name is taken.
    assert_eq!(files.usage(&s).await.unwrap().used_bytes, 100);
    assert_kind(
        files
            .reserve_upload(
                &s,
                file(&t, (o, "alice"), "/", "a.pdf", 1, 3),
                &limits(),
                record(),
            )
            .await,
        MetadataErrorKind::Conflict,
        "the name of a file being scanned",
    );
    // A retried complete changes nothing.
    let again = files
        .mark_available(&s, clean.id, facts(&clean, 100, 4), record())
        .await
        .unwrap();
    assert_eq!(again, waiting);

    let done = files
        .record_scan(&s, clean.id, ScanVerdict::Clean, at(5), record())
        .await
        .unwrap();
    assert_eq!(done.status, FileStatus::Available);
    assert_eq!(done.scan_verdict, Some(ScanVerdict::Clean));
    assert_eq!(done.updated_at, at(5));
    assert_eq!(files.get_file(&s, clean.id).await.unwrap().file, done);
    assert_kind(
        files
            .record_scan(&s, clean.id, ScanVerdict::Clean, at(6), record())
            .await,
        MetadataErrorKind::InvalidState,
        "a verdict for a file that is not being scanned",
    );

    let bad = reserve(&ports, &t, file(&t, (o, "alice"), "/", "b.pdf", 100, 7)).await;
    assert_kind(
        files
            .record_scan(&s, bad.id, ScanVerdict::Clean, at(8), record())
            .await,
        MetadataErrorKind::InvalidState,
        "a verdict for a pending upload",
    );
    files
        .mark_available(&s, bad.id, scanned(&bad, 9), record())
        .await
        .unwrap();
    let eicar = ScanVerdict::infected(SignatureName::new("Eicar-Test-Signature").unwrap());
    let other = tenant(&ports, "umbrella").await;
    assert_kind(
        data(&ports, &other)
            .await
            .files
            .record_scan(&scope(&other), bad.id, eicar.clone(), at(10), record())
            .await,
        MetadataErrorKind::NotFound,
        "another tenant's file",
    );
    let quarantined = files
        .record_scan(&s, bad.id, eicar.clone(), at(11), record())
        .await
        .unwrap();
    assert_eq!(quarantined.status, FileStatus::Quarantined);
    assert_eq!(quarantined.scan_verdict, Some(eicar));
    assert_eq!(files.usage(&s).await.unwrap().used_bytes, 200);
    assert_kind(
        files
            .record_scan(&s, FileId::new_v7(), ScanVerdict::Clean, at(12), record())
            .await,
        MetadataErrorKind::NotFound,
        "an unknown file",
    );
}
