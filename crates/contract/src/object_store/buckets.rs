//! Buckets: a missing one is not found, set-up is idempotent, and one is
//! removed only when empty.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{BucketName, TenantId};
use coffer_ports::{BucketSpec, ObjectPrefix, ObjectStore, StoreErrorKind};

use super::fixtures::{Harness, content_type, ok, pattern_stream, refused_with};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_buckets_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; buckets;
            missing_bucket_is_not_found,
            ensure_bucket_is_idempotent_and_store_is_ready,
            remove_bucket_removes_only_an_empty_bucket,
        );
    };
}

pub async fn missing_bucket_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    let suffix = TenantId::new_random().to_string().replace('-', "");
    let missing = ok(
        BucketName::new(format!("coffer-missing-{}", &suffix[..16])),
        "bucket name",
    );
    let location = h.location_in(&missing);
    refused_with(
        store
            .list(&ObjectPrefix::tenant(h.tenant, missing.clone()), None, 10)
            .await,
        StoreErrorKind::NotFound,
        "list of a missing bucket",
    );
    refused_with(
        store.head(&location).await,
        StoreErrorKind::NotFound,
        "head in a missing bucket",
    );
}

pub async fn ensure_bucket_is_idempotent_and_store_is_ready(
    store: Arc<dyn ObjectStore>,
    h: Harness,
) {
    for _ in 0..2 {
        ok(store.ensure_bucket(&h.bucket_spec()).await, "ensure_bucket");
    }
    ok(store.check_ready().await, "check_ready");
    // The bucket is usable after set-up.
    let location = h.location();
    ok(
        store
            .put_stream(
                &location,
                &content_type("text/plain"),
                pattern_stream(18, 10),
            )
            .await,
        "put_stream",
    );
    assert_eq!(ok(store.head(&location).await, "head").size, 10);
}

/// An onboarding's compensation: a bucket is removed only when empty, a
/// missing one is success, and `bucket_exists` tells.
pub async fn remove_bucket_removes_only_an_empty_bucket(store: Arc<dyn ObjectStore>, h: Harness) {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let Ok(bucket) = BucketName::new(format!("coffer-rm-{}", &suffix[..12])) else {
        panic!("a valid bucket name");
    };
    assert!(!ok(store.bucket_exists(&bucket).await, "bucket_exists"));
    ok(
        store.remove_bucket(&bucket).await,
        "removing a missing bucket",
    );
    let spec = BucketSpec {
        bucket: bucket.clone(),
        ..h.bucket_spec()
    };
    ok(store.ensure_bucket(&spec).await, "ensure_bucket");
    assert!(ok(store.bucket_exists(&bucket).await, "bucket_exists"));
    let location = h.location_in(&bucket);
    // SeaweedFS answers 500 to the first writes into a brand-new bucket
    // while it grows a volume for it: try a few times.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store
            .put_stream(
                &location,
                &content_type("text/plain"),
                pattern_stream(3, 10),
            )
            .await
        {
            Ok(_) => break,
            Err(e) if e.kind() == StoreErrorKind::Unavailable && attempts < 20 => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("put_stream: {e}"),
        }
    }
    let Err(err) = store.remove_bucket(&bucket).await else {
        panic!("a bucket holding an object was removed");
    };
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert_eq!(
        ok(store.head(&location).await, "head after refusal").size,
        10
    );
    ok(store.delete(&location).await, "delete");
    ok(
        store.remove_bucket(&bucket).await,
        "removing the emptied bucket",
    );
    assert!(!ok(store.bucket_exists(&bucket).await, "bucket_exists"));
    ok(store.remove_bucket(&bucket).await, "removing it again");
    // The harness's bucket is untouched.
    assert!(ok(store.bucket_exists(&h.bucket).await, "bucket_exists"));
}
