//! The direct-upload journey, streamed uploads, ranged reads, trash and restore.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Digest as _;

use crate::support::*;

macro_rules! in_both_modes {
    ($($name:ident),+ $(,)?) => {
        mod production {
            $(#[actix_web::test] async fn $name() { super::$name(crate::support::Mode::Production).await })+
        }
        mod embedded {
            $(#[actix_web::test] async fn $name() { super::$name(crate::support::Mode::Embedded).await })+
        }
    };
}
pub(crate) use in_both_modes;

in_both_modes!(
    direct_upload_journey,
    streamed_upload_and_ranges,
    trash_restore_erase,
    verification_failures
);

async fn direct_upload_journey(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let checksum = hex::encode(sha2::Sha256::digest(PDF));
    let file = upload(
        &server,
        &alice,
        "Bericht März.pdf",
        PDF,
        json!({ "path": "/contracts/2026/", "metadata": { "case": "A-1" }, "checksum_sha256": checksum }),
    )
    .await;
    assert_eq!(file["status"], "available");
    assert_eq!(file["size"], PDF.len());
    assert_eq!(file["checksum_sha256"], checksum);
    assert_eq!(file["path"], "/contracts/2026");
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["owner"], "alice");
    let id = file["id"].as_str().unwrap();

    for query in [
        "",
        "?metadata=%7B%22case%22%3A%22A-1%22%7D",
        "?q=m%C3%84rz",
        "?path=/contracts/2026",
        "?prefix=/contracts",
    ] {
        let page = ok_json(
            server
                .req(Method::GET, &format!("/api/v1/files{query}"), &alice)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        let ids: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, vec![id.to_owned()], "query {query}");
    }
    let none = ok_json(
        server
            .req(
                Method::GET,
                "/api/v1/files?metadata=%7B%22case%22%3A%22B%22%7D",
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    let redirect = server
        .req(Method::GET, &format!("/api/v1/files/{id}/download"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let downloaded = server.http.get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    let disposition = downloaded.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''Bericht%20M%C3%A4rz.pdf"),
        "{disposition}"
    );
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), PDF);

    let json_url = ok_json(
        server
            .req(
                Method::GET,
                &format!("/api/v1/files/{id}/download?redirect=false"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(json_url["url"].as_str().unwrap().starts_with("http"));
    assert!(json_url["expires_at"].is_string());

    let tenant_view = ok_json(
        server
            .req(Method::GET, "/api/v1/tenant", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(tenant_view["slug"], tenant.as_str());
    assert_eq!(tenant_view["usage"]["used_bytes"], PDF.len());
    assert_eq!(tenant_view["usage"]["file_count"], 1);
}

async fn streamed_upload_and_ranges(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let form = reqwest::multipart::Form::new()
        .text("path", "/images")
        .text("metadata", r#"{"source":"scanner"}"#)
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("pixel.png"),
        );
    let file = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(file["status"], "available");
    assert_eq!(file["filename"], "pixel.png");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(
        file["checksum_sha256"],
        hex::encode(sha2::Sha256::digest(PNG))
    );
    let id = file["id"].as_str().unwrap();

    let whole = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "image/png");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), PNG);

    let part = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 2-5/{}", PNG.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &PNG[2..=5]);

    let tail = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .header("range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &PNG[PNG.len() - 3..]);

    let beyond = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .header("range", format!("bytes={}-", PNG.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", PNG.len()).as_str()
    );
    problem(
        beyond,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    )
    .await;
}

async fn trash_restore_erase(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let id = upload(&server, &alice, "a.pdf", PDF, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/files/{id}");
    let listed = |status: &'static str| {
        let server = &server;
        let alice = alice.clone();
        async move {
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
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        server
            .req(Method::DELETE, &path, &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(listed("available").await, 0);
    assert_eq!(listed("deleted").await, 1);
    problem(
        server
            .req(Method::GET, &format!("{path}/download"), &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "file_deleted",
    )
    .await;
    // The name is free while the file is in the trash...
    upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    // ...so restoring the first one now conflicts.
    problem(
        server
            .req(Method::POST, &format!("{path}/restore"), &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "duplicate_path",
    )
    .await;
    let still_trashed = ok_json(
        server.req(Method::GET, &path, &alice).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(still_trashed["status"], "deleted");
    assert_eq!(
        server
            .req(Method::DELETE, &format!("{path}?permanent=true"), &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(
        server.req(Method::GET, &path, &alice).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(listed("deleted").await, 0);
}

async fn verification_failures(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let initiate = |name: &str, size: usize| {
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": name, "size": size }))
            .send()
    };

    // Completing before the bytes are there.
    let early = ok_json(
        initiate("early.pdf", PDF.len()).await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let id = early["file"]["id"].as_str().unwrap();
    problem(
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{id}/complete"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "upload_missing",
    )
    .await;

    // A body of another length is refused by the store itself.
    let put = put_bytes(&server, &early["upload"], [PDF, b"extra"].concat()).await;
    assert!(
        put.status().is_client_error(),
        "store accepted a longer body: {}",
        put.status()
    );

    // Same length, other format: accepted by the store, caught at complete, and the object is deleted.
    let mut fake = PNG.to_vec();
    fake.resize(PDF.len(), 0);
    let put = put_bytes(&server, &early["upload"], fake).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    problem(
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{id}/complete"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_mismatch",
    )
    .await;
    problem(
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{id}/complete"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "upload_missing",
    )
    .await;

    // A retry with the right bytes still works, and completing twice is harmless.
    let put = put_bytes(&server, &early["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success());
    for _ in 0..2 {
        let done = ok_json(
            server
                .req(
                    Method::POST,
                    &format!("/api/v1/files/{id}/complete"),
                    &alice,
                )
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(done["status"], "available");
    }
}
