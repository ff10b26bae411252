use bytes::Bytes;
use coffer_domain::{
    ContentType, FileStatus, Filename, LimitOverrides, Role, Sha256Digest, TenantStatus,
};
use coffer_ports::{
    ByteStream, GetObject, MetadataErrorKind, MockFileVersions, MockScanQueue, ObjectMeta,
    StoreErrorKind, UploadedPart,
};
use coffer_service::{ErrorKind, InitiateUpload, NewFileFields, StreamUpload, UploadTarget};
use futures::StreamExt as _;
use mockall::Sequence;

use crate::support::*;

const PDF: &[u8] = b"%PDF-1.7\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn fields(name: &str, content_type: Option<&str>) -> NewFileFields {
    NewFileFields {
        filename: Filename::new(name).unwrap(),
        content_type: content_type.map(|c| ContentType::new(c).unwrap()),
        category: None,
        path: None,
        visibility: None,
        metadata: None,
        checksum_sha256: None,
    }
}

fn initiate(name: &str, size: u64) -> InitiateUpload {
    InitiateUpload {
        file: fields(name, None),
        size,
        multipart: false,
    }
}

fn reserve_echo(fx: &mut FilesFx) {
    fx.files
        .expect_reserve_upload()
        .returning(|scope, new, _, _| {
            assert_eq!(
                scope.tenant_id(),
                new.key.tenant().unwrap(),
                "key must be under the caller's tenant"
            );
            Ok(pending_from(scope.tenant_id(), new))
        });
}

pub(crate) fn pending_from(
    tenant: coffer_domain::TenantId,
    new: coffer_ports::NewFile,
) -> coffer_domain::FileRecord {
    coffer_domain::FileRecord {
        id: new.id,
        tenant_id: tenant,
        owner_id: new.owner_id,
        owner: new.owner,
        category: new.category,
        path: new.path,
        filename: new.filename,
        content_type: new.content_type,
        size_bytes: new.size_bytes,
        checksum_sha256: new.checksum_sha256,
        visibility: new.visibility,
        metadata: new.metadata,
        status: FileStatus::Pending,
        bucket: new.bucket,
        key: new.key,
        multipart_upload_id: None,
        upload_expires_at: Some(new.upload_expires_at),
        scan_verdict: None,
        created_at: new.created_at,
        updated_at: new.created_at,
        deleted_at: None,
        retention: None,
        legal_hold: false,
        version: 1,
        version_of: None,
    }
}

fn body(chunks: &[&'static [u8]]) -> ByteStream {
    let chunks: Vec<_> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    Box::pin(futures::stream::iter(chunks))
}

fn object(bytes: &'static [u8]) -> GetObject {
    GetObject {
        total_size: bytes.len() as u64,
        range: None,
        content_type: None,
        etag: None,
        body: body(&[bytes]),
    }
}

#[tokio::test]
async fn initiate_reserves_and_presigns_a_bound_put() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    reserve_echo(&mut fx);
    let checksum = Sha256Digest::from_bytes([7; 32]);
    fx.store
        .expect_presign_put()
        .withf(move |r| {
            r.content_length == 1234
                && r.content_type.essence() == "application/pdf"
                && r.checksum_sha256 == Some(checksum)
                && r.expires_in.as_secs() == 300
        })
        .returning(|_| Ok(presigned("PUT")));
    let mut request = initiate("contract.pdf", 1234);
    request.file.checksum_sha256 = Some(checksum);
    let up = fx
        .build()
        .initiate_upload(&caller(&t, "alice", &[Role::Editor]), request)
        .await
        .unwrap();
    assert_eq!(up.file.status, FileStatus::Pending);
    assert_eq!(up.file.owner.as_str(), "alice");
    // The client's bytes go to the file's staging key, never to a key a
    // verified file is read from.
    assert_eq!(
        up.file.key.as_str(),
        format!("t/{}/_staging/{}", t.id, up.file.id)
    );
    assert!(matches!(up.upload, UploadTarget::Single(ref r) if r.method == "PUT"));
}

#[tokio::test]
async fn viewers_cannot_upload() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    fx.files.expect_reserve_upload().never();
    let result = fx
        .build()
        .initiate_upload(&caller(&t, "v", &[Role::Viewer]), initiate("a.pdf", 1))
        .await;
    assert_err(result, ErrorKind::Forbidden, "role_cannot_create");
}

#[tokio::test]
async fn plan_limits_refuse_before_reserving() {
    let t = limited(LimitOverrides {
        max_file_size: Some(100),
        allowed_content_types: Some(vec!["application/pdf".into()]),
        ..Default::default()
    });
    let mut fx = FilesFx::default();
    fx.files.expect_reserve_upload().never();
    let app = fx.build();
    let c = caller(&t, "alice", &[Role::Editor]);
    assert_err(
        app.initiate_upload(&c, initiate("a.pdf", 101)).await,
        ErrorKind::PayloadTooLarge,
        "file_too_large",
    );
    assert_err(
        app.initiate_upload(&c, initiate("a.html", 10)).await,
        ErrorKind::UnsupportedMediaType,
        "content_type_not_allowed",
    );
}

#[tokio::test]
async fn quota_and_duplicates_come_from_the_reservation() {
    for (kind, status, code) in [
        (
            MetadataErrorKind::QuotaExceeded,
            ErrorKind::PayloadTooLarge,
            "quota_exceeded",
        ),
        (
            MetadataErrorKind::Conflict,
            ErrorKind::Conflict,
            "duplicate_path",
        ),
    ] {
        let t = tenant(TenantStatus::Active);
        let mut fx = FilesFx::default();
        fx.files
            .expect_reserve_upload()
            .returning(move |_, _, _, _| Err(meta_err(kind)));
        fx.store.expect_presign_put().never();
        let result = fx
            .build()
            .initiate_upload(&caller(&t, "a", &[Role::Editor]), initiate("a.pdf", 1))
            .await;
        assert_err(result, status, code);
    }
}

#[tokio::test]
async fn a_failed_presign_releases_the_reservation() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    reserve_echo(&mut fx);
    fx.store
        .expect_presign_put()
        .returning(|_| Err(store_err(StoreErrorKind::Unavailable)));
    let owner = t.clone();
    fx.files
        .expect_remove_file()
        .times(1)
        .returning(move |_, id, _| {
            Ok(coffer_domain::FileRecord {
                id,
                ..file(&owner, "a", FileStatus::Pending)
            })
        });
    let result = fx
        .build()
        .initiate_upload(&caller(&t, "a", &[Role::Editor]), initiate("a.pdf", 1))
        .await;
    assert_err(result, ErrorKind::Unavailable, "storage_unavailable");
}

#[tokio::test]
async fn multipart_starts_an_upload_and_rejects_what_it_cannot_verify() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    reserve_echo(&mut fx);
    fx.store
        .expect_create_multipart()
        .returning(|_, _| Ok("up-1".into()));
    fx.files
        .expect_set_multipart_upload()
        .withf(|_, _, id| id == "up-1")
        .returning(|scope, id, up| {
            let mut f = file(&tenant(TenantStatus::Active), "a", FileStatus::Pending);
            f.id = id;
            f.tenant_id = scope.tenant_id();
            f.multipart_upload_id = Some(up.to_owned());
            Ok(f)
        });
    let app = fx.build();
    let c = caller(&t, "a", &[Role::Editor]);
    let size = 40 * 1024 * 1024;
    let up = app
        .initiate_upload(
            &c,
            InitiateUpload {
                multipart: true,
                ..initiate("big.pdf", size)
            },
        )
        .await
        .unwrap();
    let UploadTarget::Multipart(mp) = up.upload else {
        panic!("expected multipart")
    };
    assert_eq!(mp.part_size, 16 * 1024 * 1024);
    assert_eq!(mp.part_count, 3);

    let small = InitiateUpload {
        multipart: true,
        ..initiate("small.pdf", 1024)
    };
    assert_err(
        app.initiate_upload(&c, small).await,
        ErrorKind::Invalid,
        "multipart_too_small",
    );
    // Coffer hashes what a multipart upload assembles, so a whole-file
    // checksum is taken and kept for the complete to verify.
    let mut with_sum = InitiateUpload {
        multipart: true,
        ..initiate("big.pdf", size)
    };
    let declared = Sha256Digest::from_bytes([1; 32]);
    with_sum.file.checksum_sha256 = Some(declared);
    let up = app.initiate_upload(&c, with_sum).await.unwrap();
    assert_eq!(up.file.checksum_sha256, Some(declared));
}

/// A pending upload whose staged object answers `head`, and whose copy to
/// a verified key reads back as `bytes`.
fn completing(
    pending: &coffer_domain::FileRecord,
    head: Result<ObjectMeta, StoreErrorKind>,
    bytes: &'static [u8],
) -> FilesFx {
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, pending);
    let staging = pending.key.clone();
    fx.store
        .expect_head()
        .withf(move |loc| loc.key() == &staging)
        .returning(move |_| head.clone().map_err(store_err));
    let (staging, prefix) = (pending.key.clone(), verified_prefix(pending));
    fx.store
        .expect_copy()
        .withf(move |from, to| from.key() == &staging && to.key().as_str().starts_with(&prefix))
        .returning(move |_, _| {
            Ok(ObjectMeta {
                size: bytes.len() as u64,
                ..Default::default()
            })
        });
    let prefix = verified_prefix(pending);
    fx.store
        .expect_get_stream()
        .withf(move |loc, range| loc.key().as_str().starts_with(&prefix) && range.is_none())
        .returning(move |_, _| Ok(object(bytes)));
    fx
}

/// A complete of `pending` whose staged object is the 9-byte PDF.
fn completing_the_pdf(pending: &coffer_domain::FileRecord) -> FilesFx {
    let staged = ObjectMeta {
        size: 9,
        ..Default::default()
    };
    completing(pending, Ok(staged), PDF)
}

/// Where the verified copies of `file` go: `t/{tenant}/{category}/{file}/…`.
fn verified_prefix(file: &coffer_domain::FileRecord) -> String {
    format!("t/{}/{}/{}/", file.tenant_id, file.category, file.id)
}

fn sha256(bytes: &[u8]) -> Sha256Digest {
    use sha2::Digest as _;
    Sha256Digest::from_bytes(sha2::Sha256::digest(bytes).into())
}

/// Expect exactly one delete of the key `key`.
fn deletes_once(fx: &mut FilesFx, key: String) {
    fx.store
        .expect_delete()
        .times(1)
        .withf(move |loc| loc.key().as_str() == key)
        .returning(|_| Ok(()));
}

/// Expect exactly one delete of a verified copy of `file`.
fn deletes_a_copy_once(fx: &mut FilesFx, file: &coffer_domain::FileRecord) {
    let prefix = verified_prefix(file);
    fx.store
        .expect_delete()
        .times(1)
        .withf(move |loc| loc.key().as_str().starts_with(&prefix))
        .returning(|_| Ok(()));
}

#[tokio::test]
async fn complete_verifies_and_marks_available() {
    let t = tenant(TenantStatus::Active);
    let pending = file(&t, "alice", FileStatus::Pending);
    let mut fx = completing_the_pdf(&pending);
    let (prefix, done) = (verified_prefix(&pending), pending.clone());
    fx.files
        .expect_mark_available()
        .times(1)
        .withf(move |_, _, facts, _| {
            facts.size_bytes == 9
                && facts.checksum_sha256 == Some(sha256(PDF))
                && facts.key.as_str().starts_with(&prefix)
                && !facts.awaits_scan
        })
        .returning(move |_, _, facts, _| {
            Ok(coffer_domain::FileRecord {
                status: FileStatus::Available,
                key: facts.key,
                checksum_sha256: facts.checksum_sha256,
                ..done.clone()
            })
        });
    // The staged object goes once its copy is the file's: a reused upload
    // URL can only write where no record reads.
    deletes_once(&mut fx, pending.key.to_string());
    let file = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await
        .unwrap();
    assert_eq!(file.status, FileStatus::Available);
    assert_eq!(file.checksum_sha256, Some(sha256(PDF)));
    assert!(file.key.as_str().starts_with(&verified_prefix(&pending)));
}

#[tokio::test]
async fn a_complete_that_loses_the_race_drops_its_own_copy() {
    let t = tenant(TenantStatus::Active);
    let pending = file(&t, "alice", FileStatus::Pending);
    let mut fx = completing_the_pdf(&pending);
    // Another complete made the file available first, with its own copy.
    let winner = coffer_domain::FileRecord {
        status: FileStatus::Available,
        key: coffer_domain::ObjectKey::verified(
            t.id,
            &pending.category,
            pending.id,
            uuid::Uuid::nil(),
        ),
        ..pending.clone()
    };
    let kept = winner.clone();
    fx.files
        .expect_mark_available()
        .returning(move |_, _, _, _| Ok(kept.clone()));
    let (prefix, winner_key) = (verified_prefix(&pending), winner.key.clone());
    fx.store
        .expect_delete()
        .times(1)
        .withf(move |loc| loc.key().as_str().starts_with(&prefix) && loc.key() != &winner_key)
        .returning(|_| Ok(()));
    let file = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await
        .unwrap();
    assert_eq!(file, winner);
}

/// Which object a complete deletes (the store mock panics on any other).
enum Deleted {
    TheCopy,
    TheStagedObject,
    Nothing,
}

/// A complete whose commit failed, and what the file's row said when
/// asked again (`None`: the database did not answer either).
async fn complete_with_a_lost_commit(
    row_after: Option<
        fn(&coffer_domain::FileRecord, coffer_domain::ObjectKey) -> coffer_domain::FileRecord,
    >,
    deleted: Deleted,
) -> Result<coffer_domain::FileRecord, coffer_service::ServiceError> {
    let t = tenant(TenantStatus::Active);
    let pending = file(&t, "alice", FileStatus::Pending);
    let mut fx = completing_the_pdf(&pending);
    // The read before the commit sees the pending file; the read after it
    // sees what `row_after` says the commit left.
    fx.files.checkpoint();
    let copy = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = copy.clone();
    fx.files
        .expect_mark_available()
        .times(1)
        .returning(move |_, _, facts, _| {
            *seen.lock().unwrap() = Some(facts.key);
            Err(meta_err(MetadataErrorKind::Unavailable))
        });
    let stored = |file: coffer_domain::FileRecord| coffer_ports::StoredFile {
        file,
        grants: vec![],
    };
    let before = stored(pending.clone());
    fx.files
        .expect_get_file()
        .times(1)
        .returning(move |_, _| Ok(before.clone()));
    let after = pending.clone();
    fx.files
        .expect_get_file()
        .returning(move |_, _| match row_after {
            Some(row) => Ok(stored(row(&after, copy.lock().unwrap().clone().unwrap()))),
            None => Err(meta_err(MetadataErrorKind::Unavailable)),
        });
    match deleted {
        Deleted::TheCopy => deletes_a_copy_once(&mut fx, &pending),
        Deleted::TheStagedObject => deletes_once(&mut fx, pending.key.to_string()),
        Deleted::Nothing => {}
    }
    fx.build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await
}

#[tokio::test]
async fn a_failed_commit_removes_the_copy_its_row_does_not_name() {
    let err = complete_with_a_lost_commit(Some(|pending, _| pending.clone()), Deleted::TheCopy)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_commit_that_took_despite_the_error_keeps_its_copy_and_succeeds() {
    let file = complete_with_a_lost_commit(
        Some(|pending, key| coffer_domain::FileRecord {
            status: FileStatus::Available,
            key,
            ..pending.clone()
        }),
        Deleted::TheStagedObject,
    )
    .await
    .unwrap();
    assert_eq!(file.status, FileStatus::Available);
    assert!(file.key.as_str().starts_with(&verified_prefix(&file)));
}

#[tokio::test]
async fn a_commit_of_unknown_outcome_leaves_the_copy_to_the_reconciler() {
    let err = complete_with_a_lost_commit(None, Deleted::Nothing)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

/// A complete of the upload of a new version of another file, whose fold
/// fails with `kind`; `copy_deleted`: the verified copy is removed.
async fn a_failed_version_fold(kind: MetadataErrorKind, copy_deleted: bool) -> ErrorKind {
    let t = tenant(TenantStatus::Active);
    let target = file(&t, "alice", FileStatus::Available);
    let mut upload = file(&t, "alice", FileStatus::Pending);
    upload.version_of = Some(target.id);
    let mut fx = completing_the_pdf(&upload);
    fx.files.expect_mark_available().never();
    let mut versions = MockFileVersions::new();
    let (target_id, upload_id) = (target.id, upload.id);
    versions
        .expect_add_version()
        .times(1)
        .withf(move |_, file, version, _| {
            *file == target_id && version.upload == Some(upload_id) && version.size_bytes == 9
        })
        .returning(move |_, _, _, _| Err(meta_err(kind)));
    fx.versions = Some(versions);
    // The staged bytes stay either way: the upload is still pending.
    if copy_deleted {
        deletes_a_copy_once(&mut fx, &upload);
    }
    fx.build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), upload.id)
        .await
        .unwrap_err()
        .kind
}

#[tokio::test]
async fn a_version_refused_by_its_file_drops_its_copy() {
    // The file went to the trash while its new version was uploading.
    assert_eq!(
        a_failed_version_fold(MetadataErrorKind::InvalidState, true).await,
        ErrorKind::Conflict
    );
}

#[tokio::test]
async fn a_version_fold_of_unknown_outcome_keeps_its_copy() {
    assert_eq!(
        a_failed_version_fold(MetadataErrorKind::Unavailable, false).await,
        ErrorKind::Unavailable
    );
}

#[tokio::test]
async fn a_scanned_tenants_upload_is_queued_before_it_is_scanning() {
    let t = tenant(TenantStatus::Active);
    let pending = file(&t, "alice", FileStatus::Pending);
    let mut fx = completing_the_pdf(&pending);
    let mut seq = Sequence::new();
    let mut scans = MockScanQueue::new();
    let (tenant_id, file_id) = (t.id, pending.id);
    scans
        .expect_queue_scan()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |tenant, file, _| *tenant == tenant_id && *file == file_id)
        .returning(|_, _, _| Ok(()));
    let done = pending.clone();
    fx.files
        .expect_mark_available()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|_, _, facts, _| facts.awaits_scan)
        .returning(move |_, _, facts, _| {
            Ok(coffer_domain::FileRecord {
                status: FileStatus::Scanning,
                key: facts.key,
                ..done.clone()
            })
        });
    fx.scans = Some(scans);
    deletes_once(&mut fx, pending.key.to_string());
    let file = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await
        .unwrap();
    assert_eq!(file.status, FileStatus::Scanning);
}

#[tokio::test]
async fn complete_is_idempotent() {
    let t = tenant(TenantStatus::Active);
    let available = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &available);
    fx.store.expect_head().never();
    fx.store.expect_copy().never();
    fx.files.expect_mark_available().never();
    let app = fx.build();
    let file = app
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), available.id)
        .await
        .unwrap();
    assert_eq!(file, available);
}

#[tokio::test]
async fn complete_before_the_put_is_a_conflict() {
    let t = tenant(TenantStatus::Active);
    let pending = file(&t, "alice", FileStatus::Pending);
    let mut fx = completing(&pending, Err(StoreErrorKind::NotFound), PDF);
    fx.files.expect_mark_available().never();
    let result = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await;
    assert_err(result, ErrorKind::Conflict, "upload_missing");
}

#[tokio::test]
async fn mismatches_delete_the_object_and_fail_with_422() {
    let t = tenant(TenantStatus::Active);
    let mut with_sum = file(&t, "alice", FileStatus::Pending);
    with_sum.checksum_sha256 = Some(Sha256Digest::from_bytes([1; 32]));
    let cases = [
        (
            file(&t, "alice", FileStatus::Pending),
            ObjectMeta {
                size: 10,
                ..Default::default()
            },
            PDF,
            "size_mismatch",
        ),
        (
            with_sum,
            ObjectMeta {
                size: 9,
                checksum_sha256: Some(Sha256Digest::from_bytes([2; 32])),
                ..Default::default()
            },
            PDF,
            "checksum_mismatch",
        ),
        (
            file(&t, "alice", FileStatus::Pending),
            ObjectMeta {
                size: 9,
                ..Default::default()
            },
            // Nine bytes that begin like a PNG, declared as a PDF.
            b"\x89PNG\r\n\x1a\n\0",
            "content_mismatch",
        ),
    ];
    for (pending, head, bytes, code) in cases {
        let size_refused = head.size != pending.size_bytes;
        let mut fx = completing(&pending, Ok(head), bytes);
        // The staged bytes go, so the client may PUT again; so does the
        // copy, when the refusal came from reading it.
        deletes_once(&mut fx, pending.key.to_string());
        if size_refused {
            fx.store.expect_copy().never();
        } else {
            deletes_a_copy_once(&mut fx, &pending);
        }
        fx.files.expect_mark_available().never();
        let result = fx
            .build()
            .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
            .await;
        assert_err(result, ErrorKind::Invalid, code);
    }
}

#[tokio::test]
async fn another_tenants_file_cannot_be_completed() {
    let a = tenant(TenantStatus::Active);
    let b = tenant(TenantStatus::Active);
    let theirs = file(&a, "alice", FileStatus::Pending);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &theirs);
    fx.store.expect_head().never();
    let result = fx
        .build()
        .complete_upload(&caller(&b, "alice", &[Role::Admin]), theirs.id)
        .await;
    assert_err(result, ErrorKind::NotFound, "not_found");
}

#[tokio::test]
async fn multipart_complete_assembles_the_listed_parts() {
    let t = tenant(TenantStatus::Active);
    let mut pending = file(&t, "alice", FileStatus::Pending);
    pending.multipart_upload_id = Some("up-9".into());
    let mut fx = completing_the_pdf(&pending);
    let parts = vec![UploadedPart {
        part_number: 1,
        etag: "e1".into(),
        size: 9,
    }];
    let listed = parts.clone();
    fx.store
        .expect_list_parts()
        .returning(move |_, _| Ok(listed.clone()));
    fx.store
        .expect_complete_multipart()
        .times(1)
        .withf(move |_, id, p| id == "up-9" && *p == parts)
        .returning(|_, _, _| Ok(ObjectMeta::default()));
    let done = pending.clone();
    fx.files
        .expect_mark_available()
        .returning(move |_, _, facts, _| {
            Ok(coffer_domain::FileRecord {
                status: FileStatus::Available,
                key: facts.key,
                ..done.clone()
            })
        });
    deletes_once(&mut fx, pending.key.to_string());
    assert!(
        fx.build()
            .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn multipart_without_parts_is_incomplete() {
    let t = tenant(TenantStatus::Active);
    let mut pending = file(&t, "alice", FileStatus::Pending);
    pending.multipart_upload_id = Some("up-9".into());
    let mut fx = completing_the_pdf(&pending);
    fx.store.expect_list_parts().returning(|_, _| Ok(vec![]));
    fx.store.expect_complete_multipart().never();
    let result = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await;
    assert_err(result, ErrorKind::Conflict, "upload_incomplete");
}

/// A store that drains the body like a real one would.
fn draining_store(fx: &mut FilesFx) {
    fx.store.expect_put_stream().returning(|_, _, body| {
        let drained = futures::executor::block_on(body.collect::<Vec<_>>());
        match drained.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(chunks) => Ok(ObjectMeta {
                size: chunks.iter().map(|c| c.len() as u64).sum(),
                ..Default::default()
            }),
            Err(e) => Err(coffer_ports::StoreError::new(
                StoreErrorKind::Internal,
                e.to_string(),
            )),
        }
    });
}

#[tokio::test]
async fn streamed_upload_records_size_checksum_and_sniffed_type() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    draining_store(&mut fx);
    fx.files
        .expect_reserve_upload()
        .withf(|_, new, _, _| {
            new.size_bytes == PNG.len() as u64 && new.content_type.essence() == "image/png"
        })
        .returning(|scope, new, _, _| Ok(pending_from(scope.tenant_id(), new)));
    fx.files
        .expect_mark_available()
        .returning(|scope, id, facts, _| {
            let mut f = file(
                &tenant(TenantStatus::Active),
                "alice",
                FileStatus::Available,
            );
            f.id = id;
            f.tenant_id = scope.tenant_id();
            f.size_bytes = facts.size_bytes;
            f.checksum_sha256 = facts.checksum_sha256;
            Ok(f)
        });
    fx.store.expect_delete().never();
    let request = StreamUpload {
        file: fields("upload.bin", None),
    };
    let f = fx
        .build()
        .upload_stream(
            &caller(&t, "alice", &[Role::Editor]),
            request,
            body(&[&PNG[..4], &PNG[4..]]),
        )
        .await
        .unwrap();
    assert_eq!(f.size_bytes, PNG.len() as u64);
    use sha2::Digest as _;
    let expected: [u8; 32] = sha2::Sha256::digest(PNG).into();
    assert_eq!(f.checksum_sha256, Some(Sha256Digest::from_bytes(expected)));
}

#[tokio::test]
async fn streamed_upload_stops_at_the_size_limit_and_leaves_nothing() {
    let t = limited(LimitOverrides {
        max_file_size: Some(8),
        ..Default::default()
    });
    let mut fx = FilesFx::default();
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    draining_store(&mut fx);
    fx.store.expect_delete().times(1).returning(|_| Ok(()));
    fx.files.expect_reserve_upload().never();
    let request = StreamUpload {
        file: fields("a.txt", Some("text/plain")),
    };
    let result = fx
        .build()
        .upload_stream(
            &caller(&t, "a", &[Role::Editor]),
            request,
            body(&[b"12345", b"6789"]),
        )
        .await;
    assert_err(result, ErrorKind::PayloadTooLarge, "file_too_large");
}

#[tokio::test]
async fn streamed_upload_refuses_contradicting_content_and_duplicates() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    draining_store(&mut fx);
    fx.store.expect_delete().times(1).returning(|_| Ok(()));
    fx.files.expect_reserve_upload().never();
    let request = StreamUpload {
        file: fields("a.pdf", Some("application/pdf")),
    };
    let result = fx
        .build()
        .upload_stream(&caller(&t, "a", &[Role::Editor]), request, body(&[PNG]))
        .await;
    assert_err(result, ErrorKind::Invalid, "content_mismatch");

    let mut fx = FilesFx::default();
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    draining_store(&mut fx);
    fx.store.expect_delete().times(1).returning(|_| Ok(()));
    fx.files
        .expect_reserve_upload()
        .returning(|_, _, _, _| Err(meta_err(MetadataErrorKind::Conflict)));
    let request = StreamUpload {
        file: fields("a.pdf", Some("application/pdf")),
    };
    let result = fx
        .build()
        .upload_stream(&caller(&t, "a", &[Role::Editor]), request, body(&[PDF]))
        .await;
    assert_err(result, ErrorKind::Conflict, "duplicate_path");
}

#[tokio::test]
async fn presign_parts_checks_the_upload() {
    let t = tenant(TenantStatus::Active);
    let mut pending = file(&t, "alice", FileStatus::Pending);
    pending.size_bytes = 40 * 1024 * 1024;
    pending.multipart_upload_id = Some("up-1".into());
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &pending);
    let mut seq = Sequence::new();
    let checksum = Sha256Digest::from_bytes([3; 32]);
    // 40 MiB in 16 MiB parts: each URL binds its part's exact length, the
    // last one the 8 MiB left, and the checksum the client gave.
    for (n, length, sum) in [(1u16, 16 << 20, None), (3, 8 << 20, Some(checksum))] {
        fx.store
            .expect_presign_part()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |r| {
                r.upload_id == "up-1"
                    && r.part_number == n
                    && r.content_length == length
                    && r.checksum_sha256 == sum
            })
            .returning(|_| Ok(presigned("PUT")));
    }
    let app = fx.build();
    let c = caller(&t, "alice", &[Role::Editor]);
    let third = coffer_service::PartRequest {
        part_number: 3,
        checksum_sha256: Some(checksum),
    };
    let parts = app
        .presign_parts(&c, pending.id, vec![part(1), third])
        .await
        .unwrap();
    assert_eq!(
        parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_err(
        app.presign_parts(&c, pending.id, vec![part(4)]).await,
        ErrorKind::Invalid,
        "invalid_parts",
    );
    assert_err(
        app.presign_parts(&c, pending.id, vec![]).await,
        ErrorKind::Invalid,
        "invalid_parts",
    );
}

#[tokio::test]
async fn multipart_with_a_part_missing_stays_open_to_resume() {
    let t = tenant(TenantStatus::Active);
    let mut pending = file(&t, "alice", FileStatus::Pending);
    pending.size_bytes = 40 * 1024 * 1024;
    pending.multipart_upload_id = Some("up-9".into());
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &pending);
    // Parts 1 and 3 arrived; part 2 did not, and a short part 3 would not do.
    fx.store.expect_list_parts().returning(|_, _| {
        Ok(vec![
            UploadedPart {
                part_number: 1,
                etag: "e1".into(),
                size: 16 << 20,
            },
            UploadedPart {
                part_number: 3,
                etag: "e3".into(),
                size: 8 << 20,
            },
        ])
    });
    fx.store.expect_complete_multipart().never();
    fx.store.expect_copy().never();
    fx.store.expect_delete().never();
    fx.files.expect_mark_available().never();
    let result = fx
        .build()
        .complete_upload(&caller(&t, "alice", &[Role::Editor]), pending.id)
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.code.as_str(), "upload_incomplete", "{err}");
    assert!(err.detail.ends_with(": 2"), "{}", err.detail);
}
