//! ObjectStore contract suite.
//!
//! Every case is a `pub async fn(Arc<dyn ObjectStore>, Harness)` written
//! against the port only, and talks to presigned URLs over real HTTP
//! (reqwest), exactly as a client would. An adapter's integration tests run
//! the whole suite with [`object_store_contract!`](crate::object_store_contract):
//!
//! ```ignore
//! async fn store() -> (Arc<dyn ObjectStore>, coffer_contract::object_store::Harness) { … }
//! coffer_contract::object_store_contract!(store);
//! ```
//!
//! The factory returns a store and a [`Harness`] whose bucket already exists
//! (call `ensure_bucket`) and whose tenant is fresh, so cases run in
//! parallel without seeing each other's objects.
//!
//! What the suite assumes of a presigned URL beyond the port's types: the
//! store refuses (HTTP 4xx) a request that breaks the signature, and the
//! signature travels in a query parameter whose name contains `signature`
//! (S3's `X-Amz-Signature`), so the tampering case can find it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer_domain::{
    BucketName, Category, ContentType, DispositionKind, FileId, Filename, Sha256Digest, TenantId,
    content_disposition,
};
use coffer_ports::{
    BucketSpec, ByteRange, ByteStream, CompletedPart, ObjectLocation, ObjectStore, PresignGet,
    PresignPut, PresignedRequest, StoreError, StoreErrorKind,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const MIB: u64 = 1024 * 1024;
const LIFETIME: Duration = Duration::from_secs(300);

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
        self.location_in(&self.bucket)
    }

    /// A new object location of this harness's tenant in another bucket.
    fn location_in(&self, bucket: &BucketName) -> ObjectLocation {
        let category = Category::default_category();
        ObjectLocation::for_file(self.tenant, bucket.clone(), &category, FileId::new_v7())
    }
}

/// Expands to one `#[tokio::test]` per contract case. `$factory` is an async
/// fn returning `(Arc<dyn ObjectStore>, Harness)`.
#[macro_export]
macro_rules! object_store_contract {
    ($factory:path) => {
        $crate::object_store_contract!(@cases $factory;
            presigned_put_then_get_round_trip,
            presigned_put_refuses_other_content_type,
            presigned_put_refuses_other_content_length,
            presigned_put_refuses_wrong_checksum,
            presigned_put_refuses_tampered_signature,
            presigned_urls_refuse_after_expiry,
            head_reports_size_checksum_and_type,
            head_of_missing_object_is_not_found,
            missing_bucket_is_not_found,
            delete_removes_and_is_idempotent,
            list_pages_through_tenant_objects,
            small_and_empty_streamed_puts_round_trip,
            failed_body_leaves_no_object,
            streamed_put_of_64_mib_and_ranged_gets,
            ranges_outside_the_object_are_refused,
            multipart_via_presigned_parts_assembles_bytes,
            multipart_complete_with_wrong_etag_conflicts,
            abort_multipart_is_idempotent,
            foreign_key_never_reaches_the_store,
            ensure_bucket_is_idempotent_and_store_is_ready,
            remove_bucket_removes_only_an_empty_bucket,
        );
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, harness) = $factory().await;
                $crate::object_store::$case(store, harness).await;
            }
        )+
    };
}

// ---------------------------------------------------------------- helpers

/// Unwraps with the operation named in the panic, for readable failures.
fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn refused_with<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    kind: StoreErrorKind,
    what: &str,
) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{what}: {e}"),
        Ok(value) => panic!("{what}: expected {kind}, got {value:?}"),
    }
}

fn content_type(raw: &str) -> ContentType {
    ok(ContentType::new(raw), "content type")
}

fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(bytes).into())
}

/// Deterministic, non-repeating bytes: byte `i` of object `seed`, computed
/// on demand so large bodies never exist in memory at once.
fn pattern(seed: u64, offset: u64, len: usize) -> Vec<u8> {
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

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A lazily generated body of `size` bytes in 64 KiB chunks.
fn pattern_stream(seed: u64, size: u64) -> ByteStream {
    const CHUNK: u64 = 64 * 1024;
    Box::pin(futures::stream::iter((0..size.div_ceil(CHUNK)).map(
        move |n| {
            let offset = n * CHUNK;
            let len = CHUNK.min(size - offset) as usize;
            Ok(Bytes::from(pattern(seed, offset, len)))
        },
    )))
}

async fn collect(mut body: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&ok(chunk, "reading body"));
    }
    out
}

/// Sends a presigned request with its headers (after `tweak`) and `body`.
/// `content-length` is left to the HTTP client, which derives it from the body.
async fn send(
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

fn presign_put_request(
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

fn plain_get(location: &ObjectLocation) -> PresignGet {
    PresignGet {
        location: location.clone(),
        content_disposition: None,
        content_type: None,
        now: OffsetDateTime::now_utc(),
        expires_in: LIFETIME,
    }
}

async fn upload_via_presigned_put(
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

async fn assert_absent(store: &dyn ObjectStore, location: &ObjectLocation, why: &str) {
    refused_with(store.head(location).await, StoreErrorKind::NotFound, why);
}

/// Sends a PUT that breaks the presigned contract and checks that the store
/// refused it and stored nothing.
async fn assert_put_refused(
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

/// Peak resident memory of this process since the last reset, in bytes
/// (Linux only; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak so [`peak_rss`] measures from now on (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ------------------------------------------------------------------ cases

/// Presigned PUT, then presigned GET: same bytes, filename and type restored.
pub async fn presigned_put_then_get_round_trip(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let body = pattern(1, 0, 10_000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(
                &location,
                "application/pdf",
                &body,
                true,
            ))
            .await,
        "presign_put",
    );
    assert_eq!(presigned.method, "PUT");
    assert_eq!(
        presigned.headers.get("content-type").map(String::as_str),
        Some("application/pdf"),
        "the client is told the exact content type to send"
    );
    assert!(presigned.expires_at > OffsetDateTime::now_utc());
    let response = send(&http, &presigned, body.clone(), |_| {}).await;
    assert!(response.status().is_success(), "PUT: {}", response.status());

    let filename = ok(Filename::new("Bericht März \"final\".pdf"), "filename");
    let disposition = content_disposition(DispositionKind::Attachment, &filename);
    let get = ok(
        store
            .presign_get(PresignGet {
                content_disposition: Some(disposition.clone()),
                content_type: Some(content_type("application/pdf")),
                ..plain_get(&location)
            })
            .await,
        "presign_get",
    );
    assert_eq!(get.method, "GET");
    let response = send(&http, &get, Vec::new(), |_| {}).await;
    assert!(response.status().is_success(), "GET: {}", response.status());
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-disposition"), Some(disposition));
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    let downloaded = ok(response.bytes().await, "GET body");
    assert_eq!(
        downloaded.as_ref(),
        body.as_slice(),
        "downloaded bytes differ"
    );
}

pub async fn presigned_put_refuses_other_content_type(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(2, 0, 1000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "image/png", &body, false))
            .await,
        "presign_put",
    );
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body,
        |headers| {
            headers.insert("content-type".to_owned(), "text/html".to_owned());
        },
        "PUT with another content type",
    )
    .await;
}

pub async fn presigned_put_refuses_other_content_length(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(3, 0, 1000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, false))
            .await,
        "presign_put",
    );
    assert_eq!(
        presigned.headers.get("content-length").map(String::as_str),
        Some("1000"),
        "the client is told the exact length to send"
    );
    for (len, why) in [(1001, "a longer body"), (999, "a shorter body")] {
        assert_put_refused(
            store.as_ref(),
            &presigned,
            &location,
            pattern(3, 0, len),
            |_| {},
            why,
        )
        .await;
    }
}

pub async fn presigned_put_refuses_wrong_checksum(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(4, 0, 4096);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, true))
            .await,
        "presign_put",
    );
    // Same length, same headers, other bytes: only the checksum can catch it.
    let mut other = body.clone();
    other[100] ^= 0xff;
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        other,
        |_| {},
        "a body that does not match the signed checksum",
    )
    .await;
    // And a checksum header other than the signed one breaks the signature.
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body.clone(),
        |headers| {
            for (name, value) in headers.iter_mut() {
                if name.contains("checksum") || name.contains("digest") {
                    *value = sha256(b"something else").to_base64();
                }
            }
        },
        "a checksum header other than the signed one",
    )
    .await;
}

pub async fn presigned_put_refuses_tampered_signature(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(5, 0, 100);
    let mut presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, false))
            .await,
        "presign_put",
    );
    presigned.url = tamper_signature(&presigned.url);
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body,
        |_| {},
        "tampered signature",
    )
    .await;
}

/// Flips the last character of the query parameter carrying the signature.
fn tamper_signature(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .unwrap_or_else(|| panic!("presigned URL has no query: {url}"));
    let mut found = false;
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, value)) if name.to_ascii_lowercase().contains("signature") => {
                found = true;
                let mut value = value.to_owned();
                let last = value.pop().unwrap_or('0');
                value.push(if last == '0' { '1' } else { '0' });
                format!("{name}={value}")
            }
            _ => param.to_owned(),
        })
        .collect();
    assert!(found, "no signature query parameter in {url}");
    format!("{base}?{}", params.join("&"))
}

pub async fn presigned_urls_refuse_after_expiry(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let long_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    let location = h.location();
    let body = pattern(6, 0, 100);
    let expired_put = ok(
        store
            .presign_put(PresignPut {
                now: long_ago,
                expires_in: Duration::from_secs(60),
                ..presign_put_request(&location, "text/plain", &body, false)
            })
            .await,
        "presign_put",
    );
    assert!(expired_put.expires_at < OffsetDateTime::now_utc());
    assert_put_refused(
        store.as_ref(),
        &expired_put,
        &location,
        body.clone(),
        |_| {},
        "expired PUT",
    )
    .await;

    upload_via_presigned_put(store.as_ref(), &http, &location, "text/plain", &body).await;
    let expired_get = ok(
        store
            .presign_get(PresignGet {
                now: long_ago,
                expires_in: Duration::from_secs(60),
                ..plain_get(&location)
            })
            .await,
        "presign_get",
    );
    let response = send(&http, &expired_get, Vec::new(), |_| {}).await;
    assert!(
        response.status().is_client_error(),
        "expired GET answered {}",
        response.status()
    );
    let fresh = ok(store.presign_get(plain_get(&location)).await, "presign_get");
    let response = send(&http, &fresh, Vec::new(), |_| {}).await;
    assert!(
        response.status().is_success(),
        "fresh GET: {}",
        response.status()
    );
}

pub async fn head_reports_size_checksum_and_type(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let body = pattern(7, 0, 12_345);
    upload_via_presigned_put(store.as_ref(), &http, &location, "application/pdf", &body).await;
    let meta = ok(store.head(&location).await, "head");
    assert_eq!(meta.size, 12_345);
    assert_eq!(meta.checksum_sha256, Some(sha256(&body)));
    assert_eq!(meta.content_type.as_deref(), Some("application/pdf"));
    assert!(
        meta.etag.as_deref().is_some_and(|e| !e.is_empty()),
        "{meta:?}"
    );
}

pub async fn head_of_missing_object_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    assert_absent(store.as_ref(), &h.location(), "head of a missing object").await;
    refused_with(
        store.get_stream(&h.location(), None).await,
        StoreErrorKind::NotFound,
        "get of a missing object",
    );
}

pub async fn missing_bucket_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    let suffix = TenantId::new_random().to_string().replace('-', "");
    let missing = ok(
        BucketName::new(format!("coffer-missing-{}", &suffix[..16])),
        "bucket name",
    );
    let location = h.location_in(&missing);
    refused_with(
        store.list(h.tenant, &missing, None, 10).await,
        StoreErrorKind::NotFound,
        "list of a missing bucket",
    );
    refused_with(
        store.head(&location).await,
        StoreErrorKind::NotFound,
        "head in a missing bucket",
    );
}

pub async fn delete_removes_and_is_idempotent(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let kept = h.location();
    for l in [&location, &kept] {
        ok(
            store
                .put_stream(l, &content_type("text/plain"), pattern_stream(8, 100))
                .await,
            "put_stream",
        );
    }
    ok(store.delete(&location).await, "delete");
    assert_absent(store.as_ref(), &location, "head after delete").await;
    ok(store.delete(&location).await, "deleting again");
    assert_eq!(
        ok(store.head(&kept).await, "head of the other object").size,
        100
    );
}

pub async fn list_pages_through_tenant_objects(store: Arc<dyn ObjectStore>, h: Harness) {
    let mut written = Vec::new();
    for n in 0..5u64 {
        let location = h.location();
        ok(
            store
                .put_stream(
                    &location,
                    &content_type("text/plain"),
                    pattern_stream(n, 10 + n),
                )
                .await,
            "put_stream",
        );
        written.push((location.key().clone(), 10 + n));
    }
    // Another tenant's object in the same bucket must not show up.
    let neighbour = Harness::new(h.bucket.clone(), None).location();
    ok(
        store
            .put_stream(
                &neighbour,
                &content_type("text/plain"),
                pattern_stream(9, 10),
            )
            .await,
        "put_stream of another tenant",
    );

    let mut pages = Vec::new();
    let mut listed = Vec::new();
    let mut continuation = None;
    loop {
        let page = ok(
            store
                .list(h.tenant, &h.bucket, continuation.take(), 2)
                .await,
            "list",
        );
        pages.push(page.objects.len());
        assert!(pages.len() <= 5, "listing does not end: {pages:?}");
        listed.extend(page.objects.into_iter().map(|o| (o.key, o.size)));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    assert!(
        pages.iter().all(|n| *n <= 2),
        "pages over the limit: {pages:?}"
    );
    assert!(pages.len() >= 3, "5 objects in pages of 2: {pages:?}");
    listed.sort();
    written.sort();
    assert_eq!(listed, written);
}

pub async fn small_and_empty_streamed_puts_round_trip(store: Arc<dyn ObjectStore>, h: Harness) {
    for size in [0u64, 1, 1000] {
        let location = h.location();
        let meta = ok(
            store
                .put_stream(
                    &location,
                    &content_type("text/plain"),
                    pattern_stream(10, size),
                )
                .await,
            "put_stream",
        );
        assert_eq!(meta.size, size);
        let got = ok(store.get_stream(&location, None).await, "get_stream");
        assert_eq!(got.total_size, size);
        assert_eq!(got.range, None);
        assert_eq!(got.content_type.as_deref(), Some("text/plain"));
        assert_eq!(collect(got.body).await, pattern(10, 0, size as usize));
    }
}

/// A body whose stream fails midway, small or past any sensible part size,
/// fails the put with `Internal` and leaves nothing behind.
pub async fn failed_body_leaves_no_object(store: Arc<dyn ObjectStore>, h: Harness) {
    for good_bytes in [1000u64, 12 * MIB] {
        let location = h.location();
        let failing: ByteStream = Box::pin(pattern_stream(19, good_bytes).chain(
            futures::stream::once(async {
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "client went away",
                ))
            }),
        ));
        refused_with(
            store
                .put_stream(&location, &content_type("text/plain"), failing)
                .await,
            StoreErrorKind::Internal,
            &format!("put_stream failing after {good_bytes} bytes"),
        );
        assert_absent(store.as_ref(), &location, "object of a failed put").await;
    }
}

/// A 64 MiB body streamed in and out; memory stays well below the body size.
pub async fn streamed_put_of_64_mib_and_ranged_gets(store: Arc<dyn ObjectStore>, h: Harness) {
    const SIZE: u64 = 64 * MIB;
    const SEED: u64 = 11;
    let location = h.location();
    // Peak memory is per process: only meaningful when each test has its own
    // (nextest's default), not under `cargo test`'s shared threads.
    let measure = std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test")
        && reset_peak_rss();
    let baseline = current_rss();
    let meta = ok(
        store
            .put_stream(
                &location,
                &content_type("application/octet-stream"),
                pattern_stream(SEED, SIZE),
            )
            .await,
        "put_stream of 64 MiB",
    );
    assert_eq!(meta.size, SIZE);
    if let (true, Some(before), Some(peak)) = (measure, baseline, peak_rss()) {
        let grown = peak.saturating_sub(before);
        assert!(
            grown < 48 * MIB,
            "streaming 64 MiB in grew peak memory by {} MiB",
            grown / MIB
        );
    }

    let size = SIZE;
    let cases = [
        (
            ByteRange::Bounded {
                start: 8 * MIB - 100,
                end: 8 * MIB + 99,
            },
            (8 * MIB - 100, 8 * MIB + 99),
        ),
        (ByteRange::Bounded { start: 0, end: 0 }, (0, 0)),
        (
            ByteRange::Bounded {
                start: size - 10,
                end: size + 1000,
            },
            (size - 10, size - 1),
        ),
        (
            ByteRange::From { start: size - 5000 },
            (size - 5000, size - 1),
        ),
        (ByteRange::Suffix { len: 1000 }, (size - 1000, size - 1)),
    ];
    for (range, (start, end)) in cases {
        let got = ok(store.get_stream(&location, Some(range)).await, "ranged get");
        assert_eq!(got.total_size, size, "{range:?}");
        assert_eq!(got.range, Some((start, end)), "{range:?}");
        let bytes = collect(got.body).await;
        assert_eq!(
            bytes,
            pattern(SEED, start, (end - start + 1) as usize),
            "{range:?}"
        );
    }

    // The whole object, compared chunk by chunk as it streams.
    let got = ok(store.get_stream(&location, None).await, "get_stream");
    assert_eq!(got.total_size, size);
    let mut body = got.body;
    let mut offset = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = ok(chunk, "reading body");
        assert!(
            chunk.as_ref() == pattern(SEED, offset, chunk.len()).as_slice(),
            "bytes differ in the chunk at offset {offset}"
        );
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, size);
}

pub async fn ranges_outside_the_object_are_refused(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    ok(
        store
            .put_stream(
                &location,
                &content_type("text/plain"),
                pattern_stream(12, 100),
            )
            .await,
        "put_stream",
    );
    for range in [
        ByteRange::From { start: 100 },
        ByteRange::Bounded {
            start: 200,
            end: 300,
        },
    ] {
        refused_with(
            store.get_stream(&location, Some(range)).await,
            StoreErrorKind::Refused,
            &format!("{range:?} of a 100-byte object"),
        );
    }
}

async fn upload_part(
    store: &dyn ObjectStore,
    http: &reqwest::Client,
    location: &ObjectLocation,
    upload_id: &str,
    number: u16,
    body: Vec<u8>,
) -> CompletedPart {
    let presigned = ok(
        store
            .presign_part(
                location,
                upload_id,
                number,
                OffsetDateTime::now_utc(),
                LIFETIME,
            )
            .await,
        "presign_part",
    );
    let response = send(http, &presigned, body, |_| {}).await;
    assert!(
        response.status().is_success(),
        "part {number}: {}",
        response.status()
    );
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("part {number} answered without an ETag"))
        .to_owned();
    CompletedPart {
        part_number: number,
        etag,
    }
}

pub async fn multipart_via_presigned_parts_assembles_bytes(
    store: Arc<dyn ObjectStore>,
    h: Harness,
) {
    const SEED: u64 = 13;
    let http = reqwest::Client::new();
    let location = h.location();
    let part = 5 * MIB;
    let sizes = [part, part, 1234];
    let upload_id = ok(
        store
            .create_multipart(&location, &content_type("video/mp4"))
            .await,
        "create_multipart",
    );
    // Parts out of order: the store assembles by number, not by arrival.
    let mut parts = Vec::new();
    for index in [1usize, 0, 2] {
        let offset: u64 = sizes[..index].iter().sum();
        let body = pattern(SEED, offset, sizes[index] as usize);
        parts.push(
            upload_part(
                store.as_ref(),
                &http,
                &location,
                &upload_id,
                index as u16 + 1,
                body,
            )
            .await,
        );
    }
    parts.sort_by_key(|p| p.part_number);
    let listed = ok(store.list_parts(&location, &upload_id).await, "list_parts");
    assert_eq!(
        listed.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for (l, p) in listed.iter().zip(&parts) {
        assert_eq!(l.etag.trim_matches('"'), p.etag.trim_matches('"'));
    }
    let total: u64 = sizes.iter().sum();
    let meta = ok(
        store.complete_multipart(&location, &upload_id, parts).await,
        "complete_multipart",
    );
    assert_eq!(meta.size, total);

    let get = ok(store.presign_get(plain_get(&location)).await, "presign_get");
    let response = send(&http, &get, Vec::new(), |_| {}).await;
    assert!(response.status().is_success(), "GET: {}", response.status());
    let bytes = ok(response.bytes().await, "GET body");
    assert_eq!(bytes.len() as u64, total);
    assert!(
        bytes.as_ref() == pattern(SEED, 0, total as usize).as_slice(),
        "assembled bytes differ"
    );
}

pub async fn multipart_complete_with_wrong_etag_conflicts(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let upload_id = ok(
        store
            .create_multipart(&location, &content_type("text/plain"))
            .await,
        "create_multipart",
    );
    let mut part = upload_part(
        store.as_ref(),
        &http,
        &location,
        &upload_id,
        1,
        pattern(14, 0, 100),
    )
    .await;
    part.etag = "\"00000000000000000000000000000000\"".to_owned();
    refused_with(
        store
            .complete_multipart(&location, &upload_id, vec![part])
            .await,
        StoreErrorKind::Conflict,
        "completing with an ETag the store never issued",
    );
    assert_absent(store.as_ref(), &location, "object after a failed complete").await;
    ok(store.abort_multipart(&location, &upload_id).await, "abort");
}

pub async fn abort_multipart_is_idempotent(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let upload_id = ok(
        store
            .create_multipart(&location, &content_type("text/plain"))
            .await,
        "create_multipart",
    );
    upload_part(
        store.as_ref(),
        &http,
        &location,
        &upload_id,
        1,
        pattern(15, 0, 100),
    )
    .await;
    ok(store.abort_multipart(&location, &upload_id).await, "abort");
    refused_with(
        store.list_parts(&location, &upload_id).await,
        StoreErrorKind::NotFound,
        "list_parts of an aborted upload",
    );
    ok(
        store.abort_multipart(&location, &upload_id).await,
        "aborting again",
    );
    assert_absent(store.as_ref(), &location, "object of an aborted upload").await;
}

/// A key of another tenant cannot make a location of this one: the refusal
/// comes before any store is involved, and a location cannot be written out
/// field by field (see [`ObjectLocation`]), so no method can be handed one.
/// The other tenant's object stays untouched and out of this tenant's listing.
pub async fn foreign_key_never_reaches_the_store(store: Arc<dyn ObjectStore>, h: Harness) {
    let other = Harness::new(h.bucket.clone(), None);
    let victim = other.location();
    ok(
        store
            .put_stream(
                &victim,
                &content_type("text/plain"),
                pattern_stream(16, 100),
            )
            .await,
        "put_stream of the other tenant",
    );
    refused_with(
        ObjectLocation::new(h.tenant, victim.bucket().clone(), victim.key().clone()),
        StoreErrorKind::Refused,
        "a location of this tenant holding the other tenant's key",
    );

    let meta = ok(store.head(&victim).await, "the other tenant's object");
    assert_eq!(meta.size, 100, "the other tenant's object was changed");
    let own = ok(store.list(h.tenant, &h.bucket, None, 1000).await, "list");
    assert!(own.objects.is_empty(), "{:?}", own.objects);
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

    #[test]
    fn tampering_changes_only_the_signature() {
        let url = "http://s/b/k?X-Amz-Date=1&X-Amz-Signature=abc0&x=y";
        assert_eq!(
            tamper_signature(url),
            "http://s/b/k?X-Amz-Date=1&X-Amz-Signature=abc1&x=y"
        );
    }
}
