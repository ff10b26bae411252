//! Data residency over mocks: a tenant of a region with a store of its own
//! is served by that store alone — uploads, reads, erases, repairs — and the
//! default store is never asked about it; tenants of other regions keep
//! the default store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer_domain::{
    BucketName, Category, FileId, FileStatus, Filename, ObjectKey, Region, Role, Tenant,
    TenantStatus,
};
use coffer_ports::{
    ByteStream, FileObject, GetObject, ListedObject, MockJobLocks, MockMetadataReadiness,
    MockObjectStore, ObjectList, ObjectMeta, PresignedRequest, StoreErrorKind,
};
use coffer_service::{
    ErrorKind, InitiateUpload, NewFileFields, Operations, StreamUpload, UploadTarget,
};
use futures::StreamExt as _;

use crate::support::*;

fn region(name: &str) -> Region {
    Region::new(name).unwrap()
}

fn eu_bucket() -> BucketName {
    BucketName::new("coffer-eu").unwrap()
}

fn us_bucket() -> BucketName {
    BucketName::new("coffer-us").unwrap()
}

fn eu_tenant() -> Tenant {
    Tenant {
        region: region("eu-west"),
        ..tenant(TenantStatus::Active)
    }
}

fn us_tenant() -> Tenant {
    Tenant {
        region: region("us-east"),
        ..tenant(TenantStatus::Active)
    }
}

/// `eu-west` on a store of its own (`coffer-eu`), `us-east` on the default
/// store (`coffer-us`). The returned store is eu-west's, to set
/// expectations on before [`eu_west`] hands it over.
fn regional() -> (Config, MockObjectStore) {
    let mut config = Config::default();
    config
        .placement
        .regions
        .insert(region("eu-west"), eu_bucket());
    config
        .placement
        .regions
        .insert(region("us-east"), us_bucket());
    (config, MockObjectStore::new())
}

/// The regions with a store of their own: eu-west, with `eu`.
fn eu_west(eu: MockObjectStore) -> Vec<(Region, MockObjectStore)> {
    vec![(region("eu-west"), eu)]
}

fn signed(url: &str) -> PresignedRequest {
    PresignedRequest {
        url: url.into(),
        ..presigned("PUT")
    }
}

fn fields(name: &str) -> NewFileFields {
    NewFileFields {
        filename: Filename::new(name).unwrap(),
        content_type: None,
        category: None,
        path: None,
        visibility: None,
        metadata: None,
        checksum_sha256: None,
    }
}

fn pending(
    new: coffer_ports::NewFile,
    tenant: coffer_domain::TenantId,
) -> coffer_domain::FileRecord {
    let mut f = file(&tenant_with_id(tenant), "alice", FileStatus::Pending);
    f.id = new.id;
    f.bucket = new.bucket;
    f.key = new.key;
    f.size_bytes = new.size_bytes;
    f.content_type = new.content_type;
    f
}

fn tenant_with_id(id: coffer_domain::TenantId) -> Tenant {
    Tenant {
        id,
        ..tenant(TenantStatus::Active)
    }
}

fn body(bytes: &'static [u8]) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(Bytes::from_static(bytes))]))
}

#[tokio::test]
async fn each_tenant_is_presigned_on_its_regions_store() {
    let (eu_t, us_t) = (eu_tenant(), us_tenant());
    let (config, mut eu) = regional();
    let mut fx = FilesFx {
        config,
        ..FilesFx::default()
    };
    audit_ok(&mut fx.audit);
    fx.files
        .expect_reserve_upload()
        .returning(|scope, new, _, _| Ok(pending(new, scope.tenant_id())));
    let eu_id = eu_t.id;
    eu.expect_presign_put()
        .times(1)
        .withf(move |r| r.location.tenant() == eu_id && r.location.bucket() == &eu_bucket())
        .returning(|_| Ok(signed("https://eu.store/put")));
    let us_id = us_t.id;
    fx.store
        .expect_presign_put()
        .times(1)
        .withf(move |r| r.location.tenant() == us_id && r.location.bucket() == &us_bucket())
        .returning(|_| Ok(signed("https://us.store/put")));
    fx.regions = eu_west(eu);
    let app = fx.build();
    for (t, expected) in [
        (&eu_t, "https://eu.store/put"),
        (&us_t, "https://us.store/put"),
    ] {
        let up = app
            .initiate_upload(
                &caller(t, "alice", &[Role::Editor]),
                InitiateUpload {
                    file: fields("contract.pdf"),
                    size: 9,
                    multipart: false,
                },
            )
            .await
            .unwrap();
        match up.upload {
            UploadTarget::Single(put) => assert_eq!(put.url, expected),
            other => panic!("expected a single PUT, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_streamed_upload_is_written_to_the_regions_store_only() {
    let t = eu_tenant();
    let (config, mut eu) = regional();
    let mut fx = FilesFx {
        config,
        ..FilesFx::default()
    };
    audit_ok(&mut fx.audit);
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    fx.files
        .expect_reserve_upload()
        .withf(|_, new, _, _| new.bucket == eu_bucket())
        .returning(|scope, new, _, _| Ok(pending(new, scope.tenant_id())));
    fx.files
        .expect_mark_available()
        .returning(|scope, id, facts, _| {
            let mut f = file(
                &tenant_with_id(scope.tenant_id()),
                "alice",
                FileStatus::Available,
            );
            f.id = id;
            f.size_bytes = facts.size_bytes;
            Ok(f)
        });
    fx.store.expect_put_stream().never();
    fx.store.expect_delete().never();
    let owner = t.id;
    eu.expect_put_stream()
        .times(1)
        .withf(move |l, _, _| l.tenant() == owner && l.bucket() == &eu_bucket())
        .returning(|_, _, body| {
            let chunks = futures::executor::block_on(body.collect::<Vec<_>>());
            let size = chunks
                .into_iter()
                .map(|c| c.map(|c| c.len() as u64).unwrap_or(0))
                .sum();
            Ok(ObjectMeta {
                size,
                ..Default::default()
            })
        });
    eu.expect_delete().never();
    fx.regions = eu_west(eu);
    let f = fx
        .build()
        .upload_stream(
            &caller(&t, "alice", &[Role::Editor]),
            StreamUpload {
                file: fields("notes.txt"),
            },
            body(b"residency"),
        )
        .await
        .unwrap();
    assert_eq!(f.size_bytes, 9);
}

#[tokio::test]
async fn reads_and_erases_of_a_tenant_use_its_regions_store() {
    let t = eu_tenant();
    let mut f = file(&t, "alice", FileStatus::Available);
    f.bucket = eu_bucket();
    let (config, mut eu) = regional();
    let mut fx = FilesFx {
        config,
        ..FilesFx::default()
    };
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &f);
    let marked = f.clone();
    fx.integrity
        .expect_begin_erase()
        .returning(move |_, _, _, _| Ok(marked.clone()));
    let gone = f.clone();
    fx.files
        .expect_remove_file()
        .returning(move |_, _, _| Ok(gone.clone()));
    fx.store.expect_presign_get().never();
    fx.store.expect_get_stream().never();
    fx.store.expect_delete().never();
    let key = f.key.clone();
    eu.expect_presign_get()
        .times(1)
        .withf(move |r| r.location.key() == &key && r.location.bucket() == &eu_bucket())
        .returning(|_| Ok(signed("https://eu.store/get")));
    eu.expect_get_stream().times(1).returning(|_, _| {
        Ok(GetObject {
            total_size: 9,
            range: None,
            content_type: None,
            etag: None,
            body: body(b"%PDF-1.7\n"),
        })
    });
    let key = f.key.clone();
    eu.expect_delete()
        .times(1)
        .withf(move |l| l.key() == &key && l.bucket() == &eu_bucket())
        .returning(|_| Ok(()));
    fx.regions = eu_west(eu);
    let app = fx.build();
    let alice = caller(&t, "alice", &[Role::Editor]);
    let url = app.download_url(&alice, f.id, None).await.unwrap();
    assert_eq!(url.url, "https://eu.store/get");
    let (_, object) = app.open_content(&alice, f.id, None, None).await.unwrap();
    assert_eq!(object.total_size, 9);
    app.delete_file(&alice, f.id, true).await.unwrap();
}

#[tokio::test]
async fn readiness_asks_every_store() {
    for eu_ready in [true, false] {
        let mut eu = MockObjectStore::new();
        let mut readiness = MockMetadataReadiness::new();
        readiness.expect_check_ready().returning(|| Ok(()));
        let mut store = MockObjectStore::new();
        store.expect_check_ready().times(1).returning(|| Ok(()));
        eu.expect_check_ready().times(1).returning(move || {
            if eu_ready {
                Ok(())
            } else {
                Err(store_err(StoreErrorKind::Unavailable))
            }
        });
        let operations = Operations::new(
            Arc::new(MockJobLocks::new()),
            Arc::new(readiness),
            stores(store, eu_west(eu)),
            None,
        );
        let ready = operations.check_ready().await;
        match ready {
            Ok(()) => assert!(eu_ready, "ready although eu-west's store is down"),
            Err(err) => {
                assert!(!eu_ready, "{err}");
                assert_eq!(err.kind, ErrorKind::Unavailable);
            }
        }
    }
}

#[tokio::test]
async fn the_reconciler_lists_and_repairs_on_the_regions_store() {
    let t = eu_tenant();
    let (config, mut eu) = regional();
    let mut fx = ReconcilerFx {
        config,
        ..ReconcilerFx::default()
    };
    audit_ok(&mut fx.audit);
    let row = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(row.clone()));
    fx.integrity
        .expect_list_file_objects()
        .returning(|_, _| Ok(Vec::<FileObject>::new()));
    fx.store.expect_list().never();
    fx.store.expect_delete().never();
    let orphan = ObjectKey::for_file(t.id, &Category::default_category(), FileId::new_v7());
    let listed = orphan.clone();
    let owner = t.id;
    eu.expect_list().times(1).returning(move |prefix, _, _| {
        let bucket = prefix.bucket();
        assert_eq!(prefix.tenant_id(), owner);
        // Only its region's bucket: the default and category buckets are
        // the default store's, and asking this endpoint about them fails
        // where bucket names are global.
        assert_eq!(*bucket, eu_bucket());
        Ok(ObjectList {
            objects: vec![ListedObject {
                key: listed.clone(),
                size: 9,
                last_modified: Some(now() - time::Duration::days(2)),
            }],
            next: None,
        })
    });
    eu.expect_delete()
        .times(1)
        .withf(move |l| l.key() == &orphan && l.bucket() == &eu_bucket())
        .returning(|_| Ok(()));
    fx.regions = eu_west(eu);
    let report = fx
        .build()
        .reconcile(Some(t.id), true, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(report.orphans_found, 1);
    assert_eq!(report.orphans_deleted, 1);
}

#[test]
fn stores_choose_by_the_tenants_region() {
    let default: Arc<dyn coffer_ports::ObjectStore> = Arc::new(MockObjectStore::new());
    let eu: Arc<dyn coffer_ports::ObjectStore> = Arc::new(MockObjectStore::new());
    let stores =
        coffer_service::Stores::new(default.clone()).with_region(region("eu-west"), eu.clone());
    assert!(Arc::ptr_eq(stores.for_tenant(&eu_tenant()), &eu));
    assert!(Arc::ptr_eq(stores.for_tenant(&us_tenant()), &default));
    assert!(stores.has_own_store(&region("eu-west")));
    assert!(!stores.has_own_store(&region("us-east")));
}

#[tokio::test]
async fn a_multipart_upload_is_started_and_its_parts_presigned_on_the_regions_store() {
    let t = eu_tenant();
    let (config, mut eu) = regional();
    let mut fx = FilesFx {
        config,
        ..FilesFx::default()
    };
    audit_ok(&mut fx.audit);
    fx.files
        .expect_reserve_upload()
        .returning(|scope, new, _, _| Ok(pending(new, scope.tenant_id())));
    let owner = t.clone();
    fx.files
        .expect_set_multipart_upload()
        .returning(move |scope, id, up| {
            let mut f = file(&owner, "alice", FileStatus::Pending);
            f.id = id;
            f.tenant_id = scope.tenant_id();
            f.multipart_upload_id = Some(up.to_owned());
            Ok(f)
        });
    // The default store has no expectations: any call to it fails the test.
    let eu_id = t.id;
    eu.expect_create_multipart()
        .times(1)
        .withf(move |location, _| location.tenant() == eu_id && location.bucket() == &eu_bucket())
        .returning(|_, _| Ok("up-eu".into()));
    eu.expect_presign_part()
        .times(1)
        .withf(|request| {
            request.location.bucket() == &eu_bucket()
                && request.upload_id == "up-eu"
                && request.part_number == 1
        })
        .returning(|_| Ok(signed("https://eu.store/part")));
    let mut multipart = file(&t, "alice", FileStatus::Pending);
    multipart.bucket = eu_bucket();
    multipart.size_bytes = 40 * 1024 * 1024;
    multipart.multipart_upload_id = Some("up-eu".into());
    serves_file(&mut fx.files, &multipart);
    fx.regions = eu_west(eu);
    let app = fx.build();
    let c = caller(&t, "alice", &[Role::Editor]);
    let up = app
        .initiate_upload(
            &c,
            InitiateUpload {
                file: fields("big.pdf"),
                size: 40 * 1024 * 1024,
                multipart: true,
            },
        )
        .await
        .unwrap();
    assert!(matches!(up.upload, UploadTarget::Multipart(_)), "{up:?}");
    let parts = app
        .presign_parts(&c, multipart.id, vec![part(1)])
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
}
