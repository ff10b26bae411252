//! Object Lock on the test SeaweedFS (docs/storage.md, "Object Lock"):
//! what the store itself refuses once `apply_lock` set a retention or a
//! legal hold, read back with a plain SDK client. Where SeaweedFS differs
//! from AWS (it cannot remove a governance retention), the test asserts
//! what it does, so a change in SeaweedFS is noticed.

use std::sync::Arc;

use aws_sdk_s3::types::{ObjectLockLegalHoldStatus, ObjectLockRetentionMode};
use coffer_contract::object_store::Harness;
use coffer_domain::{BucketName, ContentType, ObjectKey, Retention, RetentionMode};
use coffer_ports::{
    LockEnforcement, ObjectLocation, ObjectLock, ObjectPrefix, ObjectStore, StoreErrorKind,
};
use futures::StreamExt;
use time::{Duration, OffsetDateTime};

use crate::support::{
    LOCKED_CONTRACT_BUCKET, config, contract_store, fresh_bucket, locked_config,
    locked_contract_store, raw_client, store_with,
};

const BODY: &[u8] = b"records kept unchanged";

fn retention(mode: RetentionMode, days: i64) -> Option<Retention> {
    // Whole seconds, as the store keeps them, so read-backs compare equal.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
    Some(Retention {
        mode,
        retain_until: now + Duration::days(days),
    })
}

fn lock(retention: Option<Retention>, legal_hold: bool) -> ObjectLock {
    ObjectLock {
        retention,
        legal_hold,
    }
}

async fn put(store: &dyn ObjectStore, location: &ObjectLocation) {
    let body = futures::stream::iter([Ok(bytes::Bytes::from_static(BODY))]);
    store
        .put_stream(
            location,
            &ContentType::new("text/plain").expect("type"),
            Box::pin(body),
        )
        .await
        .expect("put_stream");
}

async fn read(store: &dyn ObjectStore, location: &ObjectLocation) -> Vec<u8> {
    let mut body = store.get_stream(location, None).await.expect("get").body;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

/// A store with `object_lock` on, a fresh tenant in the shared locked
/// bucket, and a stored object.
async fn locked_object() -> (Arc<dyn ObjectStore>, Harness, ObjectLocation) {
    let (store, harness) = locked_contract_store().await;
    let location = harness.location();
    put(store.as_ref(), &location).await;
    (store, harness, location)
}

/// `(versions, delete markers)` the bucket holds of exactly this key.
async fn versions_of(location: &ObjectLocation) -> (usize, usize) {
    let out = raw_client()
        .list_object_versions()
        .bucket(location.bucket().as_str())
        .prefix(location.key().as_str())
        .send()
        .await
        .expect("ListObjectVersions");
    let key = Some(location.key().as_str());
    (
        out.versions().iter().filter(|v| v.key() == key).count(),
        out.delete_markers()
            .iter()
            .filter(|m| m.key() == key)
            .count(),
    )
}

async fn stored_retention(location: &ObjectLocation) -> (ObjectLockRetentionMode, i64) {
    let out = raw_client()
        .get_object_retention()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .send()
        .await
        .expect("GetObjectRetention");
    let retention = out.retention().expect("a retention");
    (
        retention.mode().expect("mode").clone(),
        retention.retain_until_date().expect("date").secs(),
    )
}

/// `apply_lock`, which must be `Enforced`.
async fn enforce(
    store: &dyn ObjectStore,
    location: &ObjectLocation,
    wanted: ObjectLock,
    bypass_governance: bool,
) {
    let enforcement = store
        .apply_lock(location, &wanted, bypass_governance)
        .await
        .expect("apply_lock");
    assert_eq!(enforcement, LockEnforcement::Enforced, "{wanted:?}");
}

/// The store holds exactly `wanted` as the object's retention.
async fn assert_retention(location: &ObjectLocation, wanted: Option<Retention>) {
    let wanted = wanted.expect("a retention");
    let mode = match wanted.mode {
        RetentionMode::Governance => ObjectLockRetentionMode::Governance,
        RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
    };
    assert_eq!(
        stored_retention(location).await,
        (mode, wanted.retain_until.unix_timestamp())
    );
}

async fn legal_hold_of(location: &ObjectLocation) -> ObjectLockLegalHoldStatus {
    let out = raw_client()
        .get_object_legal_hold()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .send()
        .await
        .expect("GetObjectLegalHold");
    out.legal_hold()
        .and_then(|h| h.status())
        .cloned()
        .expect("a legal hold status")
}

fn kind<T: std::fmt::Debug>(result: Result<T, coffer_ports::StoreError>) -> StoreErrorKind {
    result.expect_err("the store must refuse").kind()
}

#[tokio::test]
async fn ensure_bucket_creates_buckets_with_object_lock_and_versioning() {
    let store = store_with(locked_config()).await;
    let bucket = fresh_bucket("coffer-lock");
    store
        .ensure_bucket(&Harness::new(bucket.clone(), None).bucket_spec())
        .await
        .expect("ensure_bucket");
    let raw = raw_client();
    let lock = raw
        .get_object_lock_configuration()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("GetObjectLockConfiguration");
    assert_eq!(
        lock.object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            .map(|e| e.as_str()),
        Some("Enabled")
    );
    let versioning = raw
        .get_bucket_versioning()
        .bucket(bucket.as_str())
        .send()
        .await
        .expect("GetBucketVersioning");
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    // An empty locked bucket can still be removed (onboarding's compensation).
    store.remove_bucket(&bucket).await.expect("remove_bucket");
    assert!(!store.bucket_exists(&bucket).await.expect("exists"));
}

#[tokio::test]
async fn a_retained_object_is_refused_and_keeps_its_bytes() {
    let (store, _, location) = locked_object().await;
    let kept = retention(RetentionMode::Governance, 1);
    enforce(store.as_ref(), &location, lock(kept, false), false).await;
    assert_retention(&location, kept).await;

    assert_eq!(kind(store.delete(&location).await), StoreErrorKind::Refused);
    // Refused without a delete marker left behind: the object is as it was.
    assert_eq!(read(store.as_ref(), &location).await, BODY);
    assert_eq!(versions_of(&location).await, (1, 0));
}

#[tokio::test]
async fn a_legal_hold_blocks_deletion_until_released() {
    let (store, harness, location) = locked_object().await;
    enforce(store.as_ref(), &location, lock(None, true), false).await;
    assert_eq!(
        legal_hold_of(&location).await,
        ObjectLockLegalHoldStatus::On
    );

    assert_eq!(kind(store.delete(&location).await), StoreErrorKind::Refused);
    assert_eq!(read(store.as_ref(), &location).await, BODY);
    assert_eq!(versions_of(&location).await, (1, 0));

    enforce(store.as_ref(), &location, lock(None, false), false).await;
    store.delete(&location).await.expect("delete after release");
    assert_eq!(kind(store.head(&location).await), StoreErrorKind::NotFound);
    assert_eq!(versions_of(&location).await, (0, 0), "no version left");
    let listed = store
        .list(
            &ObjectPrefix::tenant(harness.tenant, harness.bucket.clone()),
            None,
            10,
        )
        .await
        .expect("list");
    assert!(listed.objects.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn compliance_is_never_shortened_even_with_bypass() {
    let (store, _, location) = locked_object().await;
    let two_days = retention(RetentionMode::Compliance, 2);
    enforce(store.as_ref(), &location, lock(two_days, false), false).await;

    for (what, weaker) in [
        ("shorter", retention(RetentionMode::Compliance, 1)),
        ("governance", retention(RetentionMode::Governance, 2)),
        ("removed", None),
    ] {
        assert_eq!(
            kind(
                store
                    .apply_lock(&location, &lock(weaker, false), true)
                    .await
            ),
            StoreErrorKind::Refused,
            "{what}"
        );
    }
    assert_retention(&location, two_days).await;
    assert_eq!(kind(store.delete(&location).await), StoreErrorKind::Refused);
    assert_eq!(read(store.as_ref(), &location).await, BODY);

    // Extending is always allowed.
    let three_days = retention(RetentionMode::Compliance, 3);
    enforce(store.as_ref(), &location, lock(three_days, false), false).await;
    assert_retention(&location, three_days).await;
}

#[tokio::test]
async fn governance_is_shortened_only_with_bypass() {
    let (store, _, location) = locked_object().await;
    let two_days = retention(RetentionMode::Governance, 2);
    enforce(store.as_ref(), &location, lock(two_days, false), false).await;
    let shorter = retention(RetentionMode::Governance, 1);
    let unbypassed = store
        .apply_lock(&location, &lock(shorter, false), false)
        .await;
    assert_eq!(kind(unbypassed), StoreErrorKind::Refused);
    assert_retention(&location, two_days).await;

    enforce(store.as_ref(), &location, lock(shorter, false), true).await;
    assert_retention(&location, shorter).await;
    // Still retained until that date.
    assert_eq!(kind(store.delete(&location).await), StoreErrorKind::Refused);
}

/// SeaweedFS 4.48 answers `400 InvalidRequest` to a `PutObjectRetention`
/// without mode and date, bypass or not, so a governance retention cannot
/// be removed there (AWS S3 removes it with the bypass header): Coffer
/// reports `Refused` and the store keeps the retention. A legal hold
/// released in the same call is released all the same. Should SeaweedFS
/// start removing retentions, this test fails: update docs/storage.md.
#[tokio::test]
async fn seaweedfs_does_not_remove_a_governance_retention() {
    let (store, _, location) = locked_object().await;
    let kept = retention(RetentionMode::Governance, 1);
    enforce(store.as_ref(), &location, lock(kept, true), false).await;
    assert_eq!(
        kind(store.apply_lock(&location, &lock(None, false), true).await),
        StoreErrorKind::Refused
    );
    assert_eq!(
        legal_hold_of(&location).await,
        ObjectLockLegalHoldStatus::Off,
        "the hold is released although the retention stays"
    );
    assert_retention(&location, kept).await;
}

#[tokio::test]
async fn delete_removes_every_version_and_delete_marker_of_the_key_only() {
    let (store, harness, location) = locked_object().await;
    // A second version, and a delete marker laid by a plain delete.
    put(store.as_ref(), &location).await;
    raw_client()
        .delete_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .send()
        .await
        .expect("plain DeleteObject");
    put(store.as_ref(), &location).await;
    assert_eq!(versions_of(&location).await, (3, 1));
    // A key of which this one is a prefix stays.
    let longer = ObjectLocation::new(
        harness.tenant,
        harness.bucket.clone(),
        ObjectKey::parse(format!("{}/x", location.key())).expect("key"),
    )
    .expect("location");
    put(store.as_ref(), &longer).await;

    store.delete(&location).await.expect("delete");
    assert_eq!(versions_of(&location).await, (0, 0));
    assert_eq!(read(store.as_ref(), &longer).await, BODY);
    store.delete(&location).await.expect("deleting again");
}

#[tokio::test]
async fn apply_lock_to_a_missing_object_is_not_found() {
    let (store, harness) = locked_contract_store().await;
    let missing = harness.location();
    for l in [
        lock(None, true),
        lock(retention(RetentionMode::Governance, 1), false),
    ] {
        assert_eq!(
            kind(store.apply_lock(&missing, &l, false).await),
            StoreErrorKind::NotFound
        );
    }
}

/// `object_lock` off (the default): nothing is enforced, even in a bucket
/// that has Object Lock, and delete is the one plain `DeleteObject` it was.
#[tokio::test]
async fn with_object_lock_off_nothing_is_enforced() {
    let (store, harness) = contract_store().await;
    let location = harness.location();
    put(store.as_ref(), &location).await;
    assert_eq!(
        store
            .apply_lock(
                &location,
                &lock(retention(RetentionMode::Compliance, 1), true),
                false
            )
            .await
            .expect("apply_lock"),
        LockEnforcement::NotSupported
    );
    store.delete(&location).await.expect("delete");
    assert_eq!(kind(store.head(&location).await), StoreErrorKind::NotFound);

    // In a locked bucket, a store with object_lock off deletes as it always
    // did: a delete marker over the bytes, which stay in the store.
    let unlocked = store_with(config()).await;
    let bucket = BucketName::new(LOCKED_CONTRACT_BUCKET).expect("bucket");
    let in_locked = Harness::new(bucket, None).location();
    put(&unlocked, &in_locked).await;
    unlocked.delete(&in_locked).await.expect("delete");
    assert_eq!(
        kind(unlocked.head(&in_locked).await),
        StoreErrorKind::NotFound
    );
    assert_eq!(versions_of(&in_locked).await, (1, 1));
}

/// `object_lock` on, but a bucket that existed without Object Lock:
/// `apply_lock` answers `NotSupported` (Coffer's own refusal is the only
/// one) and delete is the plain one.
#[tokio::test]
async fn a_bucket_without_object_lock_is_not_supported() {
    let bucket = fresh_bucket("coffer-unlocked");
    let spec = Harness::new(bucket.clone(), None).bucket_spec();
    store_with(config())
        .await
        .ensure_bucket(&spec)
        .await
        .expect("a bucket without object lock");
    let store = store_with(locked_config()).await;
    store.ensure_bucket(&spec).await.expect("ensure_bucket");
    let location = Harness::new(bucket, None).location();
    put(&store, &location).await;
    assert_eq!(
        store
            .apply_lock(&location, &lock(None, true), false)
            .await
            .expect("apply_lock"),
        LockEnforcement::NotSupported
    );
    store.delete(&location).await.expect("delete");
    assert_eq!(kind(store.head(&location).await), StoreErrorKind::NotFound);
}
