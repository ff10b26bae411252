//! Upload requests (docs/sharing.md), in both modes, against a real server
//! and store: made, listed and closed through the API; used through their
//! public endpoints by a client with no token at all, whose files land
//! verified in the requester's folder, owned by the requester, with the
//! request as actor in the audit log; refused once closed, expired or
//! full, for files too large or of a type not asked for, while the tenant
//! is suspended or has the feature off; every place a refused upload took
//! given back.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::audit::audit_pages;
use crate::events::polled;
use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::lifecycle::set_status;
use crate::scanning::{decided, scanning_server};
use crate::share_links::in_seconds;
use crate::support::*;
use crate::verified_bytes::{PART, small_parts_server};

in_both_modes!(
    a_request_takes_verified_files_from_anyone_into_the_folder,
    closed_expired_full_and_unavailable_requests_take_nothing,
    requests_are_their_creators_and_bad_terms_are_refused,
    a_large_file_goes_to_the_store_in_parts_through_the_request,
    a_visitors_files_are_scanned_as_members_are,
);

/// A PDF header, then `size` bytes of `i % 251` (the browser scenario
/// makes the same).
pub(crate) fn large_pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..size).map(|i| (i % 251) as u8));
    bytes
}

pub(crate) async fn create_request(server: &TestServer, token: &str, body: Value) -> Value {
    ok_json(
        server
            .req(Method::POST, "/api/v1/upload-requests", token)
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await
}

pub(crate) async fn request_of(server: &TestServer, token: &str, id: &str) -> Value {
    ok_json(
        server
            .req(Method::GET, &format!("/api/v1/upload-requests/{id}"), token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

pub(crate) async fn close(server: &TestServer, token: &str, id: &str) -> Response {
    server
        .req(
            Method::DELETE,
            &format!("/api/v1/upload-requests/{id}"),
            token,
        )
        .send()
        .await
        .unwrap()
}

/// `POST {url}/uploads`, with no token.
async fn start(server: &TestServer, url: &str, name: &str, size: usize, ct: &str) -> Response {
    server
        .http
        .post(format!("{url}/uploads"))
        .json(&json!({ "name": name, "size": size, "content_type": ct }))
        .send()
        .await
        .unwrap()
}

/// `POST {url}/uploads/{id}/complete`, with no token.
async fn finish(server: &TestServer, url: &str, id: &str) -> Response {
    server
        .http
        .post(format!("{url}/uploads/{id}/complete"))
        .send()
        .await
        .unwrap()
}

/// A visitor's whole upload: start, PUT to the store, complete. Returns
/// the answer to complete.
async fn send(server: &TestServer, url: &str, name: &str, bytes: &[u8], ct: &str) -> Response {
    let started = ok_json(
        start(server, url, name, bytes.len(), ct).await,
        StatusCode::CREATED,
    )
    .await;
    let put = put_bytes(server, &started["upload"], bytes.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    finish(server, url, started["file"]["id"].as_str().unwrap()).await
}

async fn folder(server: &TestServer, token: &str, path: &str) -> Vec<Value> {
    ok_json(
        server
            .req(Method::GET, &format!("/api/v1/files?path={path}"), token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn hour_request(extra: Value) -> Value {
    let mut body = json!({
        "path": "/clients/acme",
        "expires_at": in_seconds(3600),
        "max_files": 2,
        "max_size": 10_000,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn a_request_takes_verified_files_from_anyone_into_the_folder(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;

    let request = create_request(
        &server,
        &alice,
        hour_request(json!({
            "allowed_types": ["application/pdf"],
            "message": "Please send your <receipts> & invoices.\nThanks!",
        })),
    )
    .await;
    let id = request["id"].as_str().unwrap();
    let url = request["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/u/", server.base)), "{url}");
    assert_eq!(url.rsplit('/').next().unwrap().len(), 43, "256 bits: {url}");
    assert_eq!(request["state"], "open");
    assert_eq!(request["path"], "/clients/acme");
    assert_eq!(request["files_received"], 0);
    assert_eq!(request["allowed_types"], json!(["application/pdf"]));
    assert_eq!(request["created_by"], "alice");
    assert_eq!(request["closed_at"], Value::Null);

    // The page: the message (escaped), the folder's name, one script of
    // our own, a policy that lets it talk to this server and the store.
    let page = server.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self'")
            && csp.contains("connect-src 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    if mode == Mode::Production {
        let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap();
        let origin = reqwest::Url::parse(&endpoint)
            .unwrap()
            .origin()
            .ascii_serialization();
        assert!(
            csp.contains(&format!("connect-src 'self' {origin}")),
            "{csp}"
        );
    }
    assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Please send your &lt;receipts&gt; &amp; invoices."),
        "{html}"
    );
    assert!(html.contains("<strong>acme</strong>"), "{html}");
    assert!(
        !html.contains("/clients/acme"),
        "the folder, not its path: {html}"
    );
    assert!(html.contains("2 more files"), "{html}");
    assert!(html.contains(r#"<label for="files">"#), "{html}");
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(
        html.contains(r#"<script src="/assets/upload.js" defer>"#),
        "{html}"
    );
    let script = server
        .http
        .get(server.url("/assets/upload.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // A visitor with no token sends a file: it lands in the folder,
    // verified, as alice's.
    let done = ok_json(
        send(&server, &url, "receipt.pdf", PDF, "application/pdf").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "available");
    assert_eq!(done["name"], "receipt.pdf");
    assert!(
        done.get("owner").is_none() && done.get("path").is_none(),
        "{done}"
    );
    let listed = folder(&server, &alice, "/clients/acme").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let file = &listed[0];
    assert_eq!(file["id"], done["id"]);
    assert_eq!(file["filename"], "receipt.pdf");
    assert_eq!(file["owner"], "alice");
    assert_eq!(file["status"], "available");
    assert_eq!(file["metadata"]["upload_request"], id);
    let file_id = file["id"].as_str().unwrap();
    let content = server
        .req(
            Method::GET,
            &format!("/api/v1/files/{file_id}/content"),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), PDF);
    assert_eq!(request_of(&server, &alice, id).await["files_received"], 1);

    // Bytes that are not what they claim: refused at complete, the pending
    // file dropped, the place given back.
    let mut fake = PNG.to_vec();
    fake.resize(PDF.len(), 0);
    problem(
        send(&server, &url, "fake.pdf", &fake, "application/pdf").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_mismatch",
    )
    .await;
    assert_eq!(request_of(&server, &alice, id).await["files_received"], 1);
    assert_eq!(folder(&server, &alice, "/clients/acme").await.len(), 1);

    // The second place: then the request is full.
    ok_json(
        send(&server, &url, "invoice.pdf", PDF, "application/pdf").await,
        StatusCode::OK,
    )
    .await;
    let full = request_of(&server, &alice, id).await;
    assert_eq!(
        (full["files_received"].clone(), full["state"].clone()),
        (json!(2), json!("full"))
    );
    problem(
        start(&server, &url, "third.pdf", PDF.len(), "application/pdf").await,
        StatusCode::GONE,
        "request_full",
    )
    .await;
    let (status, html) = open_page(&server, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("full") && !html.contains("acme"), "{html}");

    // On record, the request as actor; its making by alice.
    let actor = format!("upload_request:{id}");
    let records = audit_pages(&server, &admin, 200).await;
    let mut by_request: Vec<&str> = records
        .iter()
        .filter(|r| r["actor"] == actor.as_str())
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    by_request.reverse();
    assert_eq!(
        by_request,
        [
            "file.upload_initiated",
            "file.uploaded",
            "file.upload_initiated",
            "file.upload_abandoned",
            "file.upload_initiated",
            "file.uploaded",
        ],
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "upload_request.created" && r["actor"] == "alice"),
        "{records:#?}"
    );
}

async fn closed_expired_full_and_unavailable_requests_take_nothing(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;

    // Closed: the page and the endpoints refuse, an upload under way too.
    let request = create_request(&server, &alice, hour_request(json!({}))).await;
    let id = request["id"].as_str().unwrap();
    let url = request["url"].as_str().unwrap().to_owned();
    let pending = ok_json(
        start(&server, &url, "late.pdf", PDF.len(), "application/pdf").await,
        StatusCode::CREATED,
    )
    .await;
    let pending_id = pending["file"]["id"].as_str().unwrap();
    let closed = ok_json(close(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(closed["state"], "closed");
    assert!(closed["closed_at"].is_string(), "{closed}");
    let again = ok_json(close(&server, &alice, id).await, StatusCode::OK).await;
    assert_eq!(again["closed_at"], closed["closed_at"], "again: the same");
    let (status, html) = open_page(&server, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("closed"), "{html}");
    problem(
        start(&server, &url, "more.pdf", PDF.len(), "application/pdf").await,
        StatusCode::GONE,
        "request_closed",
    )
    .await;
    problem(
        finish(&server, &url, pending_id).await,
        StatusCode::GONE,
        "request_closed",
    )
    .await;
    let closings = audit_pages(&server, &admin, 100)
        .await
        .into_iter()
        .filter(|r| r["action"] == "upload_request.closed")
        .count();
    assert_eq!(closings, 1, "closing again is no news");

    // Expired.
    let brief = create_request(
        &server,
        &alice,
        hour_request(json!({ "expires_at": in_seconds(2) })),
    )
    .await;
    let brief_url = brief["url"].as_str().unwrap();
    assert_eq!(open_page(&server, brief_url).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, html) = open_page(&server, brief_url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired"), "{html}");
    problem(
        start(&server, brief_url, "x.pdf", PDF.len(), "application/pdf").await,
        StatusCode::GONE,
        "request_expired",
    )
    .await;
    let brief_id = brief["id"].as_str().unwrap();
    assert_eq!(
        request_of(&server, &alice, brief_id).await["state"],
        "expired"
    );

    // Too large, or of a type not asked for: refused before any place.
    let picky = create_request(
        &server,
        &alice,
        hour_request(
            json!({ "max_files": 1, "max_size": 50, "allowed_types": ["application/pdf"] }),
        ),
    )
    .await;
    let picky_url = picky["url"].as_str().unwrap();
    problem(
        start(&server, picky_url, "big.pdf", 51, "application/pdf").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    )
    .await;
    problem(
        start(&server, picky_url, "photo.png", 20, "image/png").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_not_allowed",
    )
    .await;
    let picky_id = picky["id"].as_str().unwrap();
    assert_eq!(
        request_of(&server, &alice, picky_id).await["files_received"],
        0
    );

    // A file that did not come through this request is not reachable
    // through it, even the requester's own.
    let own = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "own.pdf", "size": PDF.len() }),
    )
    .await;
    problem(
        finish(&server, picky_url, own["file"]["id"].as_str().unwrap()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Not available while the tenant is suspended...
    let live = create_request(&server, &alice, hour_request(json!({}))).await;
    let live_url = live["url"].as_str().unwrap();
    let tenant_id = tenant_id(&server, &alice).await;
    set_status(&server, tenant_id, "suspended").await;
    let (status, html) = open_page(&server, live_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not available"), "{html}");
    problem(
        start(&server, live_url, "x.pdf", PDF.len(), "application/pdf").await,
        StatusCode::NOT_FOUND,
        "request_unavailable",
    )
    .await;
    set_status(&server, tenant_id, "active").await;
    assert_eq!(open_page(&server, live_url).await.0, StatusCode::OK);

    // ...or while the tenant has upload requests switched off, when none
    // can be made either.
    let root = server.platform_admin().await;
    assert_eq!(
        set_feature(&server, &root, tenant_id, "upload_requests", false).await,
        StatusCode::OK
    );
    let (status, html) = open_page(&server, live_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not available"), "{html}");
    let refused = server
        .req(Method::POST, "/api/v1/upload-requests", &alice)
        .json(&hour_request(json!({})))
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "feature_disabled").await;
    assert_eq!(
        set_feature(&server, &root, tenant_id, "upload_requests", true).await,
        StatusCode::OK
    );
    assert_eq!(open_page(&server, live_url).await.0, StatusCode::OK);

    // Tokens no request has, or that are no tokens at all.
    let token = live_url.rsplit('/').next().unwrap();
    let mut forged = token.to_owned();
    forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
    for bad in [forged.as_str(), "abc"] {
        let bad_url = server.url(&format!("/u/{bad}"));
        let (status, html) = open_page(&server, &bad_url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(html.contains("does not exist"), "{bad}: {html}");
        problem(
            start(&server, &bad_url, "x.pdf", 3, "application/pdf").await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

async fn requests_are_their_creators_and_bad_terms_are_refused(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let bob = server.token(Some(&tenant), "bob", &["editor"]).await;
    let vera = server.token(Some(&tenant), "vera", &["viewer"]).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;

    let refused = |token: &str, body: Value| {
        server
            .req(Method::POST, "/api/v1/upload-requests", token)
            .json(&body)
            .send()
    };
    problem(
        refused(&vera, hour_request(json!({}))).await.unwrap(),
        StatusCode::FORBIDDEN,
        "role_cannot_create",
    )
    .await;
    for (change, code, field) in [
        (json!({ "max_files": 0 }), "validation_failed", "max_files"),
        (json!({ "max_size": 0 }), "validation_failed", "max_size"),
        (
            json!({ "expires_at": in_seconds(-60) }),
            "expiry_in_past",
            "expires_at",
        ),
        (
            json!({ "expires_at": in_seconds(400 * 86_400) }),
            "expiry_too_far",
            "expires_at",
        ),
        (
            json!({ "message": "bell\u{7}" }),
            "validation_failed",
            "message",
        ),
    ] {
        let body = problem(
            refused(&alice, hour_request(change.clone())).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert_eq!(body["field"], field, "{change}: {body}");
    }
    problem(
        refused(&alice, hour_request(json!({ "path": "/a/../b" })))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;

    let mine = create_request(&server, &alice, hour_request(json!({}))).await;
    let id = mine["id"].as_str().unwrap();
    let list = |token: &str| {
        server
            .req(Method::GET, "/api/v1/upload-requests", token)
            .send()
    };
    let alices = ok_json(list(&alice).await.unwrap(), StatusCode::OK).await;
    assert_eq!(alices["items"].as_array().unwrap().len(), 1);
    assert!(
        alices["items"][0].get("url").is_none(),
        "the token is never shown again"
    );
    let bobs = ok_json(list(&bob).await.unwrap(), StatusCode::OK).await;
    assert_eq!(bobs["items"], json!([]), "another member's are not listed");
    let path = format!("/api/v1/upload-requests/{id}");
    problem(
        server.req(Method::GET, &path, &bob).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        close(&server, &bob, id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(request_of(&server, &alice, id).await["state"], "open");

    // An admin sees and closes every request of the tenant.
    let admins = ok_json(list(&admin).await.unwrap(), StatusCode::OK).await;
    assert_eq!(admins["items"][0]["id"], mine["id"]);
    let closed = ok_json(close(&server, &admin, id).await, StatusCode::OK).await;
    assert_eq!(closed["state"], "closed");
    let unknown = format!("/api/v1/upload-requests/{}", uuid::Uuid::new_v4());
    problem(
        server
            .req(Method::DELETE, &unknown, &admin)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn a_large_file_goes_to_the_store_in_parts_through_the_request(mode: Mode) {
    let server = small_parts_server(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let request = create_request(
        &server,
        &alice,
        hour_request(json!({ "max_size": 20_000_000 })),
    )
    .await;
    let url = request["url"].as_str().unwrap();
    let bytes = large_pdf(PART + 1000);

    let started = ok_json(
        start(&server, url, "scan.pdf", bytes.len(), "application/pdf").await,
        StatusCode::CREATED,
    )
    .await;
    assert!(started.get("upload").is_none(), "{started}");
    assert_eq!(started["multipart"]["part_size"], PART);
    assert_eq!(started["multipart"]["part_count"], 2);
    let id = started["file"]["id"].as_str().unwrap();
    for (number, chunk) in bytes.chunks(PART).enumerate() {
        let parts = ok_json(
            server
                .http
                .post(format!("{url}/uploads/{id}/parts"))
                .json(&json!({ "part_numbers": [number + 1] }))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        let put = put_bytes(&server, &parts["parts"][0], chunk.to_vec()).await;
        assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    }
    let done = ok_json(finish(&server, url, id).await, StatusCode::OK).await;
    assert_eq!(done["status"], "available");
    let content = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

async fn a_visitors_files_are_scanned_as_members_are(mode: Mode) {
    use coffer_clamav::testing::{EICAR, shared_tcp_url};
    let server = scanning_server(mode, &shared_tcp_url(), &[]).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let request = create_request(&server, &alice, hour_request(json!({}))).await;
    let url = request["url"].as_str().unwrap();

    let eicar = ok_json(
        send(&server, url, "eicar.txt", EICAR, "text/plain").await,
        StatusCode::OK,
    )
    .await;
    let clean = ok_json(
        send(&server, url, "clean.pdf", PDF, "application/pdf").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(eicar["status"], "scanning", "{eicar}");
    assert_eq!(clean["status"], "scanning", "{clean}");
    let eicar = decided(&server, &alice, eicar["id"].as_str().unwrap()).await;
    assert_eq!(eicar["status"], "quarantined", "{eicar}");
    let clean = decided(&server, &alice, clean["id"].as_str().unwrap()).await;
    assert_eq!(clean["status"], "available", "{clean}");
    assert_eq!(clean["owner"], "alice");

    // Announced to the tenant's webhook feed with the request as actor.
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let actor = format!("upload_request:{}", request["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let uploaded: Vec<Value> = polled(&server, &admin)
            .await
            .into_iter()
            .filter(|e| e["type"] == "file.uploaded")
            .collect();
        if uploaded.len() == 2 {
            assert!(
                uploaded
                    .iter()
                    .all(|e| e["data"]["actor"] == actor.as_str()),
                "{uploaded:#?}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{uploaded:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The page and its JSON endpoints count against the client address's
/// limit; the endpoints answer `429` as problem+json.
#[actix_web::test]
async fn the_public_side_is_limited_per_client_address() {
    let server = TestServer::start_with(
        Mode::Embedded,
        tempfile::tempdir().unwrap(),
        &[("COFFER__RATE_LIMITS__CLIENT_REQUESTS_PER_MINUTE", "6")],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let request = create_request(&server, &alice, hour_request(json!({}))).await;
    let url = request["url"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(open_page(&server, url).await.0, StatusCode::OK);
        let guessed = start(
            &server,
            &server.url("/u/abc"),
            "x.pdf",
            3,
            "application/pdf",
        )
        .await;
        assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(
        open_page(&server, url).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let limited = problem(
        start(&server, url, "x.pdf", 3, "application/pdf").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert!(limited["detail"].is_string(), "{limited}");
    assert_eq!(
        request_of(&server, &alice, request["id"].as_str().unwrap()).await["files_received"],
        0
    );
}
