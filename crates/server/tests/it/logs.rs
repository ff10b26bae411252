//! Issue 21, finding 4: a journey's logs, captured at DEBUG, hold no
//! bearer token, no signature of a storage URL and no webhook secret.
//! (nextest runs each test in its own process, so the global subscriber
//! installed here sees only this test's server.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::events::{free_port, set_webhook};
use crate::support::{Mode, PDF, TestServer, complete_upload, initiate_upload, put_bytes};

/// Every log line, shared between the subscriber's writers and the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The values of `names` in the query of `url`.
fn query_values(url: &str, names: &[&str]) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
        .map(|(_, value)| value.to_owned())
        .collect()
}

const SIGNATURES: &[&str] = &[
    "X-Coffer-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

#[actix_web::test]
async fn a_journey_logs_no_token_signature_or_secret() {
    journey_logs_nothing_secret(Mode::Embedded).await;
}

/// With S3 presigned URLs and the S3 SDK's own logs.
#[actix_web::test]
async fn a_production_journey_logs_no_token_signature_or_secret() {
    journey_logs_nothing_secret(Mode::Production).await;
}

async fn journey_logs_nothing_secret(mode: Mode) {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        // Spans too, with their fields (the request span names the URL).
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();
    let server = TestServer::start_with(
        mode,
        tempfile::tempdir().unwrap(),
        &[("COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS", "127.0.0.1")],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "root-admin", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let hook = set_webhook(
        &server,
        &admin,
        &format!("http://127.0.0.1:{}/hook", free_port()),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();

    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "a.pdf", "size": PDF.len() }),
    )
    .await;
    let put_url = initiated["upload"]["url"].as_str().unwrap().to_owned();
    let put = put_bytes(&server, &initiated["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success());
    let id = initiated["file"]["id"].as_str().unwrap().to_owned();
    complete_upload(&server, &alice, &id).await;
    let redirect = server
        .req(Method::GET, &format!("/api/v1/files/{id}/download"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let get_url = redirect.headers()["location"].to_str().unwrap().to_owned();
    let downloaded = server.http.get(&get_url).send().await.unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    // A refused storage request (a tampered signature) too, on Coffer's own route.
    if mode == Mode::Embedded {
        let tampered = server
            .http
            .get(get_url.replace("X-Coffer-Expires=", "X-Coffer-Expires=1"))
            .send()
            .await
            .unwrap();
        assert!(tampered.status().is_client_error());
    }
    let content = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    server.shutdown().await;

    let text = logs.text();
    assert!(
        text.contains("/complete"),
        "the requests were logged:\n{text}"
    );
    let signatures: Vec<String> = [&put_url, &get_url]
        .iter()
        .flat_map(|url| query_values(url, SIGNATURES))
        .collect();
    assert!(!signatures.is_empty(), "{put_url} {get_url}");
    for (what, secret) in signatures.iter().map(|s| ("a URL signature", s)).chain([
        ("a token", &alice),
        ("a token", &admin),
        ("the webhook secret", &secret),
    ]) {
        assert!(
            !text.contains(secret.as_str()),
            "{what} is in the logs:\n{text}"
        );
    }
}
