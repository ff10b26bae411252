//! Multipart uploads: parts through presigned URLs bound to their length and
//! checksum, listed with their sizes, completed in order of number, refused
//! with a wrong ETag, and aborted (idempotent).

use std::sync::Arc;

use coffer_domain::Sha256Digest;
use coffer_ports::{
    ObjectLocation, ObjectStore, PresignPart, PresignedRequest, StoreErrorKind, UploadedPart,
};
use time::OffsetDateTime;

use super::fixtures::{
    Harness, LIFETIME, MIB, assert_absent, content_type, ok, pattern, plain_get, refused_with,
    send, sha256,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_multipart_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; multipart;
            multipart_via_presigned_parts_assembles_bytes,
            multipart_complete_with_wrong_etag_conflicts,
            abort_multipart_is_idempotent,
            parts_are_bound_to_their_length_and_checksum,
        );
    };
}

async fn presign_part(
    store: &dyn ObjectStore,
    location: &ObjectLocation,
    upload_id: &str,
    number: u16,
    content_length: u64,
    checksum_sha256: Option<Sha256Digest>,
) -> PresignedRequest {
    let request = PresignPart {
        location: location.clone(),
        upload_id: upload_id.to_owned(),
        part_number: number,
        content_length,
        checksum_sha256,
        now: OffsetDateTime::now_utc(),
        expires_in: LIFETIME,
    };
    ok(store.presign_part(request).await, "presign_part")
}

async fn upload_part(
    store: &dyn ObjectStore,
    http: &reqwest::Client,
    location: &ObjectLocation,
    upload_id: &str,
    number: u16,
    body: Vec<u8>,
) -> UploadedPart {
    let size = body.len() as u64;
    let presigned = presign_part(store, location, upload_id, number, size, None).await;
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
    UploadedPart {
        part_number: number,
        etag,
        size,
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
        assert_eq!(l.size, p.size, "size of part {}", l.part_number);
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

pub async fn parts_are_bound_to_their_length_and_checksum(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let upload_id = ok(
        store
            .create_multipart(&location, &content_type("text/plain"))
            .await,
        "create_multipart",
    );
    let body = pattern(16, 0, 1000);
    let by_length = presign_part(store.as_ref(), &location, &upload_id, 1, 1000, None).await;
    assert_eq!(
        by_length.headers.get("content-length").map(String::as_str),
        Some("1000"),
        "the client is told the part's exact length"
    );
    for len in [999, 1001] {
        let response = send(&http, &by_length, pattern(16, 0, len), |_| {}).await;
        assert!(
            response.status().is_client_error(),
            "a part of {len} bytes on a URL for 1000 answered {}",
            response.status()
        );
    }
    let by_checksum = presign_part(
        store.as_ref(),
        &location,
        &upload_id,
        2,
        1000,
        Some(sha256(&body)),
    )
    .await;
    let mut other = body.clone();
    other[10] ^= 0xff;
    let response = send(&http, &by_checksum, other, |_| {}).await;
    assert!(
        response.status().is_client_error(),
        "a part other than its signed checksum answered {}",
        response.status()
    );
    let response = send(&http, &by_checksum, body, |_| {}).await;
    assert!(
        response.status().is_success(),
        "the signed part answered {}",
        response.status()
    );
    let listed = ok(store.list_parts(&location, &upload_id).await, "list_parts");
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.part_number, p.size))
            .collect::<Vec<_>>(),
        vec![(2, 1000)],
        "only the part sent as signed is kept"
    );
    ok(store.abort_multipart(&location, &upload_id).await, "abort");
}
