//! [`coffer_ports::FileVersions`]: a new version folds its upload row into
//! the file and keeps the one it replaces; every version counts in the
//! usage until the file goes; a file takes versions only while available.

use coffer_domain::{FileId, FileRecord, ObjectKey, Role, Sha256Digest, Subject, Tenant};
use coffer_ports::{MetadataErrorKind, MetadataPorts, NewFile, NewVersion};

use super::fixtures::{
    assert_kind, at, audited, available, change, data, file, record, reserve, scope, tenant, user,
};

/// The cases of [`coffer_ports::FileVersions`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! file_versions_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; versions;
            a_new_version_folds_its_upload_and_keeps_the_one_before,
            every_version_counts_until_the_file_goes,
            only_an_available_file_takes_a_version_from_its_own_upload,
            all_versions_page_by_file_and_version,
        );
    };
}

/// The pending upload of a new version of `of`, `size` bytes.
fn version_upload(t: &Tenant, of: &FileRecord, size: u64, secs: i64) -> NewFile {
    let mut upload = file(
        t,
        (of.owner_id, of.owner.as_str()),
        of.path.as_str(),
        of.filename.as_str(),
        size,
        secs,
    );
    upload.version_of = Some(of.id);
    upload
}

/// Verified bytes for `upload` (or a restore, without one).
fn bytes(t: &Tenant, file: FileId, upload: Option<FileId>, size: u64, secs: i64) -> NewVersion {
    let copy = uuid::Uuid::now_v7();
    NewVersion {
        upload,
        bucket: coffer_domain::BucketName::new("coffer-files").unwrap(),
        key: ObjectKey::verified(
            t.id,
            &coffer_domain::Category::default_category(),
            file,
            copy,
        ),
        size_bytes: size,
        checksum_sha256: Sha256Digest::from_bytes([size as u8; 32]),
        content_type: coffer_domain::ContentType::new("application/pdf").unwrap(),
        uploaded_by: Subject::new("bob").unwrap(),
        at: at(secs),
        scan_verdict: None,
    }
}

pub async fn a_new_version_folds_its_upload_and_keeps_the_one_before(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let first = available(&ports, &t, file(&t, (o, "alice"), "/", "deal.pdf", 7, 1)).await;
    assert_eq!(first.version, 1);
    // The upload of the next version takes no name of its own.
    let upload = reserve(&ports, &t, version_upload(&t, &first, 9, 10)).await;
    assert_eq!(upload.version_of, Some(first.id));
    let new = bytes(&t, first.id, Some(upload.id), 9, 20);
    let second = d
        .versions
        .add_version(
            &s,
            first.id,
            new.clone(),
            change("file.version_added", Some(first.id), 20, true),
        )
        .await
        .unwrap();
    assert_eq!(
        (second.id, second.version, second.size_bytes),
        (first.id, 2, 9)
    );
    assert_eq!(second.key, new.key);
    assert_eq!(second.checksum_sha256, Some(new.checksum_sha256));
    assert_eq!(
        (second.created_at, second.updated_at),
        (first.created_at, at(20))
    );
    assert_eq!(d.files.get_file(&s, first.id).await.unwrap().file, second);
    assert_kind(
        d.files.get_file(&s, upload.id).await,
        MetadataErrorKind::NotFound,
        "the folded upload row",
    );
    assert_eq!(audited(&ports, &t, "file.version_added").await, 1);
    // The folded upload still leads to its file (a retried complete).
    assert_eq!(
        d.versions.folded_upload(&s, upload.id).await.unwrap(),
        Some(first.id)
    );
    assert_eq!(d.versions.folded_upload(&s, first.id).await.unwrap(), None);
    let other = tenant(&ports, "elsewhere").await;
    assert_eq!(
        d.versions
            .folded_upload(&scope(&other), upload.id)
            .await
            .unwrap(),
        None
    );

    let versions = d.versions.list_versions(&s, first.id).await.unwrap();
    let listed: Vec<(u32, u64, &str, &ObjectKey)> = versions
        .iter()
        .map(|v| (v.version, v.size_bytes, v.uploaded_by.as_str(), &v.key))
        .collect();
    assert_eq!(
        listed,
        [(2, 9, "bob", &second.key), (1, 7, "alice", &first.key)],
        "newest first, each with its uploader and its own object"
    );
    assert_eq!(versions[0].uploaded_at, at(20));
    assert_eq!(versions[1].checksum_sha256, first.checksum_sha256);

    // A restore adds a version of its own, with no upload row.
    let third = d
        .versions
        .add_version(&s, first.id, bytes(&t, first.id, None, 7, 30), record())
        .await
        .unwrap();
    assert_eq!(third.version, 3);
    assert_eq!(
        d.versions.list_versions(&s, first.id).await.unwrap().len(),
        3
    );
    // Another tenant sees none of them.
    let other = tenant(&ports, "other").await;
    assert!(
        d.versions
            .list_versions(&scope(&other), first.id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn every_version_counts_until_the_file_goes(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let first = available(&ports, &t, file(&t, (o, "alice"), "/", "deal.pdf", 7, 1)).await;
    let upload = reserve(&ports, &t, version_upload(&t, &first, 9, 10)).await;
    let during = d.files.usage(&s).await.unwrap();
    assert_eq!(
        (during.used_bytes, during.reserved_bytes, during.file_count),
        (7, 9, 1)
    );
    d.versions
        .add_version(
            &s,
            first.id,
            bytes(&t, first.id, Some(upload.id), 9, 20),
            record(),
        )
        .await
        .unwrap();
    let after = d.files.usage(&s).await.unwrap();
    assert_eq!(
        (after.used_bytes, after.reserved_bytes, after.file_count),
        (16, 0, 1),
        "both versions count; still one file"
    );
    // An upload of a third version is still pending when the file goes.
    let pending = reserve(&ports, &t, version_upload(&t, &first, 4, 25)).await;
    d.files
        .trash_file(&s, first.id, at(30), record())
        .await
        .unwrap();
    assert_eq!(d.files.usage(&s).await.unwrap().used_bytes, 16);
    d.files.remove_file(&s, first.id, None).await.unwrap();
    let gone = d.files.usage(&s).await.unwrap();
    assert_eq!(
        (
            gone.used_bytes,
            gone.file_count,
            gone.reserved_bytes,
            gone.reserved_files
        ),
        (0, 0, 0, 0),
        "every version and the pending upload given back"
    );
    assert_kind(
        d.files.get_file(&s, pending.id).await,
        MetadataErrorKind::NotFound,
        "the pending upload of a removed file",
    );
    assert!(
        d.versions
            .list_versions(&s, first.id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn only_an_available_file_takes_a_version_from_its_own_upload(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let deal = available(&ports, &t, file(&t, (o, "alice"), "/", "deal.pdf", 7, 1)).await;
    let memo = available(&ports, &t, file(&t, (o, "alice"), "/", "memo.pdf", 5, 2)).await;
    let upload = reserve(&ports, &t, version_upload(&t, &deal, 9, 10)).await;
    // Not the upload of this file.
    assert_kind(
        d.versions
            .add_version(
                &s,
                memo.id,
                bytes(&t, memo.id, Some(upload.id), 9, 20),
                record(),
            )
            .await,
        MetadataErrorKind::InvalidState,
        "another file's upload",
    );
    // Nothing changed: the upload is still pending, the file at version 1.
    assert_eq!(d.files.get_file(&s, upload.id).await.unwrap().file, upload);
    assert_eq!(d.files.get_file(&s, memo.id).await.unwrap().file.version, 1);
    // A file in the trash takes no version.
    d.files
        .trash_file(&s, deal.id, at(15), record())
        .await
        .unwrap();
    assert_kind(
        d.versions
            .add_version(
                &s,
                deal.id,
                bytes(&t, deal.id, Some(upload.id), 9, 20),
                record(),
            )
            .await,
        MetadataErrorKind::InvalidState,
        "a trashed file",
    );
    assert_kind(
        d.versions
            .add_version(
                &s,
                FileId::new_v7(),
                bytes(&t, deal.id, None, 9, 20),
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "no such file",
    );
    // Another tenant cannot add one.
    let other = tenant(&ports, "other").await;
    assert_kind(
        d.versions
            .add_version(
                &scope(&other),
                memo.id,
                bytes(&t, memo.id, None, 9, 20),
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "another tenant's file",
    );
}

pub async fn all_versions_page_by_file_and_version(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let mut expected = Vec::new();
    for (n, name) in ["a.pdf", "b.pdf"].iter().enumerate() {
        let f = available(&ports, &t, file(&t, (o, "alice"), "/", name, 3, n as i64)).await;
        expected.push((f.id, 1));
        for v in 2..=3 {
            d.versions
                .add_version(&s, f.id, bytes(&t, f.id, None, 3, 10 + v), record())
                .await
                .unwrap();
            expected.push((f.id, v as u32));
        }
    }
    expected.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = d.versions.list_all_versions(&s, after, 2).await.unwrap();
        seen.extend(page.iter().map(|v| (v.file_id, v.version)));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.file_id, last.version)),
            _ => break,
        }
    }
    assert_eq!(seen, expected);
}
