//! Events: every change is announced once, delivered signed to the tenant's
//! webhook at least once — also after the receiver was down for a while and
//! Coffer restarted meanwhile — and listed for pollers.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use coffer_domain::webhook;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Fast retries, so a receiver that comes back is served within the test.
pub(crate) const FAST_DELIVERY: &[(&str, &str)] = &[
    ("COFFER__EVENTS__DISPATCH_INTERVAL_MS", "100"),
    ("COFFER__EVENTS__BACKOFF_BASE_MS", "100"),
    ("COFFER__EVENTS__BACKOFF_MAX_SECS", "1"),
    ("COFFER__EVENTS__MAX_ATTEMPTS", "1000"),
    ("COFFER__EVENTS__SETTLE_MS", "200"),
    // The receivers listen on loopback, which is refused unless allowed.
    ("COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS", "127.0.0.1"),
];

/// What the receiver was sent: the signature header, the event id header
/// and the body, per request.
pub(crate) type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// Serves `POST /hook` on `port` with the handler `route` makes.
pub(crate) fn hook_server<F>(port: u16, route: F) -> actix_web::dev::ServerHandle
where
    F: Fn() -> actix_web::Route + Send + Clone + 'static,
{
    let server = HttpServer::new(move || App::new().route("/hook", route()))
        .workers(1)
        .bind(("127.0.0.1", port))
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

/// The value of the header `name` of `req` (empty when it has none).
pub(crate) fn header(req: &HttpRequest, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A webhook receiver on `port`, answering 200 to every POST.
pub(crate) fn receiver(port: u16, received: Received) -> actix_web::dev::ServerHandle {
    hook_server(port, move || {
        let received = received.clone();
        web::post().to(move |req: HttpRequest, body: web::Bytes| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push((
                    header(&req, "coffer-signature"),
                    header(&req, "coffer-event-id"),
                    body.to_vec(),
                ));
                HttpResponse::Ok().finish()
            }
        })
    })
}

/// A port nothing listens on (yet).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn set_webhook(server: &TestServer, admin: &str, url: &str) -> Value {
    ok_json(
        server
            .req(Method::PUT, "/api/v1/tenant/webhook", admin)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

/// Every settled event of the tenant, through the polling endpoint, page
/// by page.
pub(crate) async fn polled(server: &TestServer, admin: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut path = "/api/v1/events?limit=2".to_owned();
    loop {
        let page = ok_json(
            server.req(Method::GET, &path, admin).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        events.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/events?limit=2&after={cursor}"),
            None => return events,
        }
    }
}

#[actix_web::test]
async fn a_receiver_that_was_down_gets_every_event_signed_across_a_restart() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        FAST_DELIVERY,
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "root-admin", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let port = free_port();
    let hook = set_webhook(&server, &admin, &format!("http://127.0.0.1:{port}/hook")).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "a strong secret: {secret}");

    // Changes while the receiver is down: every delivery is refused.
    let file = upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/files/{id}");
    for (method, url, body) in [
        (Method::PATCH, path.clone(), json!({ "filename": "b.pdf" })),
        (
            Method::POST,
            format!("{path}/permissions"),
            json!({ "subject": "user:bob", "access": "read" }),
        ),
    ] {
        let response = server
            .req(method, &url, &alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{url}");
    }
    let trashed = server
        .req(Method::DELETE, &path, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(trashed.status(), StatusCode::NO_CONTENT);
    // Long enough for several refused attempts.
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;

    // Coffer restarts; the outbox is in the database, nothing is lost.
    let server = server.restart().await;
    let restored = server
        .req(Method::POST, &format!("{path}/restore"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);

    // The receiver comes back.
    let received: Received = Arc::default();
    let receiver = receiver(port, received.clone());
    let expected = [
        "file.uploaded",
        "file.updated",
        "grant.added",
        "file.trashed",
        "file.restored",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let by_id = loop {
        let mut by_id = BTreeMap::new();
        for (signature, event_id, body) in received.lock().unwrap().iter() {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            webhook::verify(secret.as_bytes(), signature, body, now, 300)
                .unwrap_or_else(|e| panic!("delivery of {event_id}: {e}"));
            let event: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(
                event["id"],
                json!(event_id),
                "the header names the body's event"
            );
            assert_eq!(event["tenant"]["slug"], json!(tenant));
            by_id.insert(event_id.clone(), event);
        }
        if by_id.len() >= expected.len() || Instant::now() > deadline {
            break by_id;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    receiver.stop(true).await;

    // Exactly the changes, each once (receivers de-duplicate by id), in
    // the order they happened.
    let mut events: Vec<&Value> = by_id.values().collect();
    let at = |e: &Value| {
        time::OffsetDateTime::parse(
            e["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    events.sort_by_key(|e| at(e));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, expected);
    assert!(events.iter().all(|e| e["data"]["file"]["id"] == json!(id)));
    assert_eq!(events[1]["data"]["detail"]["changed"], json!(["filename"]));

    // Pollers see the same events with the same ids, oldest first; the
    // tenant's creation is announced too (before the webhook was set, so
    // it was never delivered). Events are polled once settled.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let polled = polled(&server, &admin).await;
    let polled_kinds: Vec<&str> = polled.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(polled_kinds[0], "tenant.created");
    assert_eq!(polled_kinds[1..], expected);
    for (poll, event) in polled[1..].iter().zip(&events) {
        assert_eq!(poll["id"], event["id"]);
    }
}

#[actix_web::test]
async fn the_webhook_and_the_feed_are_for_tenant_admins_only() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        FAST_DELIVERY,
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let other = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let editor = server.token(Some(&tenant), "alice", &["editor"]).await;
    let other_admin = server.token(Some(&other), "eve", &["admin"]).await;

    for (method, path) in [
        (Method::GET, "/api/v1/tenant/webhook"),
        (Method::DELETE, "/api/v1/tenant/webhook"),
        (Method::GET, "/api/v1/events"),
    ] {
        let response = server.req(method, path, &editor).send().await.unwrap();
        problem(response, StatusCode::FORBIDDEN, "admin_required").await;
    }
    let response = server
        .req(Method::PUT, "/api/v1/tenant/webhook", &editor)
        .json(&json!({ "url": "https://example.com/hook" }))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::FORBIDDEN, "admin_required").await;

    let none = server
        .req(Method::GET, "/api/v1/tenant/webhook", &admin)
        .send()
        .await
        .unwrap();
    problem(none, StatusCode::NOT_FOUND, "not_found").await;
    for bad in [
        "ftp://example.com/",
        "not a url",
        "https://user:pw@example.com/",
    ] {
        let response = server
            .req(Method::PUT, "/api/v1/tenant/webhook", &admin)
            .json(&json!({ "url": bad }))
            .send()
            .await
            .unwrap();
        let body = problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("webhook_url"),
            "{body}"
        );
    }
    let set = set_webhook(&server, &admin, "https://example.com/hook").await;
    let shown = ok_json(
        server
            .req(Method::GET, "/api/v1/tenant/webhook", &admin)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["url"], set["url"]);
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    let again = set_webhook(&server, &admin, "https://example.com/hook").await;
    assert_ne!(
        again["secret"], set["secret"],
        "each PUT makes a new secret"
    );

    // Another tenant's admin sees neither the webhook nor the events.
    let foreign = server
        .req(Method::GET, "/api/v1/tenant/webhook", &other_admin)
        .send()
        .await
        .unwrap();
    problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let theirs = polled(&server, &other_admin).await;
    assert_eq!(
        theirs.len(),
        1,
        "only their own tenant's creation: {theirs:?}"
    );
    let ours = polled(&server, &admin).await;
    assert_eq!(ours.len(), 1);
    assert_ne!(ours[0]["id"], theirs[0]["id"]);

    let removed = server
        .req(Method::DELETE, "/api/v1/tenant/webhook", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = server
        .req(Method::GET, "/api/v1/tenant/webhook", &admin)
        .send()
        .await
        .unwrap();
    problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    let bad_cursor = server
        .req(Method::GET, "/api/v1/events?after=nonsense", &admin)
        .send()
        .await
        .unwrap();
    problem(
        bad_cursor,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

/// How long tenant A's receiver takes per event in the fairness test.
const SLOW_RECEIVER: Duration = Duration::from_secs(8);

/// When the slow receiver's requests began and ended.
#[derive(Default)]
struct SlowLog {
    started: usize,
    finished: usize,
}

/// A webhook receiver on `port` that takes [`SLOW_RECEIVER`] to answer each
/// POST (200 in the end).
fn slow_receiver(port: u16, log: Arc<Mutex<SlowLog>>) -> actix_web::dev::ServerHandle {
    hook_server(port, move || {
        let log = log.clone();
        web::post().to(move || {
            let log = log.clone();
            async move {
                log.lock().unwrap().started += 1;
                actix_web::rt::time::sleep(SLOW_RECEIVER).await;
                log.lock().unwrap().finished += 1;
                HttpResponse::Ok().finish()
            }
        })
    })
}

/// Issue 21, finding 3: with tenant A's receiver taking 8 s per event,
/// tenant B's event used to wait for A's (40 s in the report). Now B's
/// event arrives while A's first delivery is still under way.
async fn a_slow_receiver_delays_only_its_own_tenant(mode: Mode) {
    let server = TestServer::start_with(mode, tempfile::tempdir().unwrap(), FAST_DELIVERY).await;
    let (slow, fast) = (
        server.tenant(json!({})).await,
        server.tenant(json!({})).await,
    );
    let slow_admin = server.token(Some(&slow), "root-admin", &["admin"]).await;
    let fast_admin = server.token(Some(&fast), "root-admin", &["admin"]).await;
    let slow_editor = server.token(Some(&slow), "alice", &["editor"]).await;
    let fast_editor = server.token(Some(&fast), "bob", &["editor"]).await;

    let log: Arc<Mutex<SlowLog>> = Arc::default();
    let slow_port = free_port();
    let slow_receiver = slow_receiver(slow_port, log.clone());
    set_webhook(
        &server,
        &slow_admin,
        &format!("http://127.0.0.1:{slow_port}/hook"),
    )
    .await;
    let received: Received = Arc::default();
    let fast_port = free_port();
    let fast_receiver = receiver(fast_port, received.clone());
    set_webhook(
        &server,
        &fast_admin,
        &format!("http://127.0.0.1:{fast_port}/hook"),
    )
    .await;

    // Tenant A has events due, and its receiver is busy with the first.
    for name in ["a.pdf", "b.pdf", "c.pdf"] {
        upload(&server, &slow_editor, name, PDF, json!({})).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.lock().unwrap().started == 0 {
        assert!(Instant::now() < deadline, "tenant A's delivery never began");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    // Tenant B's event arrives while A's first delivery is still under way.
    let file = upload(&server, &fast_editor, "b.pdf", PDF, json!({})).await;
    let sent = Instant::now();
    let arrived = loop {
        let events: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, body)| serde_json::from_slice(body).unwrap())
            .collect();
        if let Some(event) = events.iter().find(|e| e["type"] == "file.uploaded") {
            break event.clone();
        }
        assert!(
            sent.elapsed() < SLOW_RECEIVER * 2,
            "tenant B's event did not arrive within {:?}",
            SLOW_RECEIVER * 2
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    let waited = sent.elapsed();
    let a = {
        let a = log.lock().unwrap();
        (a.started, a.finished)
    };
    assert_eq!(
        a,
        (1, 0),
        "B's event arrived after {waited:?}: A's first delivery must still be under way, and A's next ones wait for it"
    );
    assert!(
        waited < SLOW_RECEIVER / 2,
        "B's event took {waited:?}, A's receiver {SLOW_RECEIVER:?}"
    );
    assert_eq!(arrived["tenant"]["slug"], json!(fast));
    assert_eq!(arrived["data"]["file"]["id"], file["id"]);
    fast_receiver.stop(false).await;
    slow_receiver.stop(false).await;
}

#[actix_web::test]
async fn a_slow_receiver_delays_only_its_own_tenant_production() {
    a_slow_receiver_delays_only_its_own_tenant(Mode::Production).await;
}

#[actix_web::test]
async fn a_slow_receiver_delays_only_its_own_tenant_embedded() {
    a_slow_receiver_delays_only_its_own_tenant(Mode::Embedded).await;
}
