//! Share links (docs/sharing.md), in both modes, against a real server
//! and store: made through the API, used through their public page by a
//! client with no token at all, dead once used up, revoked, expired, or
//! while their file is trashed or their tenant suspended; passwords checked
//! server-side and paused after five wrong ones; every use in the tenant's
//! audit log with the link as actor; another tenant reaches none of it.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, REFERRER_POLICY, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::audit_pages;
use crate::events::polled;
use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::lifecycle::set_status;
use crate::support::*;

in_both_modes!(
    a_link_downloads_for_anyone_until_it_is_used_up,
    a_password_guards_a_link_and_wrong_ones_pause_it,
    revoked_expired_trashed_and_suspended_links_open_nothing,
    links_are_their_tenants_own_and_bad_terms_are_refused,
);

pub(crate) fn in_seconds(secs: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&Rfc3339)
        .unwrap()
}

pub(crate) async fn create_link(
    server: &TestServer,
    token: &str,
    file: &str,
    body: Value,
) -> Value {
    ok_json(
        server
            .req(Method::POST, &format!("/api/v1/files/{file}/links"), token)
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await
}

pub(crate) async fn links_of(server: &TestServer, token: &str, file: &str) -> Vec<Value> {
    ok_json(
        server
            .req(Method::GET, &format!("/api/v1/files/{file}/links"), token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The page's download form posted with `password`, with no token.
async fn post_download(
    server: &TestServer,
    url: &str,
    password: Option<&str>,
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = password.map(|p| vec![("password", p)]).unwrap_or_default();
    server.http.post(url).form(&form).send().await.unwrap()
}

/// Download through the link: `303` to the store, whose URL gives the bytes
/// to a client with no token.
async fn download(server: &TestServer, url: &str, password: Option<&str>) -> Vec<u8> {
    let response = post_download(server, url, password).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        !location.contains("/s/"),
        "the store's URL, not the page: {location}"
    );
    let bytes = server.http.get(&location).send().await.unwrap();
    assert_eq!(bytes.status(), StatusCode::OK);
    bytes.bytes().await.unwrap().to_vec()
}

/// The link's token: the last segment of its URL.
fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

async fn a_link_downloads_for_anyone_until_it_is_used_up(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let file = upload(
        &server,
        &alice,
        "Contract <draft> & terms.pdf",
        PDF,
        json!({}),
    )
    .await;
    let id = file["id"].as_str().unwrap();

    let link = create_link(
        &server,
        &alice,
        id,
        json!({ "expires_at": in_seconds(3600), "max_downloads": 2 }),
    )
    .await;
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/s/", server.base)), "{url}");
    assert_eq!(token_of(&url).len(), 43, "256 random bits: {url}");
    assert_eq!(link["state"], "active");
    assert_eq!(link["downloads"], 0);
    assert_eq!(link["max_downloads"], 2);
    assert_eq!(link["password_protected"], false);
    assert_eq!(link["created_by"], "alice");

    let page = server.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Contract &lt;draft&gt; &amp; terms.pdf"),
        "{html}"
    );
    assert!(html.contains(&format!("{} bytes", PDF.len())), "{html}");
    assert!(html.contains("2 downloads left"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("password"), "no password asked: {html}");

    assert_eq!(download(&server, &url, None).await, PDF);
    let (status, html) = open_page(&server, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 download left"), "{html}");
    assert_eq!(download(&server, &url, None).await, PDF);

    // Used up: the page and the form both say so.
    let (status, html) = open_page(&server, &url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("used up"), "{html}");
    assert_eq!(
        post_download(&server, &url, None).await.status(),
        StatusCode::GONE
    );

    let listed = links_of(&server, &alice, id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], link["id"]);
    assert_eq!(listed[0]["state"], "used_up");
    assert_eq!(listed[0]["downloads"], 2);
    assert!(
        listed[0].get("url").is_none(),
        "the token is never shown again"
    );

    // Every use is on record, the link as actor, in the file's tenant.
    let actor = format!("link:{}", link["id"].as_str().unwrap());
    let records = audit_pages(&server, &admin, 100).await;
    let by_link: Vec<&str> = records
        .iter()
        .filter(|r| r["actor"] == actor.as_str())
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    // Newest first; the refused open of the used-up link, and its refused
    // download, are not uses.
    assert_eq!(
        by_link,
        [
            "link.downloaded",
            "link.opened",
            "link.downloaded",
            "link.opened"
        ],
        "{by_link:?}"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["actor"] == actor.as_str())
            .all(|r| r["file_id"].as_str() == Some(id)),
        "every record names the file"
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "link.created" && r["actor"] == "alice"),
        "{records:#?}"
    );
}

async fn a_password_guards_a_link_and_wrong_ones_pause_it(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let file = upload(&server, &alice, "payroll.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap();
    let body = json!({ "expires_at": in_seconds(3600), "password": "correct horse" });

    let link = create_link(&server, &alice, id, body.clone()).await;
    assert_eq!(link["password_protected"], true);
    let url = link["url"].as_str().unwrap().to_owned();
    let (status, html) = open_page(&server, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"type="password""#), "{html}");
    assert!(
        html.contains(r#"<label for="password">"#),
        "the field is labelled: {html}"
    );

    let missing = post_download(&server, &url, None).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.text().await.unwrap().contains("Enter the password"));
    for left in (1..=4).rev() {
        let wrong = post_download(&server, &url, Some("wrong horse")).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let html = wrong.text().await.unwrap();
        assert!(html.contains(&format!("{left} more tr")), "{left}: {html}");
        assert!(
            html.contains("payroll.pdf"),
            "the page is shown again: {html}"
        );
    }
    // The fifth wrong password pauses the link; then even the right one waits.
    let fifth = post_download(&server, &url, Some("wrong horse")).await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    let right = post_download(&server, &url, Some("correct horse")).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = right.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&wait), "about 15 minutes: {wait}");
    assert_eq!(links_of(&server, &alice, id).await[0]["downloads"], 0);

    // Another link with the same password downloads at once: the pause is
    // per link, and the password is checked, not merely present.
    let other = create_link(&server, &alice, id, body).await;
    let other_url = other["url"].as_str().unwrap();
    assert_eq!(
        download(&server, other_url, Some("correct horse")).await,
        PDF
    );

    let actor = format!("link:{}", link["id"].as_str().unwrap());
    let refused = audit_pages(&server, &admin, 100)
        .await
        .into_iter()
        .filter(|r| r["actor"] == actor.as_str() && r["action"] == "link.password_refused")
        .count();
    assert_eq!(refused, 5, "each wrong password is on record");
}

async fn revoked_expired_trashed_and_suspended_links_open_nothing(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let file = upload(&server, &alice, "memo.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap();
    let hour = json!({ "expires_at": in_seconds(3600) });

    let revoked = create_link(&server, &alice, id, hour.clone()).await;
    let revoked_url = revoked["url"].as_str().unwrap();
    let revoke = |link: &Value| {
        server
            .req(
                Method::DELETE,
                &format!("/api/v1/files/{id}/links/{}", link["id"].as_str().unwrap()),
                &alice,
            )
            .send()
    };
    assert_eq!(
        revoke(&revoked).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        revoke(&revoked).await.unwrap().status(),
        StatusCode::NO_CONTENT,
        "again: no change"
    );
    let (status, html) = open_page(&server, revoked_url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("withdrawn"), "{html}");
    assert_eq!(
        post_download(&server, revoked_url, None).await.status(),
        StatusCode::GONE
    );

    let brief = create_link(&server, &alice, id, json!({ "expires_at": in_seconds(2) })).await;
    let brief_url = brief["url"].as_str().unwrap();
    assert_eq!(open_page(&server, brief_url).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, html) = open_page(&server, brief_url).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired"), "{html}");

    let states: Vec<Value> = links_of(&server, &alice, id)
        .await
        .into_iter()
        .map(|l| l["state"].clone())
        .collect();
    assert_eq!(states, [json!("revoked"), json!("expired")]);

    // Making and revoking a link are announced to the tenant's webhook
    // feed (settled by now: the expiry above waited for more than 2 s).
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let announced: Vec<(String, Value)> = polled(&server, &admin)
        .await
        .into_iter()
        .filter(|e| e["data"]["detail"]["link"] == revoked["id"])
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["file"]["id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        announced,
        [
            ("link.created".to_owned(), json!(id)),
            ("link.revoked".to_owned(), json!(id))
        ]
    );

    // A live link opens nothing while its file is in the trash.
    let live = create_link(&server, &alice, id, hour).await;
    let live_url = live["url"].as_str().unwrap();
    let path = format!("/api/v1/files/{id}");
    let trashed = server
        .req(Method::DELETE, &path, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(trashed.status(), StatusCode::NO_CONTENT);
    let (status, html) = open_page(&server, live_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("not available") && !html.contains("memo.pdf"),
        "{html}"
    );
    assert_eq!(
        post_download(&server, live_url, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let restored = server
        .req(Method::POST, &format!("{path}/restore"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(download(&server, live_url, None).await, PDF);

    // ...or while its tenant is suspended.
    let tenant_id = tenant_id(&server, &alice).await;
    set_status(&server, tenant_id, "suspended").await;
    let (status, html) = open_page(&server, live_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("memo.pdf"), "{html}");
    set_status(&server, tenant_id, "active").await;
    assert_eq!(open_page(&server, live_url).await.0, StatusCode::OK);

    // ...or while the tenant has external sharing switched off, when no
    // link can be made either.
    let root = server.platform_admin().await;
    assert_eq!(
        set_feature(&server, &root, tenant_id, "share_links", false).await,
        StatusCode::OK
    );
    let (status, html) = open_page(&server, live_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not available"), "{html}");
    let refused = server
        .req(Method::POST, &format!("{path}/links"), &alice)
        .json(&json!({ "expires_at": in_seconds(600) }))
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "feature_disabled").await;
    assert_eq!(
        set_feature(&server, &root, tenant_id, "share_links", true).await,
        StatusCode::OK
    );
    assert_eq!(open_page(&server, live_url).await.0, StatusCode::OK);

    // Tokens no link has, or that are no tokens at all.
    let mut forged = token_of(live_url).to_owned();
    forged.replace_range(..1, if forged.starts_with('A') { "B" } else { "A" });
    for bad in [forged.as_str(), "abc", "..%2F..%2Fapi%2Fv1%2Ftenant"] {
        let (status, html) = open_page(&server, &server.url(&format!("/s/{bad}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(html.contains("does not exist"), "{bad}: {html}");
    }
}

async fn links_are_their_tenants_own_and_bad_terms_are_refused(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (acme, globex) = (
        server.tenant(json!({})).await,
        server.tenant(json!({})).await,
    );
    let alice = server.token(Some(&acme), "alice", &["editor"]).await;
    let vera = server.token(Some(&acme), "vera", &["viewer"]).await;
    let mallory = server.token(Some(&globex), "mallory", &["admin"]).await;
    let file = upload(
        &server,
        &alice,
        "deal.pdf",
        PDF,
        json!({ "visibility": "tenant" }),
    )
    .await;
    let id = file["id"].as_str().unwrap();
    let link = create_link(
        &server,
        &alice,
        id,
        json!({ "expires_at": in_seconds(600) }),
    )
    .await;
    let links = format!("/api/v1/files/{id}/links");
    let one = format!("{links}/{}", link["id"].as_str().unwrap());

    // Another tenant's admin: the file and its links do not exist for them.
    for response in [
        server
            .req(Method::GET, &links, &mallory)
            .send()
            .await
            .unwrap(),
        server
            .req(Method::POST, &links, &mallory)
            .json(&json!({ "expires_at": in_seconds(600) }))
            .send()
            .await
            .unwrap(),
        server
            .req(Method::DELETE, &one, &mallory)
            .send()
            .await
            .unwrap(),
    ] {
        problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(links_of(&server, &alice, id).await[0]["state"], "active");

    // A viewer who may read the file may not share it.
    let refused = server
        .req(Method::POST, &links, &vera)
        .json(&json!({ "expires_at": in_seconds(600) }))
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "access_denied").await;
    let unknown_link = format!("{links}/{}", uuid::Uuid::now_v7());
    problem(
        server
            .req(Method::DELETE, &unknown_link, &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Bad terms: a clear 422 naming the field, and no link made.
    for (body, code) in [
        (json!({ "expires_at": in_seconds(-60) }), "expiry_in_past"),
        (
            json!({ "expires_at": in_seconds(400 * 86_400) }),
            "expiry_too_far",
        ),
        (
            json!({ "expires_at": in_seconds(60), "max_downloads": 0 }),
            "validation_failed",
        ),
        (
            json!({ "expires_at": in_seconds(60), "password": "short" }),
            "invalid_body",
        ),
        (
            json!({ "expires_at": in_seconds(60), "pasword": "typo in the name" }),
            "invalid_body",
        ),
        (json!({}), "invalid_body"),
    ] {
        let response = server
            .req(Method::POST, &links, &alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    assert_eq!(links_of(&server, &alice, id).await.len(), 1);

    // A file that is not available cannot be shared.
    let pending =
        initiate_upload(&server, &alice, &json!({ "filename": "x.pdf", "size": 3 })).await;
    let pending_id = pending["file"]["id"].as_str().unwrap();
    let response = server
        .req(
            Method::POST,
            &format!("/api/v1/files/{pending_id}/links"),
            &alice,
        )
        .json(&json!({ "expires_at": in_seconds(60) }))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::CONFLICT, "file_pending").await;
}
