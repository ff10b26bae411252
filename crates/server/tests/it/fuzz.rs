//! Schema fuzzing: schemathesis (pinned in scripts/schemathesis/, installed
//! by scripts/services/schemathesis.sh) drives every operation of the
//! server's own OpenAPI document as an editor, a tenant admin and a platform
//! admin, with every check on — no server error, every status, content type,
//! header and body as the document declares, requests the document calls
//! valid accepted and invalid ones refused. Each run has a bounded budget
//! (`COFFER_FUZZ_EXAMPLES` cases per operation, default 12).

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::journey::in_both_modes;

use crate::support::*;

/// Rate limits off for the fuzzer's thousands of requests: the limits have
/// tests of their own (`rate_limits.rs`).
const UNLIMITED: &[(&str, &str)] = &[("COFFER__RATE_LIMITS__CLIENT_REQUESTS_PER_MINUTE", "0")];

fn schemathesis() -> String {
    std::env::var("COFFER_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!("COFFER_TEST_SCHEMATHESIS is not set: run the tests through scripts/test.sh")
    })
}

fn config_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/schemathesis/schemathesis.toml")
}

/// Fuzz the document as `token`'s holder; panics with schemathesis's report
/// when any check failed.
async fn fuzz(server: &TestServer, who: &str, token: &str) {
    let examples = std::env::var("COFFER_FUZZ_EXAMPLES").unwrap_or_else(|_| "12".to_owned());
    let seed = std::env::var("COFFER_FUZZ_SEED").unwrap_or_else(|_| "2026".to_owned());
    // Schemathesis keeps a crash cache in its working directory.
    let scratch = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(schemathesis())
        .current_dir(scratch.path())
        .arg("--config-file")
        .arg(config_file())
        .arg("--no-color")
        .arg("run")
        .arg(server.url("/api/v1/openapi.json"))
        .args(["--url", &server.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: hypothesis's lambda-source cache is not thread-safe
        // ("AST constructor recursion depth mismatch" with two).
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none"])
        // Every text with U+0000 is refused (no PostgreSQL text holds it),
        // which the document cannot state for every string (tested below
        // and in json_body.rs instead).
        .args(["--generation-allow-x00", "false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis as {who} ({:?}) found failures:\n{report}\n{}",
        server.mode,
        String::from_utf8_lossy(&output.stderr)
    );
    // A run that tested nothing would pass too.
    assert!(report.contains("passed"), "{report}");
}

async fn fuzz_every_role(mode: Mode) {
    let server = TestServer::start_with(mode, tempfile::tempdir().unwrap(), UNLIMITED).await;
    let unlimited =
        json!({ "requests_per_minute": 1_000_000_000, "user_requests_per_minute": 1_000_000_000 });
    let editors = server.tenant(unlimited.clone()).await;
    let admins = server.tenant(unlimited).await;
    let editor = server
        .token(Some(&editors), "fuzz-editor", &["editor"])
        .await;
    let admin = server.token(Some(&admins), "fuzz-admin", &["admin"]).await;
    let platform = server.platform_admin().await;
    fuzz(&server, "editor", &editor).await;
    fuzz(&server, "tenant admin", &admin).await;
    fuzz(&server, "platform admin", &platform).await;
}

#[actix_web::test]
async fn the_embedded_server_matches_its_document_under_fuzzing() {
    fuzz_every_role(Mode::Embedded).await;
}

#[actix_web::test]
async fn the_production_server_matches_its_document_under_fuzzing() {
    fuzz_every_role(Mode::Production).await;
}

in_both_modes!(what_the_fuzzer_found_is_a_clear_4xx);

/// Inputs schema fuzzing once answered with `500` (or a bare `404`/`405`).
async fn what_the_fuzzer_found_is_a_clear_4xx(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "ada", &["admin"]).await;
    // A file, so that a hold on the root has something to hold.
    let form = reqwest::multipart::Form::new()
        .text("filename", "a.txt")
        .part("file", reqwest::multipart::Part::bytes(b"hello".to_vec()));
    let uploaded = server
        .req(Method::POST, "/api/v1/files", &admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let file = ok_json(uploaded, StatusCode::CREATED).await;

    // U+0000, which no PostgreSQL text holds, in a body, a key, metadata and a query.
    for (path, body) in [
        (
            "/api/v1/legal-holds",
            json!({ "path": "/", "reason": "\u{0}" }),
        ),
        (
            "/api/v1/files",
            json!({ "filename": "b.txt", "size": 1, "metadata": { "k\u{0}": 1 } }),
        ),
    ] {
        let response = server
            .req(Method::POST, path, &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    }
    let response = server
        .req(Method::GET, "/api/v1/files?q=a%00b", &admin)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST, "malformed_query").await;

    // Metadata nested past what a JSON reader takes back once an audit
    // record wraps it: refused, and the audit log stays readable.
    let deep = (0..40).fold(json!(1), |inner, _| json!({ "a": inner }));
    let response = server
        .req(Method::GET, "/api/v1/files", &admin)
        .query(&[("metadata", deep.to_string())])
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
    let response = server
        .req(Method::POST, "/api/v1/files", &admin)
        .json(&json!({ "filename": "deep.txt", "size": 1, "metadata": deep }))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    // The largest float, which PostgreSQL prints back as 309 digits: read
    // back as the same number, in a filter's audit record and in metadata.
    let largest = json!({ "max": f64::MAX, "tiny": -7.44490277927585e-88 });
    let response = server
        .req(Method::GET, "/api/v1/files", &admin)
        .query(&[("metadata", largest.to_string())])
        .send()
        .await
        .unwrap();
    ok_json(response, StatusCode::OK).await;
    let created = server
        .req(Method::POST, "/api/v1/files", &admin)
        .json(&json!({ "filename": "floats.txt", "size": 1, "metadata": largest }))
        .send()
        .await
        .unwrap();
    let created = ok_json(created, StatusCode::CREATED).await;
    let id = created["file"]["id"].as_str().unwrap();
    let read = server
        .req(Method::GET, &format!("/api/v1/files/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(read, StatusCode::OK).await["metadata"], largest);
    let audit = server
        .req(Method::GET, "/api/v1/audit", &admin)
        .send()
        .await
        .unwrap();
    ok_json(audit, StatusCode::OK).await;

    // Instants beyond the years every store holds mean its bounds.
    let response = server
        .req(
            Method::GET,
            "/api/v1/audit?until=7431-03-27T03%3A10%3A42%2B19%3A57",
            &admin,
        )
        .send()
        .await
        .unwrap();
    ok_json(response, StatusCode::OK).await;
    let grant = server
        .req(
            Method::POST,
            &format!("/api/v1/files/{}/permissions", file["id"].as_str().unwrap()),
            &admin,
        )
        .json(&json!({ "subject": "user:bob", "access": "read", "expires_at": "9999-12-31T23:59:59Z" }))
        .send()
        .await
        .unwrap();
    let grant = ok_json(grant, StatusCode::CREATED).await;
    assert_eq!(grant["expires_at"], "2199-12-31T23:59:59Z", "{grant}");
    // A field after the `file` part would go unread: refused, nothing stored.
    let late = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"late".to_vec()).file_name("late.txt"),
        )
        .text("content_type", "");
    let response = server
        .req(Method::POST, "/api/v1/files", &admin)
        .multipart(late)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let listed = server
        .req(Method::GET, "/api/v1/files?q=late", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(listed, StatusCode::OK).await["items"], json!([]));
    // Overrides out of their settings' ranges (a retention of 479 001 601
    // days once overflowed the purge date and dropped the connection).
    let platform = server.platform_admin().await;
    let id = tenant_view(&server, &admin).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = server
        .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), &platform)
        .json(
            &json!({ "status": "cancelled", "limit_overrides": { "retention_days": 479_001_601 } }),
        )
        .send()
        .await
        .unwrap();
    problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // A cursor past what a store holds, and a limit of 0 on every listing.
    for path in [
        "/api/v1/events?after=-9284400558311639405.f31aae84e616984519817f1506900504",
        "/api/v1/audit?cursor=9284400558311639405.f31aae84e616984519817f1506900504",
    ] {
        let response = server.req(Method::GET, path, &admin).send().await.unwrap();
        problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    for path in [
        "/api/v1/audit",
        "/api/v1/events",
        "/api/v1/legal-holds",
        "/api/v1/files",
    ] {
        let response = server
            .req(Method::GET, &format!("{path}?limit=0"), &admin)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit").await;
    }
    // `2009.0` is the integer 2009, as the document's JSON Schema reads it.
    let initiated = server
        .req(Method::POST, "/api/v1/files", &admin)
        .json(&json!({ "filename": "c.txt", "size": 5.0 }))
        .send()
        .await
        .unwrap();
    let initiated = ok_json(initiated, StatusCode::CREATED).await;
    assert_eq!(initiated["file"]["size"], 5);

    // A known path with a method it does not have.
    let response = server
        .req(Method::TRACE, "/api/v1/events", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    // An unsigned billing event, billing configured or not.
    let response = server
        .http
        .post(server.url("/webhooks/billing"))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
}
