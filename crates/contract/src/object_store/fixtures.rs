//! What the cases share: the [`Harness`], deterministic bodies, presigned
//! requests sent over real HTTP, and assertions with the operation named.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use coffer_domain::{BucketName, Category, ContentType, FileId, ObjectKey, Sha256Digest, TenantId};
use coffer_ports::{
    BucketSpec, ByteStream, ObjectLocation, ObjectStore, PresignGet, PresignPut, PresignedRequest,
    StoreError, StoreErrorKind,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub(crate) const MIB: u64 = 1024 * 1024;
pub(crate) const LIFETIME: Duration = Duration::from_secs(300);

/// What a case needs besides the store: a bucket that exists, a tenant of its
/// own, and the web origin the bucket allows (if the adapter has CORS).
#[derive(Debug, Clone)]
pub struct Harness {
    pub bucket: BucketName,
    pub tenant: TenantId,
    pub allowed_origin: Option<String>,
}

impl Harness {
    /// A harness with a fresh random tenant.
    pub fn new(bucket: BucketName, allowed_origin: Option<String>) -> Self {
        Self {
            bucket,
            tenant: TenantId::new_random(),
            allowed_origin,
        }
    }

    /// The spec factories pass to `ensure_bucket`.
    pub fn bucket_spec(&self) -> BucketSpec {
        BucketSpec {
            bucket: self.bucket.clone(),
            cors_origins: self.allowed_origin.iter().cloned().collect(),
            abort_incomplete_multipart_days: 1,
            transitions: Vec::new(),
        }
    }

    /// A new object location of this harness's tenant.
    pub fn location(&self) -> ObjectLocation {
        self.location_of(self.tenant)
    }

    fn location_of(&self, tenant: TenantId) -> ObjectLocation {
        ObjectLocation {
            tenant,
            bucket: self.bucket.clone(),
            key: ObjectKey::for_file(tenant, &Category::default_category(), FileId::new_v7()),
        }
    }
}

/// Unwraps with the operation named in the panic, for readable failures.
pub(crate) fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

pub(crate) fn refused_with<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    kind: StoreErrorKind,
    what: &str,
) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        Ok(value) => panic!("{what}: expected {kind}, got {value:?}"),
    }
}

pub(crate) fn content_type(raw: &str) -> ContentType {
    ok(ContentType::new(raw), "content type")
}

pub(crate) fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(bytes).into())
}

/// Deterministic, non-repeating bytes: byte `i` of object `seed`, computed
/// on demand so large bodies never exist in memory at once.
pub(crate) fn pattern(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = offset;
    while out.len() < len {
        let word = splitmix(seed ^ (i / 8)).to_le_bytes();
        let from = (i % 8) as usize;
        let take = (8 - from).min(len - out.len());
        out.extend_from_slice(&word[from..from + take]);
        i += take as u64;
    }
    out
}

pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A lazily generated body of `size` bytes in 64 KiB chunks.
pub(crate) fn pattern_stream(seed: u64, size: u64) -> ByteStream {
    const CHUNK: u64 = 64 * 1024;
    Box::pin(futures::stream::iter((0..size.div_ceil(CHUNK)).map(
        move |n| {
            let offset = n * CHUNK;
            let len = CHUNK.min(size - offset) as usize;
            Ok(Bytes::from(pattern(seed, offset, len)))
        },
    )))
}

pub(crate) async fn collect(mut body: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&ok(chunk, "reading body"));
    }
    out
}

/// Sends a presigned request with its headers (after `tweak`) and `body`.
/// `content-length` is left to the HTTP client, which derives it from the body.
pub(crate) async fn send(
    http: &reqwest::Client,
    request: &PresignedRequest,
    body: Vec<u8>,
    tweak: impl FnOnce(&mut BTreeMap<String, String>),
) -> reqwest::Response {
    let mut headers = request.headers.clone();
    tweak(&mut headers);
    let method = ok(
        reqwest::Method::from_bytes(request.method.as_bytes()),
        "method",
    );
    let mut builder = http.request(method, &request.url);
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            builder = builder.header(name, value);
        }
    }
    if !body.is_empty() || request.method == "PUT" {
        builder = builder.body(body);
    }
    ok(builder.send().await, "sending presigned request")
}

pub(crate) fn presign_put_request(
    location: &ObjectLocation,
    ctype: &str,
    body: &[u8],
    checksum: bool,
) -> PresignPut {
    PresignPut {
        location: location.clone(),
        content_type: content_type(ctype),
        content_length: body.len() as u64,
        checksum_sha256: checksum.then(|| sha256(body)),
        now: OffsetDateTime::now_utc(),
        expires_in: LIFETIME,
    }
}

pub(crate) fn plain_get(location: &ObjectLocation) -> PresignGet {
    PresignGet {
        location: location.clone(),
        content_disposition: None,
        content_type: None,
        now: OffsetDateTime::now_utc(),
        expires_in: LIFETIME,
    }
}

pub(crate) async fn upload_via_presigned_put(
    store: &dyn ObjectStore,
    http: &reqwest::Client,
    location: &ObjectLocation,
    ctype: &str,
    body: &[u8],
) {
    let presigned = ok(
        store
            .presign_put(presign_put_request(location, ctype, body, true))
            .await,
        "presign_put",
    );
    let response = send(http, &presigned, body.to_vec(), |_| {}).await;
    assert!(
        response.status().is_success(),
        "presigned PUT answered {}: {:?}",
        response.status(),
        response.text().await
    );
}

pub(crate) async fn assert_absent(store: &dyn ObjectStore, location: &ObjectLocation, why: &str) {
    refused_with(store.head(location).await, StoreErrorKind::NotFound, why);
}

/// Sends a PUT that breaks the presigned contract and checks that the store
/// refused it and stored nothing.
pub(crate) async fn assert_put_refused(
    store: &dyn ObjectStore,
    presigned: &PresignedRequest,
    location: &ObjectLocation,
    body: Vec<u8>,
    tweak: impl FnOnce(&mut BTreeMap<String, String>),
    why: &str,
) {
    let http = reqwest::Client::new();
    let response = send(&http, presigned, body, tweak).await;
    assert!(
        response.status().is_client_error(),
        "{why}: the store answered {} instead of refusing",
        response.status()
    );
    assert_absent(store, location, why).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_consistent_at_any_offset() {
        let whole = pattern(3, 0, 100);
        for (offset, len) in [(0, 100), (1, 7), (7, 9), (50, 50), (99, 1)] {
            assert_eq!(pattern(3, offset as u64, len), whole[offset..offset + len]);
        }
        assert_ne!(pattern(3, 0, 16), pattern(4, 0, 16));
    }
}
