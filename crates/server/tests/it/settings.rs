//! Plans, overrides, settings and feature flags through the API: what each
//! changes in what uploads accept, the effective configuration with its
//! sources, and a change on one instance seen by another at once.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    plan_override_setting_and_flags_decide_what_uploads_accept,
    settings_and_features_refuse_what_does_not_exist
);

/// Two `coffer serve` instances on one PostgreSQL.
#[actix_web::test]
async fn a_change_on_one_instance_is_seen_by_another_at_once() {
    // A long cache TTL: only the notification can explain a quick change.
    let ttl = [("COFFER__TENANTS__CACHE_TTL_SECS", "60")];
    let one = TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &ttl).await;
    let two = one.second(&[]).await;
    let slug = one.tenant(json!({})).await;
    let alice = two.token(Some(&slug), "alice", &["editor"]).await;
    let id = tenant_view(&two, &alice).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = one.platform_admin().await;

    // Instance two has the tenant and its configuration cached.
    assert_eq!(
        initiate(&two, &alice, "a.pdf", 20).await,
        StatusCode::CREATED
    );
    assert_eq!(stream(&two, &alice, "s.pdf").await, StatusCode::CREATED);

    put(
        &one,
        &root,
        &format!("/api/v1/tenants/{id}/settings/max_file_size"),
        json!({ "value": 10 }),
    )
    .await;
    let seen = until(&two, || async {
        initiate(&two, &alice, "b.pdf", 20).await == StatusCode::PAYLOAD_TOO_LARGE
    })
    .await;
    assert!(seen < Duration::from_secs(5), "seen after {seen:?}");

    // A feature flag, too.
    put(
        &one,
        &root,
        &format!("/api/v1/tenants/{id}/features/streamed_uploads"),
        json!({ "enabled": false }),
    )
    .await;
    let seen = until(&two, || async {
        stream(&two, &alice, "t.pdf").await == StatusCode::FORBIDDEN
    })
    .await;
    assert!(seen < Duration::from_secs(5), "seen after {seen:?}");

    // And the tenant itself: suspended on one, refused on two.
    let patch = one
        .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), &root)
        .json(&json!({ "status": "suspended" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::OK);
    let seen = until(&two, || async {
        initiate(&two, &alice, "c.pdf", 1).await == StatusCode::PAYMENT_REQUIRED
    })
    .await;
    assert!(seen < Duration::from_secs(5), "seen after {seen:?}");
}

async fn plan_override_setting_and_flags_decide_what_uploads_accept(mode: Mode) {
    let plan = [("COFFER__PLANS__STARTER__MAX_FILE_SIZE", "50")];
    let server = TestServer::start_with(mode, tempfile::tempdir().unwrap(), &plan).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let id = tenant_view(&server, &alice).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = server.platform_admin().await;
    let effective = || async {
        ok_json(
            server
                .req(
                    Method::GET,
                    &format!("/api/v1/tenants/{id}/effective-config"),
                    &root,
                )
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    };

    // The plan's limit refuses a file of 60 bytes.
    assert_eq!(
        initiate(&server, &alice, "a.pdf", 60).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let eff = effective().await;
    assert_eq!(
        eff["max_file_size"],
        json!({ "value": 50, "source": "plan" })
    );
    assert_eq!(eff["plan"], "starter");

    // An override allows it.
    let patch = server
        .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), &root)
        .json(&json!({ "limit_overrides": { "max_file_size": 100 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(
        initiate(&server, &alice, "b.pdf", 60).await,
        StatusCode::CREATED
    );
    assert_eq!(
        effective().await["max_file_size"],
        json!({ "value": 100, "source": "override" })
    );

    // A setting wins over the override; cleared, the override applies again.
    let path = format!("/api/v1/tenants/{id}/settings/max_file_size");
    let set = put(&server, &root, &path, json!({ "value": 55 })).await;
    assert_eq!(set["value"], 55);
    assert_eq!(set["source"], "setting");
    assert_eq!(
        initiate(&server, &alice, "c.pdf", 60).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let got = ok_json(
        server.req(Method::GET, &path, &root).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["value"], 55);
    put(&server, &root, &path, json!({ "value": null })).await;
    assert_eq!(
        initiate(&server, &alice, "d.pdf", 60).await,
        StatusCode::CREATED
    );

    // Allowed types and URL lifetime from settings.
    put(
        &server,
        &root,
        &format!("/api/v1/tenants/{id}/settings/allowed_content_types"),
        json!({ "value": ["image/*"] }),
    )
    .await;
    assert_eq!(
        initiate(&server, &alice, "e.pdf", 10).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    put(
        &server,
        &root,
        &format!("/api/v1/tenants/{id}/settings/allowed_content_types"),
        json!({ "value": [] }),
    )
    .await;
    put(
        &server,
        &root,
        &format!("/api/v1/tenants/{id}/settings/url_ttl_secs"),
        json!({ "value": 45 }),
    )
    .await;
    let initiated = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": "f.pdf", "size": 10 }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let expires = time::OffsetDateTime::parse(
        initiated["upload"]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let lifetime = expires - time::OffsetDateTime::now_utc();
    assert!(
        lifetime <= time::Duration::seconds(46) && lifetime > time::Duration::seconds(30),
        "URL lifetime {lifetime}"
    );

    // A flag closes the streamed upload path until it expires.
    let flag = format!("/api/v1/tenants/{id}/features/streamed_uploads");
    assert_eq!(stream(&server, &alice, "s1.pdf").await, StatusCode::CREATED);
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let set = put(
        &server,
        &root,
        &flag,
        json!({ "enabled": false, "expires_at": stamp(expiry) }),
    )
    .await;
    assert_eq!(set["enabled"], false);
    assert_eq!(set["source"], "feature");
    let refused = server
        .req(Method::POST, "/api/v1/files", &alice)
        .multipart(form("s2.pdf"))
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "feature_disabled").await;
    assert_eq!(
        effective().await["features"]["streamed_uploads"]["source"],
        "feature"
    );
    let wait = expiry - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    actix_web::rt::time::sleep(wait.try_into().unwrap_or_default()).await;
    assert_eq!(stream(&server, &alice, "s3.pdf").await, StatusCode::CREATED);
    assert_eq!(
        effective().await["features"]["streamed_uploads"],
        json!({ "enabled": true, "source": "default", "expires_at": null })
    );

    // An already-expired flag applies not at all; one without expiry does.
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let set = put(
        &server,
        &root,
        &flag,
        json!({ "enabled": false, "expires_at": stamp(past) }),
    )
    .await;
    assert_eq!(set["enabled"], true);
    assert_eq!(set["source"], "default");
    assert_eq!(set["stored"]["enabled"], false);
    assert_eq!(stream(&server, &alice, "s4.pdf").await, StatusCode::CREATED);
    put(&server, &root, &flag, json!({ "enabled": false })).await;
    assert_eq!(
        stream(&server, &alice, "s5.pdf").await,
        StatusCode::FORBIDDEN
    );
    let got = ok_json(
        server.req(Method::GET, &flag, &root).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["enabled"], false);
    assert_eq!(got["expires_at"], Value::Null);
}

async fn settings_and_features_refuse_what_does_not_exist(mode: Mode) {
    let server = TestServer::start(mode).await;
    let slug = server.tenant(json!({})).await;
    let admin = server.token(Some(&slug), "ada", &["admin"]).await;
    let id = tenant_view(&server, &admin).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = server.platform_admin().await;
    let send = |method: Method, path: String, token: String, body: Option<Value>| {
        let mut request = server.req(method, &path, &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let cases = [
        (
            Method::PUT,
            format!("/api/v1/tenants/{id}/settings/max_files"),
            json!({ "value": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_setting",
        ),
        (
            Method::GET,
            format!("/api/v1/tenants/{id}/settings/webhook"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reserved_setting",
        ),
        (
            Method::PUT,
            format!("/api/v1/tenants/{id}/settings/webhook"),
            json!({ "value": {} }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reserved_setting",
        ),
        (
            Method::PUT,
            format!("/api/v1/tenants/{id}/settings/url_ttl_secs"),
            json!({ "value": "soon" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_setting",
        ),
        (
            Method::PUT,
            format!("/api/v1/tenants/{id}/settings/url_ttl_secs"),
            json!({ "valeu": 5 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Method::PUT,
            format!("/api/v1/tenants/{id}/features/teleport"),
            json!({ "enabled": true }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_feature",
        ),
        (
            Method::GET,
            format!("/api/v1/tenants/{}/effective-config", uuid::Uuid::new_v4()),
            Value::Null,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            format!(
                "/api/v1/tenants/{}/settings/url_ttl_secs",
                uuid::Uuid::new_v4()
            ),
            Value::Null,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::PUT,
            format!(
                "/api/v1/tenants/{}/features/streamed_uploads",
                uuid::Uuid::new_v4()
            ),
            json!({ "enabled": false }),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let body = (!body.is_null()).then_some(body);
        problem(
            send(method, path, root.clone(), body).await.unwrap(),
            status,
            code,
        )
        .await;
    }
    // Tenant admins administer their files, not their plan's configuration.
    for path in [
        format!("/api/v1/tenants/{id}/effective-config"),
        format!("/api/v1/tenants/{id}/settings/max_file_size"),
        format!("/api/v1/tenants/{id}/features/streamed_uploads"),
    ] {
        problem(
            send(Method::GET, path, admin.clone(), None).await.unwrap(),
            StatusCode::FORBIDDEN,
            "platform_admin_required",
        )
        .await;
    }
    problem(
        send(
            Method::PUT,
            format!("/api/v1/tenants/{id}/settings/max_file_size"),
            admin.clone(),
            Some(json!({ "value": 1_u64 << 40 })),
        )
        .await
        .unwrap(),
        StatusCode::FORBIDDEN,
        "platform_admin_required",
    )
    .await;
    // Nothing was stored by the refused requests.
    let eff = ok_json(
        send(
            Method::GET,
            format!("/api/v1/tenants/{id}/effective-config"),
            root.clone(),
            None,
        )
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    for key in [
        "max_file_size",
        "url_ttl_secs",
        "allowed_content_types",
        "retention_days",
    ] {
        assert_eq!(eff[key]["source"], "plan", "{key}: {eff}");
    }
}

fn form(name: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(PDF.to_vec()).file_name(name.to_owned()),
    )
}

async fn initiate(server: &TestServer, token: &str, name: &str, size: usize) -> StatusCode {
    server
        .req(Method::POST, "/api/v1/files", token)
        .json(&json!({ "filename": name, "size": size }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn stream(server: &TestServer, token: &str, name: &str) -> StatusCode {
    server
        .req(Method::POST, "/api/v1/files", token)
        .multipart(form(name))
        .send()
        .await
        .unwrap()
        .status()
}

async fn put(server: &TestServer, token: &str, path: &str, body: Value) -> Value {
    ok_json(
        server
            .req(Method::PUT, path, token)
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

/// How long until `check` holds (polled every 50 ms, for at most 10 s).
async fn until<F, Fut>(_server: &TestServer, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if check().await {
            return start.elapsed();
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not seen within 10 s");
}
