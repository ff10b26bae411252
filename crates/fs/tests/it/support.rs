//! Small builders shared by the fs tests.

use std::time::Duration;

use bytes::Bytes;
use coffer_domain::{BucketName, Category, ContentType, FileId, Sha256Digest, TenantId};
use coffer_ports::{
    BucketSpec, ObjectLocation, ObjectStore, PresignGet, PresignPut, PresignedRequest,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub const BUCKET: &str = "files";

pub async fn ready_bucket(store: &dyn ObjectStore) -> BucketName {
    let bucket = BucketName::new(BUCKET).expect("bucket name");
    store
        .ensure_bucket(&BucketSpec {
            bucket: bucket.clone(),
            cors_origins: Vec::new(),
            abort_incomplete_multipart_days: 1,
            transitions: Vec::new(),
        })
        .await
        .expect("ensure bucket");
    bucket
}

pub fn location(tenant: TenantId, bucket: &BucketName) -> ObjectLocation {
    let category = Category::default_category();
    ObjectLocation::for_file(tenant, bucket.clone(), &category, FileId::new_v7())
}

pub fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(bytes).into())
}

pub fn content_type(raw: &str) -> ContentType {
    ContentType::new(raw).expect("content type")
}

pub fn put_request(
    location: &ObjectLocation,
    body: &[u8],
    checksum: Option<Sha256Digest>,
) -> PresignPut {
    PresignPut {
        location: location.clone(),
        content_type: content_type("text/plain"),
        content_length: body.len() as u64,
        checksum_sha256: checksum,
        now: OffsetDateTime::now_utc(),
        expires_in: Duration::from_secs(300),
    }
}

/// Sends `request` as the client would: its method, URL and headers, with
/// `overrides` replacing (or, with `None`, removing) headers.
pub async fn send(
    request: &PresignedRequest,
    body: impl Into<reqwest::Body>,
    overrides: &[(&str, Option<&str>)],
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut builder = reqwest::Client::new().request(method, &request.url);
    for (name, value) in &request.headers {
        // reqwest derives Content-Length from the body it sends.
        if name.eq_ignore_ascii_case("content-length")
            || overrides.iter().any(|(o, _)| o.eq_ignore_ascii_case(name))
        {
            continue;
        }
        builder = builder.header(name, value);
    }
    for (name, value) in overrides {
        if let Some(value) = value {
            builder = builder.header(*name, *value);
        }
    }
    builder.body(body).send().await.expect("send")
}

pub fn bytes(n: usize) -> Bytes {
    Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<_>>())
}

/// A store with a ready bucket, and a fresh location of a fresh tenant in it.
pub async fn fresh() -> (crate::server::TestStore, ObjectLocation) {
    let test = crate::server::start();
    let loc = location(TenantId::new_random(), &ready_bucket(&test.store).await);
    (test, loc)
}

pub fn get_request(
    location: &ObjectLocation,
    content_disposition: Option<String>,
    content_type: Option<ContentType>,
) -> PresignGet {
    PresignGet {
        location: location.clone(),
        content_disposition,
        content_type,
        now: OffsetDateTime::now_utc(),
        expires_in: Duration::from_secs(60),
    }
}

/// Nothing under `location`, and no temp file left behind.
pub async fn assert_nothing_stored(test: &crate::server::TestStore, location: &ObjectLocation) {
    let missing = test.store.head(location).await.unwrap_err();
    assert!(
        missing.is(coffer_ports::StoreErrorKind::NotFound),
        "{missing}"
    );
    let litter = std::fs::read_dir(test.data_dir().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(litter, 0, "temp files left behind");
}
