//! The reconciler's decisions over mocked ports: which objects are
//! orphans, which rows miss their object, which erases are finished — and
//! that a report-only run changes nothing.

use std::time::Duration;

use coffer_domain::{BucketName, Category, FileId, FileStatus, ObjectKey, Tenant, TenantStatus};
use coffer_ports::{FileObject, ListedObject, ObjectList, ObjectPrefix, Page, StoreErrorKind};
use coffer_service::ReconcileReport;
use time::OffsetDateTime;

use crate::support::*;

const GRACE: Duration = Duration::from_secs(3600);

fn bucket() -> BucketName {
    BucketName::new("coffer-test").unwrap()
}

fn row(t: &Tenant, status: FileStatus) -> FileObject {
    let id = FileId::new_v7();
    FileObject {
        id,
        status,
        bucket: bucket(),
        key: ObjectKey::for_file(t.id, &Category::default_category(), id),
        multipart_upload_id: None,
        created_at: now() - time::Duration::days(2),
        erase_started_at: None,
        object_missing_at: None,
    }
}

fn object(key: &ObjectKey, modified: Option<OffsetDateTime>) -> ListedObject {
    ListedObject {
        key: key.clone(),
        size: 9,
        last_modified: modified,
    }
}

fn stray(t: &Tenant) -> ObjectKey {
    ObjectKey::for_file(t.id, &Category::default_category(), FileId::new_v7())
}

/// One tenant with these rows and, in the one bucket, these objects.
struct World {
    fx: ReconcilerFx,
    tenant: Tenant,
}

impl World {
    fn of(tenant: Tenant, rows: Vec<FileObject>, objects: Vec<ListedObject>) -> Self {
        let mut fx = ReconcilerFx::default();
        let listed = tenant.clone();
        fx.registry.expect_list_tenants().returning(move |_, _| {
            Ok(Page {
                items: vec![listed.clone()],
                next_cursor: None,
            })
        });
        fx.integrity
            .expect_list_file_objects()
            .returning(move |_, q| {
                assert_eq!(
                    q.erase_started_before, None,
                    "the reconciler reads every row"
                );
                Ok(rows.clone())
            });
        let owner = tenant.id;
        fx.store.expect_list().returning(move |prefix, _, _| {
            assert_eq!(
                prefix,
                &ObjectPrefix::tenant(owner, bucket()),
                "only the tenant's own prefix is listed"
            );
            Ok(ObjectList {
                objects: objects.clone(),
                next: None,
            })
        });
        Self { fx, tenant }
    }
}

#[tokio::test]
async fn repair_deletes_old_orphans_marks_missing_rows_and_finishes_erases() {
    let t = tenant(TenantStatus::Active);
    let old = Some(now() - time::Duration::hours(2));
    let fresh = Some(now() - time::Duration::minutes(5));
    let intact = row(&t, FileStatus::Available);
    let lost = row(&t, FileStatus::Available);
    let mut lost_before = row(&t, FileStatus::Deleted);
    lost_before.object_missing_at = Some(now() - time::Duration::days(1));
    let pending = row(&t, FileStatus::Pending); // no object yet: not missing
    let mut erasing = row(&t, FileStatus::Available);
    erasing.erase_started_at = Some(now() - time::Duration::hours(1));
    let mut erasing_now = row(&t, FileStatus::Deleted);
    erasing_now.erase_started_at = Some(now() - time::Duration::seconds(10));
    let (orphan, young, ageless) = (stray(&t), stray(&t), stray(&t));
    let objects = vec![
        object(&intact.key, old),
        object(&erasing.key, old),
        object(&erasing_now.key, old), // its row is still there: not an orphan
        object(&orphan, old),
        object(&young, fresh),
        object(&ageless, None),
    ];
    let rows = vec![
        intact.clone(),
        lost.clone(),
        lost_before.clone(),
        pending.clone(),
        erasing.clone(),
        erasing_now.clone(),
    ];
    let mut w = World::of(t, rows, objects);
    let doomed = [orphan.clone(), erasing.key.clone()];
    w.fx.store
        .expect_delete()
        .times(2)
        .withf(move |l| doomed.contains(l.key()))
        .returning(|_| Ok(()));
    // The orphan's delete is on record, by the system.
    let orphan_key = orphan.to_string();
    w.fx.audit
        .expect_append_audit()
        .times(1)
        .withf(move |_, entry| {
            entry.action == "object.orphan_deleted"
                && entry.actor.as_str() == "system:coffer"
                && entry.detail["key"] == orphan_key.as_str()
        })
        .returning(|_, _| Ok(()));
    let erased = erasing.id;
    let record = file(&w.tenant, "alice", FileStatus::Available);
    w.fx.files
        .expect_remove_file()
        .times(1)
        .withf(move |_, id, _| *id == erased)
        .returning(move |_, _, _| Ok(record.clone()));
    let marked = lost.id;
    w.fx.integrity
        .expect_mark_object_missing()
        .times(1)
        .withf(move |_, id, at, journal| {
            *id == marked
                && *at == now()
                && journal.audit.action == "file.object_missing"
                && journal.audit.actor.as_str() == "system:coffer"
        })
        .returning(|_, _, _, _| Ok(()));

    let report = w.fx.build().reconcile(None, true, GRACE).await.unwrap();
    assert_eq!(
        report,
        ReconcileReport {
            tenants: 1,
            objects_scanned: 6,
            rows_scanned: 6,
            orphans_found: 1,
            orphans_deleted: 1,
            missing_found: 2,
            missing_marked: 1,
            erases_found: 1,
            erases_finished: 1,
            failed: 0,
        }
    );
}

#[tokio::test]
async fn without_repair_it_only_reports() {
    let t = tenant(TenantStatus::Active);
    let old = Some(now() - time::Duration::hours(2));
    let lost = row(&t, FileStatus::Deleted);
    let mut erasing = row(&t, FileStatus::Available);
    erasing.erase_started_at = Some(now() - time::Duration::hours(1));
    let orphan = stray(&t);
    let mut w = World::of(
        t,
        vec![lost, erasing.clone()],
        vec![object(&orphan, old), object(&erasing.key, old)],
    );
    w.fx.store.expect_delete().never();
    w.fx.files.expect_remove_file().never();
    w.fx.integrity.expect_mark_object_missing().never();
    let report = w.fx.build().reconcile(None, false, GRACE).await.unwrap();
    assert_eq!(
        (
            report.orphans_found,
            report.missing_found,
            report.erases_found
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (
            report.orphans_deleted,
            report.missing_marked,
            report.erases_finished
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_failing_listing_repairs_nothing() {
    let t = tenant(TenantStatus::Active);
    let lost = row(&t, FileStatus::Available);
    let mut fx = ReconcilerFx::default();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(t.clone()));
    fx.integrity
        .expect_list_file_objects()
        .returning(move |_, _| Ok(vec![lost.clone()]));
    // A store that cannot list must not make every row look lost.
    fx.store
        .expect_list()
        .returning(|_, _, _| Err(store_err(StoreErrorKind::Unavailable)));
    fx.integrity.expect_mark_object_missing().never();
    fx.store.expect_delete().never();
    let result = fx
        .build()
        .reconcile(Some(coffer_domain::TenantId::new_random()), true, GRACE)
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn objects_and_rows_are_read_page_by_page() {
    let t = tenant(TenantStatus::Active);
    let old = Some(now() - time::Duration::hours(2));
    // A first page of rows as long as the reconciler asks for, then one more.
    let first: Vec<FileObject> = (0..1000).map(|_| row(&t, FileStatus::Available)).collect();
    let last = row(&t, FileStatus::Available);
    let mut fx = ReconcilerFx::default();
    let listed = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(listed.clone()));
    let (rows_1, rows_2, after) = (first.clone(), vec![last.clone()], first[999].id);
    fx.integrity
        .expect_list_file_objects()
        .times(2)
        .returning(move |_, q| match q.after {
            None => Ok(rows_1.clone()),
            Some(id) => {
                assert_eq!(id, after, "the next page starts after the last row");
                Ok(rows_2.clone())
            }
        });
    // Every row's object, over two pages of the store's listing.
    let objects: Vec<ListedObject> = first
        .iter()
        .chain(std::iter::once(&last))
        .map(|r| object(&r.key, old))
        .collect();
    let (page_1, page_2) = (objects[..600].to_vec(), objects[600..].to_vec());
    fx.store
        .expect_list()
        .times(2)
        .returning(move |_, token, _| {
            Ok(match token.as_deref() {
                None => ObjectList {
                    objects: page_1.clone(),
                    next: Some("page-2".into()),
                },
                Some("page-2") => ObjectList {
                    objects: page_2.clone(),
                    next: None,
                },
                Some(other) => panic!("unknown continuation {other}"),
            })
        });
    fx.store.expect_delete().never();
    fx.integrity.expect_mark_object_missing().never();
    let report = fx.build().reconcile(Some(t.id), true, GRACE).await.unwrap();
    assert_eq!((report.rows_scanned, report.objects_scanned), (1001, 1001));
    assert_eq!((report.orphans_found, report.missing_found), (0, 0));
}

#[tokio::test]
async fn every_placement_bucket_of_the_tenant_is_scanned() {
    let mut t = tenant(TenantStatus::Active);
    t.dedicated_bucket = Some("acme-own".into());
    let id = t.id;
    let mut fx = ReconcilerFx::default();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(t.clone()));
    fx.integrity
        .expect_list_file_objects()
        .returning(|_, _| Ok(vec![]));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    fx.store.expect_list().returning(move |prefix, _, _| {
        let b = prefix.bucket();
        record.lock().unwrap().push(b.to_string());
        if b.as_str() == "acme-own" {
            Err(store_err(StoreErrorKind::NotFound)) // not created yet: no objects
        } else {
            Ok(ObjectList::default())
        }
    });
    fx.build().reconcile(Some(id), true, GRACE).await.unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["acme-own", "coffer-test"]);
}
