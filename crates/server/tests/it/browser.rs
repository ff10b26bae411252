//! Coffer's pages in a real browser: Debian's `chromium` driven by
//! `playwright-core` (installed by scripts/services/browser.sh), against a
//! real server in both modes. Each scenario is a script in
//! `tests/browser/` that this module runs with `node`, handing it what it
//! needs in its environment; screenshots land in
//! `target/tmp/screenshots/<scenario>/` (test output, never committed).

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::lifecycle::objects_of;
use crate::share_links::{create_link, in_seconds, links_of};
use crate::support::*;
use crate::upload_requests::{close, create_request, large_pdf};
use crate::verified_bytes::{PART, small_parts_server};

in_both_modes!(
    a_share_link_works_in_a_browser_without_sign_in,
    an_upload_request_works_in_a_browser_without_sign_in
);

/// The browser's executable and modules, as scripts/services/browser.sh
/// installed them.
fn browser_vars() -> [(&'static str, String); 2] {
    [
        (
            "COFFER_TEST_CHROMIUM",
            std::env::var("COFFER_TEST_CHROMIUM").unwrap(),
        ),
        (
            "COFFER_TEST_BROWSER_MODULES",
            std::env::var("COFFER_TEST_BROWSER_MODULES").unwrap(),
        ),
    ]
}

/// Runs `tests/browser/{script}.mjs` with `vars`; fails the test with the
/// script's output unless it exits 0.
pub(crate) async fn run_script(script: &str, mode: Mode, vars: &[(&str, String)]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(format!("{script}.mjs"));
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("screenshots")
        .join(format!("{script}-{mode:?}").to_lowercase());
    std::fs::create_dir_all(&shots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(&path)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("SCREENSHOTS", &shots)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{script} failed ({:?}):\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn a_share_link_works_in_a_browser_without_sign_in(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let mut bytes = PDF.to_vec();
    bytes.extend((0..50_000_u32).map(|i| (i % 251) as u8));
    let filename = "Engagement letter (signed).pdf";
    let file = upload(&server, &alice, filename, &bytes, json!({})).await;
    let id = file["id"].as_str().unwrap();

    let guarded = create_link(
        &server,
        &alice,
        id,
        json!({ "expires_at": in_seconds(3600), "password": "correct horse" }),
    )
    .await;
    let revoked = create_link(
        &server,
        &alice,
        id,
        json!({ "expires_at": in_seconds(3600) }),
    )
    .await;
    let revoke = server
        .req(
            Method::DELETE,
            &format!(
                "/api/v1/files/{id}/links/{}",
                revoked["id"].as_str().unwrap()
            ),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let expired = create_link(&server, &alice, id, json!({ "expires_at": in_seconds(1) })).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    let url = |link: &Value| link["url"].as_str().unwrap().to_owned();
    run_script(
        "share_link",
        mode,
        &[
            browser_vars()[0].clone(),
            browser_vars()[1].clone(),
            ("LINK_URL", url(&guarded)),
            ("REVOKED_URL", url(&revoked)),
            ("EXPIRED_URL", url(&expired)),
            ("PASSWORD", "correct horse".to_owned()),
            ("FILENAME", filename.to_owned()),
            ("SHA256", hex::encode(sha2::Sha256::digest(&bytes))),
        ],
    )
    .await;

    // The browser's download went through the link.
    let links = links_of(&server, &alice, id).await;
    assert_eq!(links[0]["id"], guarded["id"]);
    assert_eq!(links[0]["downloads"], 1);
}

async fn an_upload_request_works_in_a_browser_without_sign_in(mode: Mode) {
    // 5 MiB parts, so that the large file below goes in two.
    let server = small_parts_server(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let terms = |message: &str| {
        json!({
            "path": "/matters/2026-114",
            "expires_at": in_seconds(3600),
            "max_files": 3,
            "max_size": 10_000_000,
            "allowed_types": ["application/pdf"],
            "message": message,
        })
    };
    let request = create_request(&server, &alice, terms("Please send the signed contract.")).await;
    let closed = create_request(&server, &alice, terms("Closed already.")).await;
    let closing = close(&server, &alice, closed["id"].as_str().unwrap()).await;
    assert_eq!(closing.status(), StatusCode::OK);

    let mut bytes = PDF.to_vec();
    bytes.extend((0..50_000_u32).map(|i| (i % 251) as u8));
    let filename = "Contract (signed).pdf";
    let large_name = "Scanned annexes.pdf";
    let large_size = PART + 1_000;
    let large = large_pdf(large_size);
    let store_origin = match mode {
        Mode::Embedded => server.base.clone(),
        Mode::Production => reqwest::Url::parse(&std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap())
            .unwrap()
            .origin()
            .ascii_serialization(),
    };
    let url = |request: &Value| request["url"].as_str().unwrap().to_owned();
    let [chromium, modules] = browser_vars();
    run_script(
        "upload_request",
        mode,
        &[
            chromium,
            modules,
            ("REQUEST_URL", url(&request)),
            ("CLOSED_URL", url(&closed)),
            ("FILENAME", filename.to_owned()),
            ("CONTENT_HEX", hex::encode(&bytes)),
            ("STORE_ORIGIN", store_origin),
            ("LARGE_NAME", large_name.to_owned()),
            ("LARGE_SIZE", large_size.to_string()),
        ],
    )
    .await;

    // The file is alice's, verified, in the folder, with exactly the bytes
    // the browser sent, and its object is in the store (SeaweedFS in S3 mode).
    let listed = ok_json(
        server
            .req(Method::GET, "/api/v1/files?path=/matters/2026-114", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    let objects = objects_of(&server, tenant_id(&server, &alice).await).await;
    for (name, sent) in [(filename, &bytes), (large_name, &large)] {
        let file = items.iter().find(|f| f["filename"] == name).unwrap();
        assert_eq!(file["owner"], "alice");
        assert_eq!(file["status"], "available");
        assert_eq!(
            file["checksum_sha256"],
            hex::encode(sha2::Sha256::digest(sent))
        );
        let id = file["id"].as_str().unwrap();
        let content = server
            .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
            .send()
            .await
            .unwrap();
        assert_eq!(content.bytes().await.unwrap().as_ref(), sent.as_slice());
        assert!(
            objects.iter().any(|key| key.contains(id)),
            "the object is in the store: {objects:?}"
        );
    }
}
