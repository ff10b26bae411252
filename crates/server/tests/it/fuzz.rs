//! Schema fuzzing: schemathesis (pinned in scripts/schemathesis/, installed
//! by scripts/services/schemathesis.sh) drives every operation of the
//! server's own OpenAPI document as an editor, a tenant admin and a platform
//! admin, with every check on — no server error, every status, content type,
//! header and body as the document declares, requests the document calls
//! valid accepted and invalid ones refused. Each run has a bounded budget
//! (`COFFER_FUZZ_EXAMPLES` cases per operation, default 12).

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::json;

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
        .args(["--workers", "2", "--request-timeout", "30"])
        .args(["--generation-database", "none"])
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
