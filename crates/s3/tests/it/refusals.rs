//! Failures the contract suite cannot stage against a healthy store.

use std::time::Duration;

use coffer_domain::{BucketName, Category, FileId, ObjectKey, TenantId};
use coffer_ports::{ObjectLocation, ObjectStore, PresignGet, StoreError, StoreErrorKind};
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

/// A location of `tenant` for a key generated under `key_tenant`'s prefix.
fn location(tenant: TenantId, key_tenant: TenantId) -> Result<ObjectLocation, StoreError> {
    let key = ObjectKey::for_file(key_tenant, &Category::default_category(), FileId::new_v7());
    ObjectLocation::new(tenant, BucketName::new("coffer-nowhere").unwrap(), key)
}

fn own(tenant: TenantId) -> ObjectLocation {
    location(tenant, tenant).unwrap()
}

/// Against an unreachable store a foreign key still answers `Refused`, not
/// `Unavailable`: the location holding it cannot be built, so the adapter,
/// which takes nothing else, never sees it.
#[tokio::test]
async fn a_foreign_key_cannot_reach_the_store() {
    let store = store_with(dead_config()).await;
    let tenant = TenantId::new_random();
    let foreign = location(tenant, TenantId::new_random());
    assert_eq!(
        foreign.err().map(|e| e.kind()),
        Some(StoreErrorKind::Refused)
    );

    // An own key does reach the store, and finds it down.
    let head = store.head(&own(tenant)).await.err().map(|e| e.kind());
    assert_eq!(head, Some(StoreErrorKind::Unavailable));
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
            location: own(tenant),
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
    let head = store.head(&own(tenant)).await.err().map(|e| e.kind());
    assert_ne!(
        head,
        Some(StoreErrorKind::NotFound),
        "a 403 must not read as 'no object'"
    );
}
