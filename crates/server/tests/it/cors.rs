//! CORS: browser pages on the configured web origins may call `/api/v1`
//! (`server.cors_origins`) and use the storage route's presigned URLs
//! (`storage.cors_origins`); other origins get no CORS headers, and their
//! preflights are `403 cors_refused`.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::support::*;

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example.net";

fn header(response: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
}

async fn preflight(server: &TestServer, url: &str, origin: &str, method: &str) -> Response {
    server
        .http
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

/// A preflight refused: `403 cors_refused` problem+json, no CORS header.
async fn refused(response: Response) {
    assert_eq!(header(&response, ACCESS_CONTROL_ALLOW_ORIGIN), None);
    problem(response, StatusCode::FORBIDDEN, "cors_refused").await;
}

#[actix_web::test]
async fn the_api_and_the_storage_route_allow_exactly_the_configured_origins() {
    let server = TestServer::start_with(
        Mode::Embedded,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__SERVER__CORS_ORIGINS", APP),
            ("COFFER__STORAGE__CORS_ORIGINS", APP),
        ],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;

    // The API: a preflight from the web app is answered with its origin.
    let files = server.url("/api/v1/files");
    let allowed = preflight(&server, &files, APP, "POST").await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        header(&allowed, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(APP)
    );
    let methods = header(&allowed, ACCESS_CONTROL_ALLOW_METHODS).unwrap();
    assert!(
        methods.contains("post") && methods.contains("patch"),
        "{methods}"
    );
    let headers = header(&allowed, ACCESS_CONTROL_ALLOW_HEADERS).unwrap();
    assert!(headers.contains("authorization"), "{headers}");
    // Another origin's preflight is refused; its requests carry no CORS
    // header (the browser keeps the answer from the page).
    refused(preflight(&server, &files, EVIL, "POST").await).await;
    refused(preflight(&server, &files, APP, "TRACE").await).await;
    for (origin, expected) in [(APP, Some(APP)), (EVIL, None)] {
        let listed = server
            .req(Method::GET, "/api/v1/files", &alice)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), StatusCode::OK);
        assert_eq!(
            header(&listed, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
            expected,
            "GET from {origin}"
        );
    }

    // The storage route: the presigned PUT, from the web app.
    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "a.pdf", "size": PDF.len() }),
    )
    .await;
    let upload = &initiated["upload"];
    let url = upload["url"].as_str().unwrap();
    assert!(url.contains("/storage/"), "{url}");
    let allowed = preflight(&server, url, APP, "PUT").await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        header(&allowed, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(APP)
    );
    refused(preflight(&server, url, EVIL, "PUT").await).await;
    refused(preflight(&server, url, APP, "DELETE").await).await;
    let mut put = server.http.put(url).header("origin", APP);
    for (name, value) in upload["headers"].as_object().unwrap() {
        if !name.eq_ignore_ascii_case("content-length") {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    let put = put.body(PDF.to_vec()).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(
        header(&put, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(APP)
    );
    let exposed = header(&put, ACCESS_CONTROL_EXPOSE_HEADERS).unwrap();
    assert!(exposed.contains("etag"), "{exposed}");
}

#[actix_web::test]
async fn without_configured_origins_no_origin_is_allowed() {
    let server = TestServer::start(Mode::Embedded).await;
    for path in ["/api/v1/files", "/storage/coffer/anything"] {
        refused(preflight(&server, &server.url(path), APP, "GET").await).await;
    }
    let health = server
        .http
        .get(server.url("/api/v1/openapi.json"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(header(&health, ACCESS_CONTROL_ALLOW_ORIGIN), None);
}

#[test]
fn origins_that_are_not_origins_stop_the_server_from_starting() {
    for (key, bad) in [
        ("COFFER__SERVER__CORS_ORIGINS", "https://app.example.com/"),
        ("COFFER__SERVER__CORS_ORIGINS", "app.example.com"),
        ("COFFER__SERVER__CORS_ORIGINS", "https://*.example.com"),
        ("COFFER__STORAGE__CORS_ORIGINS", "ftp://app.example.com"),
    ] {
        let env = [(key.to_owned(), bad.to_owned())];
        let err = coffer_server::config::Config::load_from(None, env).unwrap_err();
        assert!(err.to_string().contains("cors_origins"), "{bad}: {err}");
    }
    for good in ["https://app.example.com", "http://localhost:3000,*"] {
        let env = [("COFFER__SERVER__CORS_ORIGINS".to_owned(), good.to_owned())];
        let config = coffer_server::config::Config::load_from(None, env).unwrap();
        assert!(!config.server.cors_origins.is_empty());
    }
}
