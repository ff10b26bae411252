//! Token refusals seen through the API: `401` problem+json with `WWW-Authenticate`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

async fn refused(server: &TestServer, token: Option<&str>) -> (String, String) {
    let mut request = server.http.get(server.url("/api/v1/files"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"coffer\""),
        "challenge {challenge:?}"
    );
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    (body["code"].as_str().unwrap().to_owned(), challenge)
}

#[actix_web::test]
async fn refused_tokens_are_401_with_a_challenge() {
    let server = TestServer::start(Mode::Production).await;
    let tenant = server.tenant(json!({})).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let valid = server.token(Some(&tenant), "alice", &["editor"]).await;
    assert_eq!(
        server
            .req(Method::GET, "/api/v1/files", &valid)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    assert_eq!(refused(&server, None).await.0, "missing_token");
    assert_eq!(refused(&server, Some("not-a-jwt")).await.0, "invalid_token");
    let base = json!({ "sub": "alice", "tenant": tenant });
    let with = |extra: serde_json::Value| {
        let mut claims = base.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let cases = [
        (
            "expired",
            server
                .mint(
                    with(json!({ "iat": now - 7200, "exp": now - 3600 })),
                    "rs256",
                )
                .await,
            "token_expired",
        ),
        (
            "not yet valid",
            server
                .mint(with(json!({ "nbf": now + 3600 })), "rs256")
                .await,
            "token_expired",
        ),
        (
            "wrong audience",
            server
                .mint(with(json!({ "aud": "someone-else", "azp": "x" })), "rs256")
                .await,
            "invalid_token",
        ),
        (
            "wrong issuer",
            server
                .mint(
                    with(json!({ "iss": "http://127.0.0.1:1/realms/evil" })),
                    "rs256",
                )
                .await,
            "invalid_token",
        ),
        (
            "alg none",
            server.mint(with(json!({})), "none").await,
            "invalid_token",
        ),
        (
            "hs256 with the public key",
            server.mint(with(json!({})), "hs256-public-key").await,
            "invalid_token",
        ),
        (
            "foreign issuer",
            mint_in_realm(&server.http, "foreign", with(json!({})), "rs256").await,
            "invalid_token",
        ),
        (
            "unknown key id",
            mint_with_header(
                &server.http,
                with(json!({})),
                json!({ "kid": "no-such-key" }),
            )
            .await,
            "invalid_token",
        ),
    ];
    for (what, token, code) in cases {
        let (got, challenge) = refused(&server, Some(&token)).await;
        assert_eq!(got, code, "{what}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    }
    // A valid token with its payload changed.
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let forged = base64_url(
        &serde_json::to_vec(
            &json!({ "sub": "root", "tenant": tenant, "realm_access": { "roles": ["admin"] } }),
        )
        .unwrap(),
    );
    parts[1] = forged;
    assert_eq!(
        refused(&server, Some(&parts.join("."))).await.0,
        "invalid_token"
    );
}

#[actix_web::test]
async fn embedded_mode_refuses_missing_and_foreign_tokens() {
    let server = TestServer::start(Mode::Embedded).await;
    assert_eq!(refused(&server, None).await.0, "missing_token");
    assert_eq!(refused(&server, Some("a.b.c")).await.0, "invalid_token");
    // A token of another installation's dev key.
    let other = TestServer::start(Mode::Embedded).await;
    let tenant = other.tenant(json!({})).await;
    let foreign = other.token(Some(&tenant), "alice", &["admin"]).await;
    assert_eq!(refused(&server, Some(&foreign)).await.0, "invalid_token");
}

async fn mint_with_header(
    http: &reqwest::Client,
    claims: serde_json::Value,
    header: serde_json::Value,
) -> String {
    let url = format!(
        "{}/realms/coffer/mint",
        std::env::var("COFFER_TEST_OIDC_ADMIN").unwrap()
    );
    let response: serde_json::Value = http
        .post(url)
        .json(&json!({ "claims": claims, "header": header }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["token"].as_str().unwrap().to_owned()
}

fn base64_url(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
