use coffer_domain::{
    Access, FileStatus, Filename, GrantId, GrantSubject, LimitOverrides, Role, Subject, Visibility,
};
use coffer_ports::{MetadataErrorKind, StoredFile};
use coffer_service::{ErrorKind, UpdateFile};
use mockall::Sequence;

use crate::support::*;

fn with_grant(file: &coffer_domain::FileRecord, to: &str, access: Access) -> StoredFile {
    StoredFile {
        file: file.clone(),
        grants: vec![coffer_domain::Grant {
            id: GrantId::new_random(),
            tenant_id: file.tenant_id,
            file_id: file.id,
            subject: GrantSubject::User(Subject::new(to).unwrap()),
            access,
            expires_at: None,
            created_by: Subject::new("alice").unwrap(),
            created_at: now(),
        }],
    }
}

#[tokio::test]
async fn a_writer_may_rename_but_not_change_visibility() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    let stored = with_grant(&f, "bob", Access::Write);
    fx.files
        .expect_get_file()
        .returning(move |_, _| Ok(stored.clone()));
    let renamed = coffer_domain::FileRecord {
        filename: Filename::new("new.pdf").unwrap(),
        ..f.clone()
    };
    fx.files
        .expect_update_file()
        .times(1)
        .withf(|_, _, p, _, _| {
            p.filename.as_ref().map(Filename::as_str) == Some("new.pdf") && p.visibility.is_none()
        })
        .returning(move |_, _, _, _, _| Ok(renamed.clone()));
    let app = fx.build();
    let bob = caller(&t, "bob", &[Role::Viewer]);
    let rename = UpdateFile {
        filename: Some(Filename::new("new.pdf").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        app.update_file(&bob, f.id, rename)
            .await
            .unwrap()
            .filename
            .as_str(),
        "new.pdf"
    );
    let share = UpdateFile {
        visibility: Some(Visibility::Tenant),
        ..Default::default()
    };
    assert_err(
        app.update_file(&bob, f.id, share).await,
        ErrorKind::Forbidden,
        "access_denied",
    );
}

#[tokio::test]
async fn metadata_is_merged_and_duplicates_conflict() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let mut f = file(&t, "alice", FileStatus::Available);
    f.metadata =
        coffer_domain::Metadata::new(serde_json::json!({"case": 1, "drop": true})).unwrap();
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    fx.files
        .expect_update_file()
        .times(1)
        .withf(|_, _, p, _, _| {
            p.metadata
                .as_ref()
                .map(|m| serde_json::Value::from(m.clone()))
                == Some(serde_json::json!({"case": 2}))
        })
        .returning(|_, _, _, _, _| Err(meta_err(MetadataErrorKind::Conflict)));
    let patch = serde_json::json!({"case": 2, "drop": null})
        .as_object()
        .cloned();
    let result = fx
        .build()
        .update_file(
            &caller(&t, "alice", &[Role::Editor]),
            f.id,
            UpdateFile {
                metadata: patch,
                ..Default::default()
            },
        )
        .await;
    assert_err(result, ErrorKind::Conflict, "duplicate_path");
}

#[tokio::test]
async fn delete_trashes_and_permanent_erases_object_before_row() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &f);
    let trashed = coffer_domain::FileRecord {
        status: FileStatus::Deleted,
        ..f.clone()
    };
    fx.files
        .expect_trash_file()
        .times(1)
        .returning(move |_, _, _, _| Ok(trashed.clone()));
    let mut seq = Sequence::new();
    let (id, marked) = (f.id, f.clone());
    // The row is marked first: from then on the file is gone for users.
    fx.integrity
        .expect_begin_erase()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |_, marking, at, _| *marking == id && *at == now())
        .returning(move |_, _, _, _| Ok(marked.clone()));
    let key = f.key.clone();
    fx.store
        .expect_delete()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |l| l.key() == &key)
        .returning(|_| Ok(()));
    let gone = f.clone();
    fx.files
        .expect_remove_file()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| Ok(gone.clone()));
    let app = fx.build();
    let alice = caller(&t, "alice", &[Role::Editor]);
    app.delete_file(&alice, f.id, false).await.unwrap();
    app.delete_file(&alice, f.id, true).await.unwrap();
}

#[tokio::test]
async fn deleting_needs_manage() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    let stored = with_grant(&f, "bob", Access::Write);
    fx.files
        .expect_get_file()
        .returning(move |_, _| Ok(stored.clone()));
    fx.files.expect_trash_file().never();
    fx.store.expect_delete().never();
    let result = fx
        .build()
        .delete_file(&caller(&t, "bob", &[Role::Editor]), f.id, true)
        .await;
    assert_err(result, ErrorKind::Forbidden, "access_denied");
}

#[tokio::test]
async fn deleting_a_pending_upload_aborts_it() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let mut f = file(&t, "alice", FileStatus::Pending);
    f.multipart_upload_id = Some("up".into());
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &f);
    marks_for_erase(&mut fx.integrity, std::slice::from_ref(&f));
    fx.store
        .expect_abort_multipart()
        .times(1)
        .withf(|_, id| id == "up")
        .returning(|_, _| Ok(()));
    fx.store.expect_delete().times(1).returning(|_| Ok(()));
    let gone = f.clone();
    fx.files
        .expect_remove_file()
        .times(1)
        .returning(move |_, _, _| Ok(gone.clone()));
    fx.build()
        .delete_file(&caller(&t, "alice", &[Role::Editor]), f.id, false)
        .await
        .unwrap();
}

#[tokio::test]
async fn restore_works_within_retention_only() {
    let t = limited(LimitOverrides {
        retention_days: Some(30),
        ..Default::default()
    });
    let mut recent = file(&t, "alice", FileStatus::Deleted);
    recent.deleted_at = Some(now() - time::Duration::days(29));
    let mut old = file(&t, "alice", FileStatus::Deleted);
    old.deleted_at = Some(now() - time::Duration::days(31));
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    let (r, o) = (recent.clone(), old.clone());
    fx.files.expect_get_file().returning(move |_, id| {
        Ok(StoredFile {
            file: if id == r.id { r.clone() } else { o.clone() },
            grants: vec![],
        })
    });
    let back = coffer_domain::FileRecord {
        status: FileStatus::Available,
        ..recent.clone()
    };
    fx.files
        .expect_restore_file()
        .times(1)
        .returning(move |_, _, _, _| Ok(back.clone()));
    let app = fx.build();
    let alice = caller(&t, "alice", &[Role::Editor]);
    assert_eq!(
        app.restore_file(&alice, recent.id).await.unwrap().status,
        FileStatus::Available
    );
    assert_err(
        app.restore_file(&alice, old.id).await,
        ErrorKind::Conflict,
        "retention_expired",
    );
    let live = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &live);
    assert_err(
        fx.build().restore_file(&alice, live.id).await,
        ErrorKind::Conflict,
        "file_available",
    );
}

#[tokio::test]
async fn an_erase_cut_short_after_the_mark_keeps_the_row_for_the_sweep() {
    let t = tenant(coffer_domain::TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Deleted);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &f);
    marks_for_erase(&mut fx.integrity, std::slice::from_ref(&f));
    fx.store
        .expect_delete()
        .times(1)
        .returning(|_| Err(store_err(coffer_ports::StoreErrorKind::Unavailable)));
    // The marked row stays (hidden) until the sweep finishes the erase.
    fx.files.expect_remove_file().never();
    let result = fx
        .build()
        .delete_file(&caller(&t, "alice", &[Role::Editor]), f.id, true)
        .await;
    assert_err(result, ErrorKind::Unavailable, "storage_unavailable");
}
