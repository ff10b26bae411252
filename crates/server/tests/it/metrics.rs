//! Issue 21, finding 2: `/metrics` labels are bounded. A path no route
//! matches is `endpoint="unmatched"` and a method outside RFC 9110's set is
//! `method="OTHER"`, however many distinct ones arrive; routes keep their
//! pattern.

use reqwest::{Method, StatusCode};

use crate::support::{Mode, TestServer};

#[actix_web::test]
async fn unmatched_paths_and_unknown_methods_fold_into_fixed_labels() {
    let server = TestServer::start(Mode::Embedded).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let long = "x".repeat(4096);
    for i in 0..200 {
        // Inside the API's scope too, where a prefix matched.
        let scope = if i % 2 == 0 { "" } else { "/api/v1" };
        let path = format!("{scope}/probe-{tag}-{i}/{long}");
        let response = server.http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    for (i, method) in ["PROBE", "BREW", "PROPFIND", "X-TAG"].iter().enumerate() {
        let method = Method::from_bytes(format!("{method}{i}{}", &tag[..8]).as_bytes()).unwrap();
        for path in ["/api/v1/files", &format!("/probe-{tag}-method")] {
            let response = server
                .http
                .request(method.clone(), server.url(path))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{method} {path}");
        }
    }
    // A known route, for its label.
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());

    let metrics = server.prometheus().await;
    assert!(metrics.len() < 200_000, "{} bytes", metrics.len());
    assert!(!metrics.contains(&tag), "{metrics}");
    assert!(!metrics.contains("PROBE"), "{metrics}");
    assert!(
        metrics.contains(r#"endpoint="unmatched",method="GET",status="404""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"method="OTHER""#), "{metrics}");
    assert!(metrics.contains(r#"endpoint="/healthz""#), "{metrics}");
}

/// `GET /metrics` on `base`.
async fn scrape(server: &TestServer, base: &str) -> reqwest::Response {
    server
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
}

/// Issue 21: metrics are served on a listener of their own, which serves
/// nothing else, and are off the public listener unless configured there;
/// the operator's counters and gauges are in them.
#[actix_web::test]
async fn metrics_have_their_own_listener_and_are_off_the_public_one() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[("COFFER__EVENTS__DISPATCH_INTERVAL_MS", "50")],
    )
    .await;
    let metrics = server.metrics_base.clone().unwrap();
    assert_ne!(metrics, server.base);

    // Not on the public listener: an unknown route there.
    let public = scrape(&server, &server.base).await;
    crate::support::problem(public, StatusCode::NOT_FOUND, "route_not_found").await;
    // The metrics listener serves nothing else.
    for path in ["/healthz", "/api/v1/files", "/metrics/x"] {
        let response = server
            .http
            .get(format!("{metrics}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Some traffic: a request, store calls (the upload), job rounds.
    let tenant = server.tenant(serde_json::json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    crate::support::upload(
        &server,
        &alice,
        "a.pdf",
        crate::support::PDF,
        serde_json::json!({}),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let text = server.prometheus().await;
        if text.contains(r#"coffer_job_runs_total{job="dispatch",outcome="ok"}"#)
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for expected in [
        r#"coffer_http_requests_total{endpoint="/api/v1/files""#,
        r#"coffer_job_runs_total{job="dispatch",outcome="ok"}"#,
        r#"coffer_job_runs_total{job="onboarding",outcome="ok"}"#,
        r#"coffer_store_call_duration_seconds_count{call="presign_put",outcome="ok"}"#,
        r#"coffer_store_call_duration_seconds_count{call="head",outcome="ok"}"#,
        r#"coffer_db_pool_connections{state="idle"}"#,
        r#"coffer_db_pool_connections{state="in_use"}"#,
        "coffer_db_pool_max_connections",
        "coffer_webhook_deliveries_total",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // Scrapes are not requests of the API.
    assert!(!text.contains(r#"endpoint="/metrics""#), "{text}");
}

#[actix_web::test]
async fn metrics_can_be_served_on_the_public_listener_too() {
    let server = TestServer::start_with(
        Mode::Embedded,
        tempfile::tempdir().unwrap(),
        &[("COFFER__METRICS__PUBLIC", "true")],
    )
    .await;
    let public = scrape(&server, &server.base).await;
    assert_eq!(public.status(), StatusCode::OK);
    let text = public.text().await.unwrap();
    assert!(
        text.contains("coffer_job_runs_total") || text.contains("coffer_uploads_started_total"),
        "{text}"
    );
    // The embedded mode has no PostgreSQL pool.
    assert!(!text.contains("coffer_db_pool_connections"), "{text}");
}

/// The value of the sample `name{labels}` in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn the_outbox_gauges_count_what_awaits_delivery_and_what_died() {
    // One attempt per event: a refused delivery is dead at once.
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__EVENTS__DISPATCH_INTERVAL_MS", "100"),
            ("COFFER__EVENTS__MAX_ATTEMPTS", "1"),
            ("COFFER__EVENTS__SETTLE_MS", "100"),
            ("COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS", "127.0.0.1"),
        ],
    )
    .await;
    let tenant = server.tenant(serde_json::json!({})).await;
    let admin = server.token(Some(&tenant), "ada", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    // Nothing listens there: every delivery is refused.
    let closed = crate::events::free_port();
    crate::events::set_webhook(&server, &admin, &format!("http://127.0.0.1:{closed}/hook")).await;
    for name in ["a.pdf", "b.pdf"] {
        crate::support::upload(
            &server,
            &alice,
            name,
            crate::support::PDF,
            serde_json::json!({}),
        )
        .await;
    }
    // Both uploads' events die; none is left awaiting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = server.prometheus().await;
        let dead = sample(&text, r#"coffer_outbox_events{state="dead"}"#);
        let awaiting = sample(&text, r#"coffer_outbox_events{state="awaiting"}"#);
        if dead >= Some(2.0) && awaiting == Some(0.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dead {dead:?}, awaiting {awaiting:?} in:\n{text}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
