use coffer_domain::{FileStatus, LimitOverrides, TenantStatus};
use coffer_ports::{Page, StoreErrorKind};
use coffer_service::SweepReport;

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

    let mut fx = Fx::new();
    fx.audit_ok();
    let tenant = t.clone();
    fx.meta.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![tenant.clone()],
            next_cursor: None,
        })
    });
    let (pending, trash) = (
        vec![expired.clone(), fresh.clone()],
        vec![old.clone(), recent.clone()],
    );
    fx.meta.expect_list_files().returning(move |_, q| {
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
        .withf(move |l| doomed.contains(&l.key))
        .returning(|_| Ok(()));
    let gone = [expired.id, old.id];
    let sample = expired.clone();
    fx.meta
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
    let mut fx = Fx::new();
    fx.audit_ok();
    let tenant = t.clone();
    fx.meta.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![tenant.clone()],
            next_cursor: None,
        })
    });
    let items = vec![stuck.clone(), next.clone()];
    fx.meta.expect_list_files().returning(move |_, q| {
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
        if l.key == stuck_key {
            Err(store_err(StoreErrorKind::Unavailable))
        } else {
            Ok(())
        }
    });
    let kept = next.clone();
    // The row of the file whose object could not be deleted stays.
    fx.meta
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
            failed: 1
        }
    );
}
