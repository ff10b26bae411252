//! Plan limits through the API: size, type and quota, at initiate and while streaming.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    limits_refuse_and_leave_nothing_behind,
    sizes_beyond_any_store_are_refused_whatever_the_limits
);

fn pdf_of(len: usize) -> Vec<u8> {
    let mut bytes = PDF.to_vec();
    bytes.resize(len, b' ');
    bytes
}

fn form(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

async fn limits_refuse_and_leave_nothing_behind(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server
        .tenant(json!({ "max_file_size": 100, "max_total_bytes": 150, "allowed_content_types": ["application/pdf", "image/*"] }))
        .await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let initiate = |name: &str, size: usize| {
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": name, "size": size }))
            .send()
    };
    problem(
        initiate("big.pdf", 101).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    )
    .await;
    problem(
        initiate("page.html", 10).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_not_allowed",
    )
    .await;
    let streamed_big = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(form("big.pdf", pdf_of(120)))
        .send()
        .await
        .unwrap();
    problem(
        streamed_big,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    )
    .await;
    let streamed_html = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(form("x.html", b"<p>".to_vec()))
        .send()
        .await
        .unwrap();
    problem(
        streamed_html,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_not_allowed",
    )
    .await;

    upload(&server, &alice, "first.pdf", &pdf_of(90), json!({})).await;
    problem(
        initiate("second.pdf", 90).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;
    let streamed_over = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(form("second.pdf", pdf_of(90)))
        .send()
        .await
        .unwrap();
    problem(
        streamed_over,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;

    // Only the one accepted file exists, nothing pending, nothing reserved.
    for (status, expected) in [("available", 1), ("pending", 0), ("deleted", 0)] {
        let page = ok_json(
            server
                .req(
                    Method::GET,
                    &format!("/api/v1/files?status={status}"),
                    &alice,
                )
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            page["items"].as_array().unwrap().len(),
            expected,
            "{status}"
        );
    }
    let view = ok_json(
        server
            .req(Method::GET, "/api/v1/tenant", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["usage"]["used_bytes"], 90);
    assert_eq!(view["usage"]["reserved_bytes"], 0);
    assert_eq!(view["limits"]["max_file_size"], 100);
}

/// 5 TiB, S3's limit for one object (`coffer_domain::MAX_OBJECT_SIZE`).
const MAX_OBJECT_SIZE: u64 = 5 << 40;

/// A platform admin may lift a tenant's limits to `u64::MAX`; sizes no store
/// (nor a signed 64-bit column) can hold are still `422`, not a `500` from
/// deep inside an adapter, and so is a part beyond S3's 10 000.
async fn sizes_beyond_any_store_are_refused_whatever_the_limits(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server
        .tenant(json!({ "max_file_size": u64::MAX, "max_total_bytes": u64::MAX }))
        .await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let initiate = |size: u64, multipart: bool| {
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": "huge.bin", "size": size, "multipart": multipart }))
            .send()
    };
    for size in [
        MAX_OBJECT_SIZE + 1,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        u64::MAX,
    ] {
        for multipart in [false, true] {
            problem(
                initiate(size, multipart).await.unwrap(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "size_out_of_range",
            )
            .await;
        }
    }
    let largest = ok_json(
        initiate(MAX_OBJECT_SIZE, true).await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let part_count = largest["multipart"]["part_count"].as_u64().unwrap();
    assert!(part_count <= 10_000, "{largest}");
    let id = largest["file"]["id"].as_str().unwrap();
    for part in [part_count + 1, 10_001, 65_535] {
        let response = server
            .req(Method::POST, &format!("/api/v1/files/{id}/parts"), &alice)
            .json(&json!({ "part_numbers": [part] }))
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_parts").await;
    }
}
