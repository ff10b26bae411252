//! The embedded defaults start on an empty directory and keep every file
//! across a restart (SQLite file, objects, signing keys, dev-issuer key).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn a_restart_keeps_every_file() {
    let first = TestServer::start(Mode::Embedded).await;
    let tenant = first.tenant(json!({})).await;
    let alice = first.token(Some(&tenant), "alice", &["editor"]).await;
    let direct = upload(
        &first,
        &alice,
        "kept.pdf",
        PDF,
        json!({ "path": "/archive" }),
    )
    .await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("kept.png"),
    );
    let streamed = ok_json(
        first
            .req(Method::POST, "/api/v1/files", &alice)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let dir = first.shutdown().await;

    let second = TestServer::start_in(Mode::Embedded, dir).await;
    // The dev issuer's key survived too: a token minted before the restart still works.
    for (file, bytes) in [(&direct, PDF), (&streamed, PNG)] {
        let id = file["id"].as_str().unwrap();
        let got = ok_json(
            second
                .req(Method::GET, &format!("/api/v1/files/{id}"), &alice)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(&got, file);
        let content = second
            .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
            .send()
            .await
            .unwrap();
        assert_eq!(content.bytes().await.unwrap().as_ref(), bytes);
    }
    // Signed URLs of the restarted server (new address, same key) work.
    let id = direct["id"].as_str().unwrap();
    let url = ok_json(
        second
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
    let downloaded = second
        .http
        .get(url["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), PDF);
}
