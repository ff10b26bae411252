//! Failures the contract suite cannot stage against a healthy store.

use std::time::Duration;

use coffer_domain::{BucketName, Category, ContentType, FileId, ObjectKey, TenantId};
use coffer_ports::{ObjectLocation, ObjectStore, PresignGet, StoreErrorKind};
use coffer_s3::S3Config;
use time::OffsetDateTime;

use crate::support::{config, store_with};

/// A store nobody listens on: port 1 of loopback refuses every connection.
fn dead_config() -> S3Config {
    S3Config {
        endpoint: Some("http://127.0.0.1:1".to_owned()),
        region: "us-east-1".to_owned(),
        access_key_id: Some("nobody".to_owned()),
        secret_access_key: Some("nothing".into()),
        force_path_style: true,
        connect_timeout: Duration::from_secs(1),
        ready_timeout: Duration::from_secs(3),
        ..S3Config::default()
    }
}

fn location(tenant: TenantId, key_tenant: TenantId) -> ObjectLocation {
    ObjectLocation {
        tenant,
        bucket: BucketName::new("coffer-nowhere").unwrap(),
        key: ObjectKey::for_file(key_tenant, &Category::default_category(), FileId::new_v7()),
    }
}

/// Against an unreachable store a foreign key still answers `Refused`, not
/// `Unavailable`: the check runs before any connection is attempted.
#[tokio::test]
async fn foreign_keys_are_refused_before_anything_is_sent() {
    let store = store_with(dead_config()).await;
    let tenant = TenantId::new_random();
    let foreign = location(tenant, TenantId::new_random());
    let ctype = ContentType::new("text/plain").unwrap();
    let kind = |r: Result<_, coffer_ports::StoreError>| r.err().map(|e| e.kind());
    let refused = Some(StoreErrorKind::Refused);
    assert_eq!(kind(store.head(&foreign).await.map(|_| ())), refused);
    assert_eq!(kind(store.delete(&foreign).await), refused);
    assert_eq!(
        kind(store.get_stream(&foreign, None).await.map(|_| ())),
        refused
    );
    assert_eq!(
        kind(store.create_multipart(&foreign, &ctype).await.map(|_| ())),
        refused
    );
    assert_eq!(
        kind(store.list_parts(&foreign, "u").await.map(|_| ())),
        refused
    );
    assert_eq!(kind(store.abort_multipart(&foreign, "u").await), refused);
    let body: coffer_ports::ByteStream = Box::pin(futures::stream::empty());
    assert_eq!(
        kind(store.put_stream(&foreign, &ctype, body).await.map(|_| ())),
        refused
    );

    // The same calls on an own key do try the store, and find it down.
    let own = location(tenant, tenant);
    assert_eq!(
        kind(store.head(&own).await.map(|_| ())),
        Some(StoreErrorKind::Unavailable)
    );
}

#[tokio::test]
async fn an_unreachable_store_is_not_ready() {
    let store = store_with(dead_config()).await;
    let err = store.check_ready().await.err().map(|e| e.kind());
    assert_eq!(err, Some(StoreErrorKind::Unavailable));
    // Presigning is local: it works without the store.
    let tenant = TenantId::new_random();
    let presigned = store
        .presign_get(PresignGet {
            location: location(tenant, tenant),
            content_disposition: None,
            content_type: None,
            now: OffsetDateTime::now_utc(),
            expires_in: Duration::from_secs(60),
        })
        .await;
    assert!(presigned.is_ok(), "{presigned:?}");
}

#[tokio::test]
async fn wrong_credentials_are_not_ready_and_not_mistaken_for_missing_objects() {
    let store = store_with(S3Config {
        secret_access_key: Some("not-the-secret".into()),
        ..config()
    })
    .await;
    let err = store.check_ready().await.err().map(|e| e.kind());
    assert_eq!(err, Some(StoreErrorKind::Internal));
    let tenant = TenantId::new_random();
    let head = store
        .head(&location(tenant, tenant))
        .await
        .err()
        .map(|e| e.kind());
    assert_ne!(
        head,
        Some(StoreErrorKind::NotFound),
        "a 403 must not read as 'no object'"
    );
}
