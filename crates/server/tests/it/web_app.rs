//! The web app in a real browser (tests/browser/app.mjs), in both modes:
//! sign in, upload straight to the store, list, download, rename, trash,
//! restore; another tenant's member sees none of it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::run_script;
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(a_member_works_with_files_in_the_web_app_and_another_tenant_sees_nothing);

async fn a_member_works_with_files_in_the_web_app_and_another_tenant_sees_nothing(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant_a = server.tenant(json!({})).await;
    let tenant_b = server.tenant(json!({})).await;
    let (alice, alice_password) = server.web_user(&tenant_a, "alice", &["editor"]).await;
    let (bob, bob_password) = server.web_user(&tenant_b, "bob", &["editor"]).await;
    // Where the page's PUT must go: the store, or, in embedded mode, this
    // server's storage route (there is no other store).
    let store_origin = match mode {
        Mode::Production => {
            let endpoint =
                reqwest::Url::parse(&std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap()).unwrap();
            endpoint.origin().ascii_serialization()
        }
        Mode::Embedded => server.base.clone(),
    };
    let folder = "/clients/acme";
    run_script(
        "app",
        mode,
        &[
            (
                "COFFER_TEST_CHROMIUM",
                std::env::var("COFFER_TEST_CHROMIUM").unwrap(),
            ),
            (
                "COFFER_TEST_BROWSER_MODULES",
                std::env::var("COFFER_TEST_BROWSER_MODULES").unwrap(),
            ),
            ("APP_URL", server.base.clone()),
            ("STORE_ORIGIN", store_origin),
            ("FOLDER", folder.to_owned()),
            ("FILENAME", "Statement 2026.bin".to_owned()),
            ("RENAMED", "Statement 2026 (final).bin".to_owned()),
            ("A_TENANT", tenant_a.clone()),
            ("A_USERNAME", alice.clone()),
            ("A_PASSWORD", alice_password),
            ("B_TENANT", tenant_b.clone()),
            ("B_USERNAME", bob),
            ("B_PASSWORD", bob_password),
        ],
    )
    .await;

    // What the browser did is on the server: the renamed file, verified,
    // in the folder, alice's, with the bytes the page sent.
    let token = server.token(Some(&tenant_a), &alice, &["editor"]).await;
    let listed: Value = server
        .req(Method::GET, "/api/v1/files", &token)
        .query(&[("path", folder)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    let file = &items[0];
    assert_eq!(file["filename"], "Statement 2026 (final).bin");
    assert_eq!(file["status"], "available");
    assert_eq!(file["owner"], json!(alice));
    assert_eq!(file["size"], 300_000);
    let expected: Vec<u8> = (0..300_000_u32).map(|i| ((i * 7) % 251) as u8).collect();
    let content = server
        .req(
            Method::GET,
            &format!("/api/v1/files/{}/content", file["id"].as_str().unwrap()),
            &token,
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(content.as_ref() == expected.as_slice());
}
