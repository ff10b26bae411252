//! Rate limits: a tenant and each of its users (plan limits, overridden per
//! tenant here), and each client address on the public routes, get `429
//! rate_limited` with `Retry-After` past their limit, recover after it, and
//! leave everyone else alone.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::json;

use crate::support::*;

/// A `429 rate_limited` whose detail names `scope`; returns its
/// `Retry-After`.
async fn limited(response: Response, scope: &str) -> Duration {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(scope), "{detail}");
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    Duration::from_secs(retry_after)
}

async fn list(server: &TestServer, token: &str) -> Response {
    server
        .req(Method::GET, "/api/v1/files", token)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn tenants_and_users_past_their_limits_are_429_and_recover() {
    let server = TestServer::start(Mode::Embedded).await;
    // A token every 6 s per user, every 4 s for the tenant: no request of
    // the bursts below is refilled in time.
    let tenant = server
        .tenant(json!({ "requests_per_minute": 15, "user_requests_per_minute": 10 }))
        .await;
    let other = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let bob = server.token(Some(&tenant), "bob", &["editor"]).await;
    let carol = server.token(Some(&other), "carol", &["editor"]).await;

    // Alice's own limit: ten, then 429.
    for n in 0..10 {
        assert_eq!(list(&server, &alice).await.status(), StatusCode::OK, "#{n}");
    }
    let wait = limited(list(&server, &alice).await, "user").await;
    assert!(wait <= Duration::from_secs(6), "{wait:?}");
    // Bob is another user: he may, until the tenant's 15 are spent.
    for n in 0..5 {
        assert_eq!(list(&server, &bob).await.status(), StatusCode::OK, "#{n}");
    }
    limited(list(&server, &bob).await, "tenant").await;
    // Another tenant is unaffected.
    for _ in 0..12 {
        assert_eq!(list(&server, &carol).await.status(), StatusCode::OK);
    }

    // After the wait it names, Alice's requests pass again.
    actix_web::rt::time::sleep(wait).await;
    assert_eq!(list(&server, &alice).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn public_routes_are_limited_per_client_address() {
    let server = TestServer::start_with(
        Mode::Embedded,
        tempfile::tempdir().unwrap(),
        &[("COFFER__RATE_LIMITS__CLIENT_REQUESTS_PER_MINUTE", "10")],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let anonymous = |client: &Client, path: &str| client.get(server.url(path)).send();

    // Token-less errors and the storage route share the address's ten.
    for path in ["/api/v1/files", "/api/v1/nowhere", "/storage/coffer/x"] {
        for _ in 0..3 {
            let response = anonymous(&server.http, path).await.unwrap();
            assert!(response.status().is_client_error(), "{path}");
            assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        }
    }
    problem(
        server
            .http
            .get(server.url("/api/v1/files"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let mut wait = Duration::ZERO;
    for path in ["/api/v1/files", "/api/v1/nowhere", "/storage/coffer/x"] {
        wait = limited(
            anonymous(&server.http, path).await.unwrap(),
            "client address",
        )
        .await;
    }
    // A caller with a valid token is limited as a user, not by address.
    assert_eq!(list(&server, &alice).await.status(), StatusCode::OK);
    // Another address is unaffected.
    let elsewhere = Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let response = anonymous(&elsewhere, "/api/v1/files").await.unwrap();
    problem(response, StatusCode::UNAUTHORIZED, "missing_token").await;

    // After the wait, the address is served again.
    actix_web::rt::time::sleep(wait).await;
    let response = anonymous(&server.http, "/api/v1/files").await.unwrap();
    problem(response, StatusCode::UNAUTHORIZED, "missing_token").await;
}
