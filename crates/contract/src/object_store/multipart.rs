//! Multipart uploads: parts through presigned URLs, completed in order of
//! number, refused with a wrong ETag, and aborted (idempotent).

use std::sync::Arc;

use coffer_ports::{CompletedPart, ObjectLocation, ObjectStore, StoreErrorKind};
use time::OffsetDateTime;

use super::fixtures::{
    Harness, LIFETIME, MIB, assert_absent, content_type, ok, pattern, plain_get, refused_with, send,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_multipart_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; multipart;
            multipart_via_presigned_parts_assembles_bytes,
            multipart_complete_with_wrong_etag_conflicts,
            abort_multipart_is_idempotent,
        );
    };
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
