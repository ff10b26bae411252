//! The web app in a real browser (tests/browser/app.mjs), in both modes:
//! sign in, upload straight to the store (a large file in parts), list,
//! categories and search, download, rename, trash, restore, move; share
//! with a member who then sees the file, and through a link shown once
//! and revoked; metadata set and filtered on; versions (one made current),
//! retention and a legal hold shown; an admin's usage, webhook
//! and audit log; another tenant's member sees none of it. Then the
//! server's side: owners, exact bytes, the objects in the store (SeaweedFS
//! in production mode), the grant, the webhook.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::browser::run_script;
use crate::events::free_port;
use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::lifecycle::objects_of;
use crate::share_links::in_seconds;
use crate::support::*;
use crate::verified_bytes::PART;
use crate::versions::add_version;

in_both_modes!(a_member_works_with_files_in_the_web_app_and_another_tenant_sees_nothing);

/// The app sends files from 16 MiB on in parts (assets/app/upload.js).
const MULTIPART_FROM: usize = 16 * 1024 * 1024;

async fn a_member_works_with_files_in_the_web_app_and_another_tenant_sees_nothing(mode: Mode) {
    // 5 MiB parts, so that the large file goes in four; a webhook on
    // loopback allowed, for the admin page to set one.
    let part = PART.to_string();
    let server = TestServer::start_with(
        mode,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__UPLOADS__MULTIPART_PART_SIZE", part.as_str()),
            ("COFFER__EVENTS__ALLOWED_WEBHOOK_HOSTS", "127.0.0.1"),
        ],
    )
    .await;
    let tenant_a = server.tenant(json!({})).await;
    let tenant_b = server.tenant(json!({})).await;
    let (alice, alice_password) = server.web_user(&tenant_a, "alice", &["editor"]).await;
    let (carol, carol_password) = server.web_user(&tenant_a, "carol", &["viewer"]).await;
    let (dave, dave_password) = server.web_user(&tenant_a, "dave", &["admin"]).await;
    let (bob, bob_password) = server.web_user(&tenant_b, "bob", &["editor"]).await;
    // Where the page's PUTs must go: the store, or, in embedded mode, this
    // server's storage route (there is no other store).
    let store_origin = match mode {
        Mode::Production => {
            let endpoint =
                reqwest::Url::parse(&std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap()).unwrap();
            endpoint.origin().ascii_serialization()
        }
        Mode::Embedded => server.base.clone(),
    };
    // A file with a history, kept: two versions, governance retention and
    // a legal hold (set through the API: the app shows them).
    let alice_token = server.token(Some(&tenant_a), &alice, &["editor"]).await;
    let admin = server.token(Some(&tenant_a), &dave, &["admin"]).await;
    let ledger = upload(
        &server,
        &alice_token,
        "Ledger 2025.bin",
        &[1; 1000],
        json!({ "path": "/records" }),
    )
    .await;
    let ledger_path = format!("/api/v1/files/{}", ledger["id"].as_str().unwrap());
    add_version(&server, &alice_token, &ledger_path, &[2; 2000]).await;
    for (method, path, body, status) in [
        (
            Method::PUT,
            "retention",
            json!({ "mode": "governance", "retain_until": in_seconds(86_400) }),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "legal-holds",
            json!({ "reason": "Audit 2026" }),
            StatusCode::CREATED,
        ),
    ] {
        let response = server
            .req(method, &format!("{ledger_path}/{path}"), &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        ok_json(response, status).await;
    }
    let folder = "/clients/acme";
    let large_size = MULTIPART_FROM + 1000;
    let large_parts = large_size.div_ceil(PART);
    let webhook = format!("http://127.0.0.1:{}/coffer", free_port());
    let user = |prefix: &str, tenant: &str, name: &str, password: &str, role: &str| {
        [
            (format!("{prefix}_TENANT"), tenant.to_owned()),
            (format!("{prefix}_USERNAME"), name.to_owned()),
            (format!("{prefix}_PASSWORD"), password.to_owned()),
            (format!("{prefix}_ROLE"), role.to_owned()),
        ]
    };
    let mut vars: Vec<(String, String)> = vec![
        (
            "COFFER_TEST_CHROMIUM".into(),
            std::env::var("COFFER_TEST_CHROMIUM").unwrap(),
        ),
        (
            "COFFER_TEST_BROWSER_MODULES".into(),
            std::env::var("COFFER_TEST_BROWSER_MODULES").unwrap(),
        ),
        ("APP_URL".into(), server.base.clone()),
        ("STORE_ORIGIN".into(), store_origin),
        ("FOLDER".into(), folder.to_owned()),
        ("FILENAME".into(), "Statement 2026.bin".to_owned()),
        ("RENAMED".into(), "Statement 2026 (final).bin".to_owned()),
        ("LARGE_NAME".into(), "Scanned annexes.bin".to_owned()),
        ("LARGE_SIZE".into(), large_size.to_string()),
        ("LARGE_PARTS".into(), large_parts.to_string()),
        ("WEBHOOK_URL".into(), webhook.clone()),
        ("LEDGER".into(), "Ledger 2025.bin".to_owned()),
    ];
    vars.extend(user("A", &tenant_a, &alice, &alice_password, "editor"));
    vars.extend(user("C", &tenant_a, &carol, &carol_password, "viewer"));
    vars.extend(user("D", &tenant_a, &dave, &dave_password, "admin"));
    vars.extend(user("B", &tenant_b, &bob, &bob_password, "editor"));
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    run_script("app", mode, &vars).await;

    // What the browser did is on the server: the renamed file, verified,
    // in the folder, alice's, with the bytes the page sent; the large one
    // moved below it, in its category; both objects in the store.
    let token = server.token(Some(&tenant_a), &alice, &["editor"]).await;
    let small = only_file(&server, &token, folder).await;
    assert_eq!(small["filename"], "Statement 2026 (final).bin");
    assert_eq!(small["status"], "available");
    assert_eq!(small["owner"], json!(alice));
    assert_eq!(small["metadata"], json!({ "case": "A-1" }));
    let expected: Vec<u8> = (0..300_000_u32).map(|i| ((i * 7) % 251) as u8).collect();
    let large = only_file(&server, &token, &format!("{folder}/archive")).await;
    assert_eq!(large["filename"], "Scanned annexes.bin");
    assert_eq!(large["category"], "scans");
    assert_eq!(large["status"], "available");
    let large_bytes: Vec<u8> = (0..large_size).map(|i| ((i * 13) % 251) as u8).collect();
    let objects = objects_of(&server, tenant_id(&server, &token).await).await;
    for (file, sent) in [(&small, &expected), (&large, &large_bytes)] {
        let id = file["id"].as_str().unwrap();
        assert_eq!(file["size"], sent.len());
        assert_eq!(
            file["checksum_sha256"],
            hex::encode(sha2::Sha256::digest(sent))
        );
        let content = server
            .req(Method::GET, &format!("/api/v1/files/{id}/content"), &token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(content.as_ref() == sent.as_slice(), "the bytes of {id}");
        assert!(
            objects.iter().any(|key| key.contains(id)),
            "the object of {id} is in the store: {objects:?}"
        );
    }

    // The grant the page made: carol may read the file, nothing more.
    let id = small["id"].as_str().unwrap();
    let grants = get_ok(&server, &token, &format!("/api/v1/files/{id}/permissions")).await;
    let subjects: Vec<(&str, &str)> = grants["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["subject"].as_str().unwrap(),
                g["access"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(subjects, [(format!("user:{carol}").as_str(), "read")]);

    // The version alice made current again: the first one's bytes, as a third.
    let ledger = get_ok(&server, &token, &ledger_path).await;
    assert_eq!(ledger["version"], 3);
    assert_eq!(ledger["size"], 1000);

    // The webhook dave set on the admin page.
    let hook = get_ok(&server, &admin, "/api/v1/tenant/webhook").await;
    assert_eq!(hook["url"], json!(webhook));
}

/// The one file directly in `path`.
async fn only_file(server: &TestServer, token: &str, path: &str) -> Value {
    let listed = get_ok(
        server,
        token,
        &format!("/api/v1/files?path={}", path.replace('/', "%2F")),
    )
    .await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    items[0].clone()
}

/// A GET that must answer 200, its JSON.
async fn get_ok(server: &TestServer, token: &str, path: &str) -> Value {
    ok_json(
        server.req(Method::GET, path, token).send().await.unwrap(),
        StatusCode::OK,
    )
    .await
}
