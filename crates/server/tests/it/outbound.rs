//! A tenant admin cannot point the webhook at what only Coffer can reach:
//! internal targets are refused at registration (`422
//! webhook_target_refused`) unless the operator's allowlist names them, and
//! again at delivery on the address actually connected to.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_domain::outbound::OutboundPolicy;
use coffer_ports::{WebhookRequest, WebhookSender};
use coffer_server::webhooks::{HttpWebhookSender, Lookup};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::events::{Received, free_port, receiver, set_webhook};
use crate::support::*;

async fn put_webhook(server: &TestServer, admin: &str, url: &str) -> reqwest::Response {
    server
        .req(Method::PUT, "/api/v1/tenant/webhook", admin)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap()
}

async fn refused(server: &TestServer, admin: &str, url: &str) {
    let body = problem(
        put_webhook(server, admin, url).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webhook_target_refused",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("internal"),
        "{url}: {body}"
    );
}

#[actix_web::test]
async fn internal_webhook_targets_are_refused_at_registration() {
    let server = TestServer::start(Mode::Embedded).await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "root-admin", &["admin"]).await;
    let own_port = server.base.rsplit(':').next().unwrap().to_owned();
    for url in [
        "http://127.0.0.1/hook".to_owned(),
        "http://127.0.0.1:9/hook".to_owned(),
        format!("http://127.0.0.1:{own_port}/api/v1/files"),
        format!("{}/hook", server.base),
        "http://10.0.0.1/".to_owned(),
        "http://10.255.1.2:8080/".to_owned(),
        "http://172.16.0.1/".to_owned(),
        "http://192.168.1.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://100.64.0.1/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "http://224.0.0.1/".to_owned(),
        "http://255.255.255.255/".to_owned(),
        "http://[::1]/".to_owned(),
        "http://[::]/".to_owned(),
        "http://[fe80::1]/".to_owned(),
        "http://[fc00::1]/".to_owned(),
        "http://[fd12:3456::1]/".to_owned(),
        "http://[::ffff:127.0.0.1]/".to_owned(),
        "http://[::ffff:a9fe:a9fe]/".to_owned(),
        "http://0x7f000001/".to_owned(),
        "http://2130706433/".to_owned(),
        "http://0177.0.0.1/".to_owned(),
        "http://127.1/".to_owned(),
        "https://localhost/hook".to_owned(),
        "https://LOCALHOST./hook".to_owned(),
        "https://api.localhost/hook".to_owned(),
        "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
        "http://metadata/".to_owned(),
    ] {
        refused(&server, &admin, &url).await;
    }
    // Nothing was set by any of them.
    let none = server
        .req(Method::GET, "/api/v1/tenant/webhook", &admin)
        .send()
        .await
        .unwrap();
    problem(none, StatusCode::NOT_FOUND, "not_found").await;
    // A public address is fine.
    set_webhook(&server, &admin, "https://93.184.215.14/hook").await;
}

#[actix_web::test]
async fn the_allowlist_opens_exactly_what_it_names() {
    let server = TestServer::start_with(
        Mode::Embedded,
        tempfile::tempdir().unwrap(),
        &[(
            "COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS",
            "127.0.0.1,10.1.2.0/24,[::1]",
        )],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "root-admin", &["admin"]).await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://0x7f000001:9000/hook",
        "http://10.1.2.0/",
        "http://10.1.2.77/",
        "http://10.1.2.255/",
        "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
    ] {
        set_webhook(&server, &admin, url).await;
    }
    for url in [
        "http://127.0.0.2/",
        "http://10.1.3.1/",
        "http://10.1.1.255/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[::2]/",
        // A name is allowed only by its name, not by its addresses.
        "http://localhost:9000/",
    ] {
        refused(&server, &admin, url).await;
    }
}

#[actix_web::test]
async fn an_invalid_allowlist_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let config = coffer_server::config::Config::load_from(
        None,
        [
            (
                "COFFER__DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
            (
                "COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS".to_owned(),
                "10.0.0.0/33".to_owned(),
            ),
        ],
    )
    .unwrap();
    let Err(failed) = coffer_server::wiring::wire(&config).await else {
        panic!("a server with an invalid allowlist was wired");
    };
    assert!(
        failed.to_string().contains("allowed_webhook_hosts"),
        "{failed}"
    );
}

/// Resolves every name in `table` to its address, any other name to none.
fn table(entries: &[(&str, SocketAddr)]) -> Lookup {
    let entries: Vec<(String, SocketAddr)> = entries
        .iter()
        .map(|(name, addr)| ((*name).to_owned(), *addr))
        .collect();
    Arc::new(move |name: String| {
        let found: Vec<SocketAddr> = entries
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, a)| SocketAddr::new(a.ip(), 0))
            .collect();
        Box::pin(async move { Ok(found) })
    })
}

fn delivery(url: String) -> WebhookRequest {
    WebhookRequest {
        url,
        body: b"{}".to_vec(),
        headers: Vec::new(),
    }
}

/// DNS rebinding: a name that was public when the webhook was registered
/// and resolves to loopback at delivery reaches nothing; nor does an IP
/// literal, checked before the request is made. The same deliveries arrive
/// once the allowlist names the target (the positive control).
#[actix_web::test]
async fn delivery_refuses_internal_addresses_it_would_connect_to() {
    let port = free_port();
    let received: Received = Arc::new(Mutex::new(Vec::new()));
    let hook = receiver(port, received.clone());
    let loopback: SocketAddr = ([127, 0, 0, 1], port).into();
    let lookup = table(&[("rebound.example", loopback), ("hooks.example", loopback)]);
    let guarded = |policy: OutboundPolicy| {
        HttpWebhookSender::with_lookup(Duration::from_secs(5), policy, lookup.clone()).unwrap()
    };

    let sender = guarded(OutboundPolicy::default());
    for url in [
        format!("http://rebound.example:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://unknown.example:{port}/hook"),
    ] {
        let failed = sender.send(delivery(url.clone())).await.unwrap_err();
        assert!(
            failed.contains("internal") || failed.contains("no address"),
            "{url}: {failed}"
        );
    }
    // The registration-time view of the same names.
    assert_eq!(
        sender.resolve("rebound.example").await.unwrap(),
        vec![loopback.ip()]
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "a refused delivery reached the loopback receiver"
    );

    let by_name = guarded(OutboundPolicy::parse(&["rebound.example"]).unwrap());
    by_name
        .send(delivery(format!("http://rebound.example:{port}/hook")))
        .await
        .unwrap();
    assert!(
        by_name
            .send(delivery(format!("http://hooks.example:{port}/hook")))
            .await
            .is_err()
    );
    let by_address = guarded(OutboundPolicy::parse(&["127.0.0.1"]).unwrap());
    by_address
        .send(delivery(format!("http://127.0.0.1:{port}/hook")))
        .await
        .unwrap();
    by_address
        .send(delivery(format!("http://hooks.example:{port}/hook")))
        .await
        .unwrap();
    assert_eq!(received.lock().unwrap().len(), 3);
    hook.stop(true).await;
}
