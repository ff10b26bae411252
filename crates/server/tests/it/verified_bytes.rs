//! Verified bytes are final: a direct upload lands on a staging key and
//! `complete` copies it to a key only Coffer writes, so an upload or part
//! URL used again after `complete` changes nothing a client can read.
//! Multipart uploads over HTTP: exact part lengths, per-part checksums,
//! resuming from `GET /files/{id}/parts`, and a whole-file SHA-256 that
//! Coffer computes itself.

use bytes::Bytes;
use coffer_domain::{FileRecord, Sha256Digest};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::integrity::{drift, reconcile, tenant_id};
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    a_reused_upload_url_changes_nothing_after_complete,
    a_reused_part_url_changes_nothing_after_complete,
    an_interrupted_multipart_upload_resumes_from_the_listed_parts,
    a_part_url_with_a_checksum_refuses_other_bytes,
    a_wrong_whole_file_checksum_fails_a_multipart_complete,
    a_wrong_checksum_is_caught_at_complete_even_past_the_store,
    a_complete_with_a_part_missing_keeps_the_parts,
);

/// The smallest part S3 accepts (all parts but the last), and so the
/// smallest multipart upload Coffer starts
/// (`ServiceConfig::multipart_min_part_size`).
pub(crate) const PART: usize = 5 * 1024 * 1024;

/// A server whose multipart uploads use the smallest part size, so that a
/// few parts stay small (the default is 16 MiB).
pub(crate) async fn small_parts_server(mode: Mode) -> TestServer {
    let part = PART.to_string();
    TestServer::start_with(
        mode,
        tempfile::tempdir().unwrap(),
        &[("COFFER__UPLOADS__MULTIPART_PART_SIZE", part.as_str())],
    )
    .await
}

/// `len` bytes that differ from those of another `seed` at every position
/// a test compares (no format to sniff: uploaded as `.bin`).
fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(37))
        .collect()
}

fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(sha2::Sha256::digest(bytes).into())
}

async fn complete(server: &TestServer, token: &str, id: &str) -> Response {
    server
        .req(Method::POST, &format!("/api/v1/files/{id}/complete"), token)
        .send()
        .await
        .unwrap()
}

/// `POST /files/{id}/parts`: the presigned part requests, by part number.
async fn presign_parts(server: &TestServer, token: &str, id: &str, body: Value) -> Vec<Value> {
    let answer = ok_json(
        server
            .req(Method::POST, &format!("/api/v1/files/{id}/parts"), token)
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    answer["parts"].as_array().unwrap().clone()
}

/// `GET /files/{id}/parts`.
async fn received_parts(server: &TestServer, token: &str, id: &str) -> Response {
    server
        .req(Method::GET, &format!("/api/v1/files/{id}/parts"), token)
        .send()
        .await
        .unwrap()
}

/// `(part_number, size)` of every part `GET /files/{id}/parts` lists.
async fn listed_parts(server: &TestServer, token: &str, id: &str) -> Vec<(u64, u64)> {
    let listed = ok_json(received_parts(server, token, id).await, StatusCode::OK).await;
    listed["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(!p["etag"].as_str().unwrap().is_empty(), "{p}");
            (
                p["part_number"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// PUT a part and expect the store to take it.
async fn put_part(server: &TestServer, part: &Value, bytes: &[u8]) {
    let put = put_bytes(server, part, bytes.to_vec()).await;
    let status = put.status();
    assert!(
        status.is_success(),
        "part {} refused ({status}): {}",
        part["part_number"],
        put.text().await.unwrap()
    );
}

/// The file's bytes both ways a client reads them: through the presigned
/// download URL (`302` followed) and streamed through Coffer.
async fn read_both_ways(server: &TestServer, token: &str, id: &str) -> [Bytes; 2] {
    let redirect = server
        .req(Method::GET, &format!("/api/v1/files/{id}/download"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let downloaded = server.http.get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    let content = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    [
        downloaded.bytes().await.unwrap(),
        content.bytes().await.unwrap(),
    ]
}

async fn assert_reads(server: &TestServer, token: &str, id: &str, expected: &[u8]) {
    for (how, got) in ["download", "content"]
        .into_iter()
        .zip(read_both_ways(server, token, id).await)
    {
        assert!(
            got.as_ref() == expected,
            "{how} returned {} bytes that are not the verified ones",
            got.len()
        );
    }
}

async fn a_reused_upload_url_changes_nothing_after_complete(mode: Mode) {
    let server = TestServer::start(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "final.pdf", "size": PDF.len() }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    // A single-PUT upload has no parts to list.
    problem(
        received_parts(&server, &alice, id).await,
        StatusCode::CONFLICT,
        "not_multipart",
    )
    .await;
    let put = put_bytes(&server, &initiated["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let done = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(done["status"], "available");
    // Coffer hashed the bytes itself: none was declared.
    assert_eq!(done["checksum_sha256"], sha256(PDF).to_hex());

    // The URL is still valid and the store takes other bytes of the same
    // length (a PDF too): they land on the staging key, which no record names.
    let mut swapped = PDF.to_vec();
    swapped[9..16].copy_from_slice(b"SWAPPED");
    let put = put_bytes(&server, &initiated["upload"], swapped).await;
    assert_eq!(
        put.status(),
        StatusCode::OK,
        "the URL stopped working, so this test proves nothing: {}",
        put.text().await.unwrap()
    );
    assert_reads(&server, &alice, id, PDF).await;
    // Completing again changes nothing either: same record, same checksum.
    let again = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(again, done);
    assert_reads(&server, &alice, id, PDF).await;

    // The file names a verified key, not the staging key the URL writes.
    let tenant = tenant_id(&server, &alice).await;
    let record = file_record(&server, tenant, id.parse().unwrap()).await;
    let (staging, verified) = keys_of(&record);
    assert!(
        record.key.as_str().starts_with(&format!("{verified}/")),
        "the file's key {} is not a verified key (staging: {staging})",
        record.key,
    );
    // What the reused URL left is an orphan for the reconciler (here
    // without its grace); the file's own object is not.
    let repaired = reconcile(&server, Some(tenant), true).await;
    assert_eq!(drift(&repaired), (1, 0, 0), "{repaired:?}");
    assert_eq!(repaired.orphans_deleted, 1, "{repaired:?}");
    assert_reads(&server, &alice, id, PDF).await;
    let after = reconcile(&server, Some(tenant), false).await;
    assert_eq!(drift(&after), (0, 0, 0), "{after:?}");
}

/// The file's staging key `t/{tenant}/_staging/{file}`, and
/// `t/{tenant}/{category}/{file}`, under which its verified keys are.
fn keys_of(record: &FileRecord) -> (String, String) {
    (
        format!("t/{}/_staging/{}", record.tenant_id, record.id),
        format!("t/{}/{}/{}", record.tenant_id, record.category, record.id),
    )
}

async fn a_reused_part_url_changes_nothing_after_complete(mode: Mode) {
    let server = small_parts_server(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let bytes = bytes_of(PART + 1000, 1);
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "big.bin", "size": bytes.len(), "multipart": true }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    assert_eq!(initiated["multipart"]["part_count"], 2, "{initiated}");
    let parts = presign_parts(&server, &alice, id, json!({ "part_numbers": [1, 2] })).await;
    put_part(&server, &parts[0], &bytes[..PART]).await;
    put_part(&server, &parts[1], &bytes[PART..]).await;
    let done = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(done["status"], "available");
    assert_eq!(done["checksum_sha256"], sha256(&bytes).to_hex());

    // Other bytes of the right length to a part URL that is still valid:
    // whatever the store answers, the file's bytes stay the verified ones.
    // (Both stores answer 404, the multipart upload being complete.)
    put_bytes(&server, &parts[1], bytes_of(1000, 2)).await;
    assert_reads(&server, &alice, id, &bytes).await;
    let again = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(again, done);
    assert_reads(&server, &alice, id, &bytes).await;
}

async fn an_interrupted_multipart_upload_resumes_from_the_listed_parts(mode: Mode) {
    let server = small_parts_server(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let bytes = bytes_of(2 * PART + 1000, 3);
    let part = |n: usize| &bytes[(n - 1) * PART..(n * PART).min(bytes.len())];
    // A whole-file checksum is accepted with multipart (and checked at complete).
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({
            "filename": "scan.bin", "size": bytes.len(), "multipart": true,
            "checksum_sha256": sha256(&bytes).to_hex(),
        }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(initiated["multipart"]["part_size"], PART, "{initiated}");
    assert_eq!(initiated["multipart"]["part_count"], 3, "{initiated}");

    {
        // The first client: parts 1 and 3 go through; part 2 is sent one
        // byte short, which the store refuses (its URL binds the length).
        let parts = presign_parts(&server, &alice, &id, json!({ "part_numbers": [1, 2, 3] })).await;
        let numbers: Vec<_> = parts.iter().map(|p| p["part_number"].clone()).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert_eq!(parts[1]["headers"]["content-length"], PART.to_string());
        assert_eq!(parts[2]["headers"]["content-length"], "1000");
        put_part(&server, &parts[0], part(1)).await;
        let short = put_bytes(&server, &parts[1], part(2)[1..].to_vec()).await;
        assert!(
            short.status().is_client_error(),
            "a part of the wrong length was taken: {}",
            short.status()
        );
        put_part(&server, &parts[2], part(3)).await;
        // Interrupted: the client and its part URLs are gone.
    }

    // A fresh client asks what the store holds: exactly what was sent.
    let listed = ok_json(received_parts(&server, &alice, &id).await, StatusCode::OK).await;
    assert_eq!(
        (&listed["part_size"], &listed["part_count"]),
        (&json!(PART), &json!(3)),
        "{listed}"
    );
    assert_eq!(
        listed_parts(&server, &alice, &id).await,
        [(1, PART as u64), (3, 1000)]
    );

    let rest = presign_parts(&server, &alice, &id, json!({ "part_numbers": [2] })).await;
    put_part(&server, &rest[0], part(2)).await;
    assert_eq!(
        listed_parts(&server, &alice, &id).await,
        [(1, PART as u64), (2, PART as u64), (3, 1000)]
    );
    let done = ok_json(complete(&server, &alice, &id).await, StatusCode::OK).await;
    assert_eq!(done["status"], "available");
    assert_eq!(done["size"], bytes.len());
    assert_eq!(done["checksum_sha256"], sha256(&bytes).to_hex());
    assert_reads(&server, &alice, &id, &bytes).await;
    // Nothing pending is left to resume.
    problem(
        received_parts(&server, &alice, &id).await,
        StatusCode::CONFLICT,
        "file_available",
    )
    .await;
}

/// Stores assemble any ascending part numbers: `complete` must refuse a
/// set with a gap rather than assemble it and lose the parts received.
async fn a_complete_with_a_part_missing_keeps_the_parts(mode: Mode) {
    let server = small_parts_server(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let bytes = bytes_of(2 * PART + 1000, 7);
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "early.bin", "size": bytes.len(), "multipart": true }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    let parts = presign_parts(&server, &alice, id, json!({ "part_numbers": [1, 3] })).await;
    put_part(&server, &parts[0], &bytes[..PART]).await;
    put_part(&server, &parts[1], &bytes[2 * PART..]).await;
    problem(
        complete(&server, &alice, id).await,
        StatusCode::CONFLICT,
        "upload_incomplete",
    )
    .await;
    assert_eq!(
        listed_parts(&server, &alice, id).await,
        [(1, PART as u64), (3, 1000)],
        "a refused complete keeps the parts"
    );
}

async fn a_part_url_with_a_checksum_refuses_other_bytes(mode: Mode) {
    let server = small_parts_server(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let bytes = bytes_of(PART + 1000, 4);
    let (first, last) = bytes.split_at(PART);
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "checked.bin", "size": bytes.len(), "multipart": true }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    // Hex for one part, base64 for the other: both are accepted.
    let parts = presign_parts(
        &server,
        &alice,
        id,
        json!({
            "part_numbers": [1, 2],
            "checksums_sha256": { "1": sha256(first).to_hex(), "2": sha256(last).to_base64() },
        }),
    )
    .await;
    for (part, bytes) in parts.iter().zip([first, last]) {
        assert_eq!(
            part["headers"]["x-amz-checksum-sha256"],
            sha256(bytes).to_base64(),
            "{part}"
        );
    }

    // Other bytes of the signed length: refused, and not kept as the part.
    let mut forged = last.to_vec();
    forged[500] ^= 1;
    let refused = put_bytes(&server, &parts[1], forged).await;
    assert!(
        refused.status().is_client_error(),
        "the store took bytes that contradict the part's checksum: {}",
        refused.status()
    );
    put_part(&server, &parts[0], first).await;
    assert_eq!(listed_parts(&server, &alice, id).await, [(1, PART as u64)]);

    put_part(&server, &parts[1], last).await;
    let done = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(done["checksum_sha256"], sha256(&bytes).to_hex());
    assert_reads(&server, &alice, id, &bytes).await;
}

async fn a_wrong_whole_file_checksum_fails_a_multipart_complete(mode: Mode) {
    let server = small_parts_server(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let bytes = bytes_of(PART + 1000, 5);
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({
            "filename": "declared.bin", "size": bytes.len(), "multipart": true,
            "checksum_sha256": sha256(&bytes_of(PART + 1000, 6)).to_hex(),
        }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    // Every part is what its URL expects; only the whole is not what was declared.
    let parts = presign_parts(&server, &alice, id, json!({ "part_numbers": [1, 2] })).await;
    put_part(&server, &parts[0], &bytes[..PART]).await;
    put_part(&server, &parts[1], &bytes[PART..]).await;
    problem(
        complete(&server, &alice, id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "checksum_mismatch",
    )
    .await;
    let file = ok_json(
        server
            .req(Method::GET, &format!("/api/v1/files/{id}"), &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(file["status"], "pending");
    // The refused bytes are gone: nothing to read, nothing to complete.
    problem(
        complete(&server, &alice, id).await,
        StatusCode::CONFLICT,
        "upload_missing",
    )
    .await;
}

/// The store refuses a body that contradicts the checksum in the URL; should
/// one not (or bytes reach the staging key another way), `complete` still
/// does, since Coffer hashes what it copied.
async fn a_wrong_checksum_is_caught_at_complete_even_past_the_store(mode: Mode) {
    let server = TestServer::start(mode).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let mut other = PDF.to_vec();
    other[9..16].copy_from_slice(b"ALTERED");
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "declared.pdf", "size": PDF.len(), "checksum_sha256": sha256(PDF).to_hex() }),
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    let refused = put_bytes(&server, &initiated["upload"], other.clone()).await;
    assert!(
        refused.status().is_client_error(),
        "the store took bytes that contradict the declared checksum: {}",
        refused.status()
    );

    // The same bytes written to the staging key behind the URL's back.
    let tenant = tenant_id(&server, &alice).await;
    let staging = file_location(&server, tenant, &initiated["file"]).await;
    let record = file_record(&server, tenant, id.parse().unwrap()).await;
    assert_eq!(
        staging.key().as_str(),
        keys_of(&record).0,
        "a pending file's key is its staging key"
    );
    let body: coffer_ports::ByteStream =
        Box::pin(futures::stream::once(async move { Ok(Bytes::from(other)) }));
    server
        .wiring
        .store
        .put_stream(&staging, &record.content_type, body)
        .await
        .unwrap();
    problem(
        complete(&server, &alice, id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "checksum_mismatch",
    )
    .await;
    // Refused bytes are deleted; the right ones still complete the file.
    problem(
        complete(&server, &alice, id).await,
        StatusCode::CONFLICT,
        "upload_missing",
    )
    .await;
    let put = put_bytes(&server, &initiated["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let done = ok_json(complete(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(done["checksum_sha256"], sha256(PDF).to_hex());
    assert_reads(&server, &alice, id, PDF).await;
}
