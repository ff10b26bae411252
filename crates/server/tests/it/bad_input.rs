//! Bad input gets a 4xx problem+json with a stable code, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(bad_input_is_a_clear_4xx);

async fn bad_input_is_a_clear_4xx(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let post_raw = |body: String| {
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let post = |body: serde_json::Value| post_raw(body.to_string());

    problem(
        post_raw(r#"{"filename":"#.into()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    problem(
        post(json!({ "filename": 5, "size": "x" })).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    problem(
        post(json!({ "filename": "a.pdf", "size": 1, "owner": "root" }))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    problem(
        post(json!({ "filename": "a.pdf", "size": -1 }))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let huge = json!({ "filename": "a.pdf", "size": 1, "metadata": { "x": "y".repeat(100_000) } });
    problem(
        post(huge).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;
    for name in [
        "..",
        ".",
        "a/b",
        "../etc/passwd",
        "a\u{1}b",
        "tab\tname",
        "",
        &"n".repeat(256),
        &"é".repeat(128),
    ] {
        let body = post(json!({ "filename": name, "size": 1 })).await.unwrap();
        let p = problem(body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
        assert!(
            p["detail"].as_str().unwrap().contains("filename"),
            "{name:?}: {p}"
        );
    }
    for path in ["/../x", "a//b", "a\\b"] {
        let body = post(json!({ "filename": "a.pdf", "size": 1, "path": path }))
            .await
            .unwrap();
        problem(body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    }
    problem(
        post(json!({ "filename": "a.pdf", "size": 1, "checksum_sha256": "xyz" }))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    problem(
        post(json!({ "filename": "a.pdf", "size": 1, "visibility": "public" }))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let text = server
        .req(Method::POST, "/api/v1/files", &alice)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let get = |path: &str| server.req(Method::GET, path, &alice).send();
    problem(
        get("/api/v1/files/not-a-uuid").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_id",
    )
    .await;
    problem(
        get("/api/v1/files/%FF%FE").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_id",
    )
    .await;
    problem(
        get("/api/v1/files?colour=red").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_query",
    )
    .await;
    problem(
        get("/api/v1/files?limit=lots").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_query",
    )
    .await;
    problem(
        get("/api/v1/files?limit=0").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_limit",
    )
    .await;
    problem(
        get("/api/v1/files?metadata=nope").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    )
    .await;
    problem(
        get("/api/v1/files?cursor=garbage").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    problem(
        get("/api/v1/files?path=..").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_query",
    )
    .await;
    problem(
        get("/api/v1/files?filename=a%2Fb.pdf").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_query",
    )
    .await;
    problem(
        get("/api/v1/nothing-here").await.unwrap(),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;

    let form = reqwest::multipart::Form::new()
        .text("filename", "a/b.pdf")
        .part("file", reqwest::multipart::Part::bytes(PDF.to_vec()));
    let streamed = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(
        streamed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let no_file = reqwest::multipart::Form::new().text("filename", "a.pdf");
    let streamed = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(no_file)
        .send()
        .await
        .unwrap();
    problem(streamed, StatusCode::UNPROCESSABLE_ENTITY, "missing_file").await;
}
