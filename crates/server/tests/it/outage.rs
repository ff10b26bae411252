//! A dependency that does not answer is a `503` problem (never a `500` or a
//! hang), and `/readyz` says so.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn a_store_that_does_not_answer_is_503() {
    // Port 9 (discard) on loopback: nothing listens, connections are refused.
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__STORAGE__S3__ENDPOINT", "http://127.0.0.1:9"),
            ("COFFER__STORAGE__ENSURE_BUCKETS", "false"),
        ],
    )
    .await;
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    problem(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    )
    .await;

    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    // Presigning is local computation: initiating still works...
    let initiated = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": "a.pdf", "size": 3 }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    // ...but verifying needs the store.
    let id = initiated["file"]["id"].as_str().unwrap();
    let complete = server
        .req(
            Method::POST,
            &format!("/api/v1/files/{id}/complete"),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert!(complete.headers().contains_key("retry-after"));
    problem(
        complete,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
    )
    .await;
    // The file is still pending, to be completed once the store is back.
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
}
