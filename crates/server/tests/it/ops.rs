//! Outside `/api/v1`: health, readiness, metrics, OpenAPI and the reference page.

use reqwest::StatusCode;
use serde_json::json;

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(operations_endpoints_answer);

async fn operations_endpoints_answer(mode: Mode) {
    let server = TestServer::start(mode).await;
    let get = |path: &str| server.http.get(server.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready: serde_json::Value = get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    upload(&server, &alice, "m.pdf", PDF, json!({})).await;
    let metrics = server.prometheus().await;
    assert!(metrics.contains(r#"coffer_http_requests_total{endpoint="/api/v1/files/{id}/complete",method="POST",status="200"} 1"#), "{metrics}");
    assert!(
        metrics.contains(&format!("coffer_upload_bytes_total {}", PDF.len())),
        "{metrics}"
    );

    let doc: serde_json::Value = get("/api/v1/openapi.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/files",
        "/api/v1/files/{id}/download",
        "/api/v1/tenants/{id}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let page = get("/docs/").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("swagger") && !html.contains("cdn."),
        "the reference page must be self-contained"
    );
    let bare = get("/docs").await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
}
