//! What `ensure_bucket` and aborted uploads leave on the store, read back
//! with a plain SDK client.

use bytes::Bytes;
use coffer_domain::{Category, ContentType, FileId, TenantId};
use coffer_ports::{
    BucketSpec, ByteStream, ObjectLocation, ObjectStore, StorageTransition, StoreErrorKind,
};
use futures::StreamExt;

use crate::support::{allowed_origin, config, fresh_bucket, raw_client, store_with};

#[tokio::test]
async fn ensure_bucket_sets_encryption_lifecycle_and_cors() {
    let store = store_with(config()).await;
    let raw = raw_client();
    let bucket = fresh_bucket("coffer-setup");
    let mut spec = BucketSpec {
        bucket: bucket.clone(),
        cors_origins: vec![allowed_origin()],
        abort_incomplete_multipart_days: 3,
        transitions: Vec::new(),
    };
    store.ensure_bucket(&spec).await.expect("ensure_bucket");
    raw.head_bucket()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("bucket exists");

    let encryption = raw
        .get_bucket_encryption()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("GetBucketEncryption");
    let algorithms: Vec<String> = encryption
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned())
        .collect();
    assert_eq!(algorithms, vec!["AES256".to_owned()]);

    let cors = raw
        .get_bucket_cors()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("GetBucketCors");
    let origins: Vec<&str> = cors
        .cors_rules()
        .iter()
        .flat_map(|r| r.allowed_origins())
        .map(String::as_str)
        .collect();
    assert_eq!(origins, vec![allowed_origin().as_str()]);

    let lifecycle_days = |raw: aws_sdk_s3::Client, bucket: String| async move {
        let lifecycle = raw
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .expect("GetBucketLifecycleConfiguration");
        lifecycle
            .rules()
            .iter()
            .filter_map(|r| r.abort_incomplete_multipart_upload())
            .filter_map(|a| a.days_after_initiation())
            .collect::<Vec<i32>>()
    };
    assert_eq!(
        lifecycle_days(raw.clone(), bucket.to_string()).await,
        vec![3]
    );

    // Applied again on every call: a changed setting replaces the old one.
    spec.abort_incomplete_multipart_days = 5;
    store
        .ensure_bucket(&spec)
        .await
        .expect("ensure_bucket again");
    assert_eq!(lifecycle_days(raw, bucket.to_string()).await, vec![5]);
}

/// Transitions are applied where the store takes them; where it refuses
/// them, the abort rule must still be in place.
#[tokio::test]
async fn transitions_never_cost_the_abort_rule() {
    let store = store_with(config()).await;
    let raw = raw_client();
    let bucket = fresh_bucket("coffer-documents");
    let spec = BucketSpec {
        bucket: bucket.clone(),
        cors_origins: Vec::new(),
        abort_incomplete_multipart_days: 4,
        transitions: vec![StorageTransition {
            after_days: 30,
            storage_class: "STANDARD_IA".into(),
        }],
    };
    store
        .ensure_bucket(&spec)
        .await
        .expect("ensure_bucket with transitions");
    let lifecycle = raw
        .get_bucket_lifecycle_configuration()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration");
    let rules = lifecycle.rules();
    let abort: Vec<i32> = rules
        .iter()
        .filter_map(|r| r.abort_incomplete_multipart_upload())
        .filter_map(|a| a.days_after_initiation())
        .collect();
    assert_eq!(abort, vec![4]);
    let transitions: Vec<(Option<i32>, Option<String>)> = rules
        .iter()
        .flat_map(|r| r.transitions())
        .map(|t| (t.days(), t.storage_class().map(|c| c.as_str().to_owned())))
        .collect();
    // SeaweedFS keeps or drops them; when kept, they are the ones asked for.
    assert!(
        transitions.is_empty() || transitions == vec![(Some(30), Some("STANDARD_IA".to_owned()))],
        "{transitions:?}"
    );
}

#[tokio::test]
async fn a_failed_multipart_stream_leaves_no_upload_behind() {
    let store = store_with(config()).await;
    let bucket = fresh_bucket("coffer-abort");
    store
        .ensure_bucket(&BucketSpec {
            bucket: bucket.clone(),
            cors_origins: Vec::new(),
            abort_incomplete_multipart_days: 1,
            transitions: Vec::new(),
        })
        .await
        .expect("ensure_bucket");
    let tenant = TenantId::new_random();
    let location = ObjectLocation::for_file(
        tenant,
        bucket.clone(),
        &Category::default_category(),
        FileId::new_v7(),
    );
    // Three parts' worth of good bytes (default part size 8 MiB), then an error.
    let good = futures::stream::iter(
        (0..24 * 16).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 64 * 1024]))),
    );
    let body: ByteStream = Box::pin(good.chain(futures::stream::once(async {
        Err(std::io::Error::other("client went away"))
    })));
    let err = store
        .put_stream(&location, &ContentType::new("text/plain").unwrap(), body)
        .await
        .expect_err("the put must fail");
    assert_eq!(err.kind(), StoreErrorKind::Internal);

    let uploads = raw_client()
        .list_multipart_uploads()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("ListMultipartUploads");
    let left: Vec<_> = uploads.uploads().iter().filter_map(|u| u.key()).collect();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}
