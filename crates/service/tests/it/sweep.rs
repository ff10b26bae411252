use coffer_domain::{
    BucketName, Category, FileId, FileStatus, LimitOverrides, ObjectKey, TenantStatus,
};
use coffer_ports::{FileObject, Page, StoreErrorKind};
use coffer_service::SweepReport;
use mockall::Sequence;

use crate::support::*;

#[tokio::test]
async fn reaps_expired_uploads_and_purges_old_trash_only() {
    let t = limited(LimitOverrides {
        retention_days: Some(30),
        ..Default::default()
    });
    let mut expired = file(&t, "alice", FileStatus::Pending);
    expired.upload_expires_at = Some(now() - time::Duration::seconds(1));
    let fresh = file(&t, "alice", FileStatus::Pending); // window open for another hour
    let mut old = file(&t, "alice", FileStatus::Deleted);
    old.deleted_at = Some(now() - time::Duration::days(31));
    let mut recent = file(&t, "alice", FileStatus::Deleted);
    recent.deleted_at = Some(now() - time::Duration::days(29));

    let mut fx = SweeperFx::default();
    no_unfinished_erases(&mut fx.integrity);
    marks_for_erase(
        &mut fx.integrity,
        &[expired.clone(), old.clone(), fresh.clone(), recent.clone()],
    );
    let tenant = t.clone();
    fx.registry.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![tenant.clone()],
            next_cursor: None,
        })
    });
    let (pending, trash) = (
        vec![expired.clone(), fresh.clone()],
        vec![old.clone(), recent.clone()],
    );
    fx.files.expect_list_files().returning(move |_, q| {
        let items = if q.status == FileStatus::Pending {
            pending.clone()
        } else {
            trash.clone()
        };
        Ok(Page {
            items,
            next_cursor: None,
        })
    });
    let doomed = [expired.key.clone(), old.key.clone()];
    fx.store
        .expect_delete()
        .times(2)
        .withf(move |l| doomed.contains(l.key()))
        .returning(|_| Ok(()));
    let gone = [expired.id, old.id];
    let sample = expired.clone();
    fx.files
        .expect_remove_file()
        .times(2)
        .withf(move |_, id, _| gone.contains(id))
        .returning(move |_, _, _| Ok(sample.clone()));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            tenants: 1,
            reaped: 1,
            purged: 1,
            tenants_purged: 0,
            sessions_reaped: 0,
            kept_by_records: 0,
            purges_held: 0,
            erases_finished: 0,
            failed: 0
        }
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_erased_is_left_for_the_next_sweep() {
    let t = tenant(TenantStatus::Active);
    let mut stuck = file(&t, "alice", FileStatus::Pending);
    stuck.upload_expires_at = Some(now() - time::Duration::seconds(1));
    let mut next = file(&t, "alice", FileStatus::Pending);
    next.upload_expires_at = Some(now() - time::Duration::seconds(1));
    let mut fx = SweeperFx::default();
    no_unfinished_erases(&mut fx.integrity);
    marks_for_erase(&mut fx.integrity, &[stuck.clone(), next.clone()]);
    let tenant = t.clone();
    fx.registry.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![tenant.clone()],
            next_cursor: None,
        })
    });
    let items = vec![stuck.clone(), next.clone()];
    fx.files.expect_list_files().returning(move |_, q| {
        Ok(Page {
            items: if q.status == FileStatus::Pending {
                items.clone()
            } else {
                vec![]
            },
            next_cursor: None,
        })
    });
    let stuck_key = stuck.key.clone();
    fx.store.expect_delete().returning(move |l| {
        if l.key() == &stuck_key {
            Err(store_err(StoreErrorKind::Unavailable))
        } else {
            Ok(())
        }
    });
    let kept = next.clone();
    // The row of the file whose object could not be deleted stays.
    fx.files
        .expect_remove_file()
        .times(1)
        .withf(move |_, id, _| *id == kept.id)
        .returning(move |_, _, _| Ok(next.clone()));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            tenants: 1,
            reaped: 1,
            purged: 0,
            tenants_purged: 0,
            sessions_reaped: 0,
            kept_by_records: 0,
            purges_held: 0,
            erases_finished: 0,
            failed: 1
        }
    );
}

#[tokio::test]
async fn interrupted_erases_older_than_the_grace_are_finished() {
    let t = tenant(TenantStatus::Active);
    let id = FileId::new_v7();
    let interrupted = FileObject {
        id,
        status: FileStatus::Available,
        bucket: BucketName::new("coffer-test").unwrap(),
        key: ObjectKey::for_file(t.id, &Category::default_category(), id),
        multipart_upload_id: Some("up".into()),
        created_at: now() - time::Duration::days(1),
        erase_started_at: Some(now() - time::Duration::minutes(10)),
        object_missing_at: None,
    };
    let mut fx = SweeperFx::default();
    let tenant = t.clone();
    fx.registry.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![tenant.clone()],
            next_cursor: None,
        })
    });
    fx.files.expect_list_files().returning(|_, _| {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    });
    let row = interrupted.clone();
    fx.integrity
        .expect_list_file_objects()
        .withf(|_, q| q.erase_started_before == Some(now() - time::Duration::minutes(5)))
        .returning(move |_, _| Ok(vec![row.clone()]));
    let mut seq = Sequence::new();
    fx.store
        .expect_abort_multipart()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|_, up| up == "up")
        .returning(|_, _| Ok(()));
    let key = interrupted.key.clone();
    fx.store
        .expect_delete()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |l| l.key() == &key)
        .returning(|_| Ok(()));
    let record = file(&t, "alice", FileStatus::Available);
    fx.files
        .expect_remove_file()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |_, removed, _| *removed == id)
        .returning(move |_, _, _| Ok(record.clone()));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!((report.erases_finished, report.failed), (1, 0));
}
