//! File versions over HTTP (docs/records.md), in both modes: a new version
//! uploaded straight to the store and verified; the history listed newest
//! first; an old version read back byte for byte and restored as a new
//! one; every version counted in the quota; a permanent delete takes every
//! version's object; the reconciler takes none of them for an orphan.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::integrity::{drift, reconcile, tenant_id};
use crate::journey::in_both_modes;
use crate::lifecycle::objects_of;
use crate::support::*;

in_both_modes!(versions_are_added_listed_read_restored_and_counted);

/// `PDF` padded to `len` bytes: still a PDF to the type sniff.
fn pdf_of(len: usize, fill: u8) -> Vec<u8> {
    let mut bytes = PDF.to_vec();
    bytes.resize(len, fill);
    bytes
}

async fn send(server: &TestServer, method: Method, path: &str, token: &str) -> reqwest::Response {
    server.req(method, path, token).send().await.unwrap()
}

/// Upload `bytes` as the next version of the file at `path` and complete
/// it: the file, with the upload's id added as `upload`.
pub(crate) async fn add_version(
    server: &TestServer,
    token: &str,
    path: &str,
    bytes: &[u8],
) -> Value {
    let initiated = ok_json(
        server
            .req(Method::POST, &format!("{path}/versions"), token)
            .json(&json!({ "size": bytes.len() }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let upload = initiated["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(initiated["file"]["status"], "pending");
    let put = put_bytes(server, &initiated["upload"], bytes.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let mut file = complete_upload(server, token, &upload).await;
    file["upload"] = json!(upload);
    file
}

async fn content(server: &TestServer, token: &str, path: &str) -> Vec<u8> {
    let response = send(server, Method::GET, path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.bytes().await.unwrap().to_vec()
}

async fn versions_are_added_listed_read_restored_and_counted(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({ "max_total_bytes": 900 })).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let bob = server.token(Some(&tenant), "bob", &["editor"]).await;
    let viewer = server.token(Some(&tenant), "vera", &["viewer"]).await;
    let id = tenant_id(&server, &alice).await;
    let (v1, v2) = (pdf_of(200, b'1'), pdf_of(300, b'2'));

    let first = upload(
        &server,
        &alice,
        "deal.pdf",
        &v1,
        json!({ "visibility": "tenant" }),
    )
    .await;
    assert_eq!(first["version"], 1);
    let path = format!("/api/v1/files/{}", first["id"].as_str().unwrap());

    // Only who may write the file adds a version.
    problem(
        server
            .req(Method::POST, &format!("{path}/versions"), &viewer)
            .json(&json!({ "size": 3 }))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "access_denied",
    )
    .await;

    // A version is verified like any upload: bytes that are not the
    // file's type are refused, and the file keeps its bytes.
    let html = b"<!DOCTYPE html><html><body>not a pdf</body></html>";
    let initiated = ok_json(
        server
            .req(Method::POST, &format!("{path}/versions"), &alice)
            .json(&json!({ "size": html.len() }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let put = put_bytes(&server, &initiated["upload"], html.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let upload_id = initiated["file"]["id"].as_str().unwrap();
    problem(
        send(
            &server,
            Method::POST,
            &format!("/api/v1/files/{upload_id}/complete"),
            &alice,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_mismatch",
    )
    .await;
    assert_eq!(
        content(&server, &alice, &format!("{path}/content")).await,
        v1
    );

    // Bob, granted write access, uploads version 2 of the same file: same
    // id, name and folder.
    ok_json(
        server
            .req(Method::POST, &format!("{path}/permissions"), &alice)
            .json(&json!({ "subject": "user:bob", "access": "write" }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let second = add_version(&server, &bob, &path, &v2).await;
    assert_eq!(second["id"], first["id"]);
    // A complete retried after the fold answers the file, unchanged.
    let retried = complete_upload(&server, &bob, second["upload"].as_str().unwrap()).await;
    assert_eq!(second["version"], 2);
    assert_eq!(retried["version"], 2);
    assert_eq!(retried["updated_at"], second["updated_at"]);
    assert_eq!(second["size"], 300);
    assert_eq!(second["filename"], "deal.pdf");
    assert_eq!(
        content(&server, &alice, &format!("{path}/content")).await,
        v2
    );
    // The upload of a version is not a second file of that name.
    let listed = ok_json(
        send(&server, Method::GET, "/api/v1/files?q=deal", &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    let history = ok_json(
        send(&server, Method::GET, &format!("{path}/versions"), &viewer).await,
        StatusCode::OK,
    )
    .await;
    let summary: Vec<(u64, u64, &str, bool)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["size"].as_u64().unwrap(),
                v["uploaded_by"].as_str().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [(2, 300, "bob", true), (1, 200, "alice", false)]);
    assert_eq!(
        history["items"][1]["checksum_sha256"],
        first["checksum_sha256"]
    );

    // The old version reads back byte for byte, streamed and presigned.
    assert_eq!(
        content(&server, &viewer, &format!("{path}/versions/1/content")).await,
        v1
    );
    let link = ok_json(
        send(
            &server,
            Method::GET,
            &format!("{path}/versions/1/download?redirect=false"),
            &viewer,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let fetched = server
        .http
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), v1.as_slice());
    problem(
        send(
            &server,
            Method::GET,
            &format!("{path}/versions/9/content"),
            &viewer,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Quota: 200 + 300 stored; a version of 600 would pass 900.
    problem(
        server
            .req(Method::POST, &format!("{path}/versions"), &alice)
            .json(&json!({ "size": 600 }))
            .send()
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;
    let usage = ok_json(
        send(&server, Method::GET, "/api/v1/tenant", &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(usage["usage"]["used_bytes"], 500, "{usage}");
    assert_eq!(usage["usage"]["file_count"], 1, "{usage}");

    // Restoring version 1 makes it version 3; the history keeps all.
    problem(
        send(
            &server,
            Method::POST,
            &format!("{path}/versions/1/restore"),
            &viewer,
        )
        .await,
        StatusCode::FORBIDDEN,
        "access_denied",
    )
    .await;
    let restored = ok_json(
        send(
            &server,
            Method::POST,
            &format!("{path}/versions/1/restore"),
            &alice,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["checksum_sha256"], first["checksum_sha256"]);
    assert_eq!(content(&server, &bob, &format!("{path}/content")).await, v1);
    let history = ok_json(
        send(&server, Method::GET, &format!("{path}/versions"), &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 3);
    // Now 700 are used: restoring the 300-byte version 2 would pass 900.
    problem(
        send(
            &server,
            Method::POST,
            &format!("{path}/versions/2/restore"),
            &alice,
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;

    // Every version's object is the file's: the reconciler finds no orphan.
    let keys_before = objects_under(&server, id).await;
    assert_eq!(keys_before.len(), 3, "{keys_before:?}");
    let report = reconcile(&server, Some(id), true).await;
    assert_eq!(drift(&report), (0, 0, 0), "{report:?}");
    assert_eq!(objects_under(&server, id).await, keys_before);

    // The reads and changes are on record.
    let audit = ok_json(
        send(
            &server,
            Method::GET,
            &format!(
                "/api/v1/audit?file_id={}&limit=100",
                first["id"].as_str().unwrap()
            ),
            &server.token(Some(&tenant), "ada", &["admin"]).await,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "file.version_added",
        "file.version_restored",
        "file.versions_listed",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // The trash takes every version with the file, and gives them back.
    assert_eq!(
        send(&server, Method::DELETE, &path, &alice).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(
        send(
            &server,
            Method::GET,
            &format!("{path}/versions/1/content"),
            &alice,
        )
        .await,
        StatusCode::CONFLICT,
        "file_deleted",
    )
    .await;
    ok_json(
        send(&server, Method::POST, &format!("{path}/restore"), &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        content(&server, &alice, &format!("{path}/versions/2/content")).await,
        v2
    );

    // A permanent delete takes every version, and their bytes in the quota.
    assert_eq!(
        send(
            &server,
            Method::DELETE,
            &format!("{path}?permanent=true"),
            &alice
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert!(objects_under(&server, id).await.is_empty());
    let usage = ok_json(
        send(&server, Method::GET, "/api/v1/tenant", &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(usage["usage"]["used_bytes"], 0, "{usage}");
}

/// The keys of every object under the tenant's prefix, in order.
async fn objects_under(server: &TestServer, tenant: coffer_domain::TenantId) -> Vec<String> {
    let mut keys = objects_of(server, tenant).await;
    keys.sort();
    keys
}
