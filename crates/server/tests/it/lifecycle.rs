//! The tenant lifecycle through the API: suspension (`402`), reactivation,
//! cancellation (`410`) kept for the retention and reactivatable within
//! it, then purged by the sweep — every object and row of that tenant, and
//! nothing of another — with a record in the platform audit log; and the
//! platform metrics across tenants.

use coffer_domain::{TenantId, TenantSlug};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn tenant_id(server: &TestServer, slug: &str) -> TenantId {
    let slug = TenantSlug::new(slug).unwrap();
    server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&slug)
        .await
        .unwrap()
        .id
}

pub(crate) async fn set_status(server: &TestServer, id: TenantId, status: &str) -> Value {
    let root = server.platform_admin().await;
    ok_json(
        server
            .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), &root)
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

/// Every object key under the tenant's prefix in the server's bucket.
pub(crate) async fn objects_of(server: &TestServer, tenant: TenantId) -> Vec<String> {
    let bucket = server
        .wiring
        .coffer
        .config()
        .placement
        .default_bucket
        .clone();
    let mut keys = Vec::new();
    let mut next = None;
    loop {
        let page = server
            .wiring
            .store
            .list(
                &coffer_ports::ObjectPrefix::tenant(tenant, bucket.clone()),
                next,
                1000,
            )
            .await
            .unwrap();
        keys.extend(page.objects.into_iter().map(|o| o.key.to_string()));
        match page.next {
            Some(n) => next = Some(n),
            None => return keys,
        }
    }
}

async fn lifecycle_and_purge(mode: Mode) {
    let server = TestServer::start(mode).await;
    let doomed = server.tenant(json!({ "retention_days": 0 })).await;
    let kept = server.tenant(json!({})).await;
    let (doomed_id, kept_id) = (
        tenant_id(&server, &doomed).await,
        tenant_id(&server, &kept).await,
    );
    let alice = server.token(Some(&doomed), "alice", &["editor"]).await;
    let bob = server.token(Some(&kept), "bob", &["editor"]).await;
    let doomed_file = upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    let kept_file = upload(&server, &bob, "b.pdf", PDF, json!({})).await;
    let kept_path = format!("/api/v1/files/{}", kept_file["id"].as_str().unwrap());
    let doomed_path = format!("/api/v1/files/{}", doomed_file["id"].as_str().unwrap());

    // Platform metrics see both tenants, their files and users.
    let root = server.platform_admin().await;
    let metrics = ok_json(
        server
            .req(Method::GET, "/api/v1/platform/metrics", &root)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(metrics["tenants"], 2);
    assert_eq!(metrics["tenants_by_status"]["active"], 2);
    assert_eq!(metrics["tenants_by_plan"]["starter"], 2);
    assert_eq!(metrics["files"], 2);
    assert_eq!(metrics["bytes"], 2 * PDF.len());
    assert_eq!(metrics["users"], 2);
    let forbidden = server
        .req(Method::GET, "/api/v1/platform/metrics", &alice)
        .send()
        .await
        .unwrap();
    problem(forbidden, StatusCode::FORBIDDEN, "platform_admin_required").await;

    // Suspended: every tenant call is 402; reactivated: it works again.
    set_status(&server, doomed_id, "suspended").await;
    let suspended = server
        .req(Method::GET, &doomed_path, &alice)
        .send()
        .await
        .unwrap();
    problem(suspended, StatusCode::PAYMENT_REQUIRED, "tenant_suspended").await;
    set_status(&server, doomed_id, "active").await;
    let back = server
        .req(Method::GET, &doomed_path, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);

    // Cancelled: 410, data kept until the purge.
    let cancelled = set_status(&server, doomed_id, "cancelled").await;
    assert_eq!(cancelled["status"], "cancelled");
    let gone = server
        .req(Method::GET, &doomed_path, &alice)
        .send()
        .await
        .unwrap();
    problem(gone, StatusCode::GONE, "tenant_cancelled").await;
    assert_eq!(objects_of(&server, doomed_id).await.len(), 1);

    // The sweep purges it (its retention of 0 days has passed).
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.tenants_purged, 1);
    assert!(
        objects_of(&server, doomed_id).await.is_empty(),
        "every object of the tenant"
    );
    let lookup = server
        .req(Method::GET, &format!("/api/v1/tenants/{doomed_id}"), &root)
        .send()
        .await
        .unwrap();
    assert_eq!(
        lookup.status(),
        StatusCode::NOT_FOUND,
        "every row of the tenant"
    );
    // Nothing of the other tenant went.
    assert_eq!(objects_of(&server, kept_id).await.len(), 1);
    let still = server
        .req(Method::GET, &format!("{kept_path}/content"), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(still.bytes().await.unwrap().as_ref(), PDF);
    let metrics = ok_json(
        server
            .req(Method::GET, "/api/v1/platform/metrics", &root)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (metrics["tenants"].clone(), metrics["files"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(metrics["usage"][0]["slug"], json!(kept));
}

#[actix_web::test]
async fn suspend_cancel_purge_production() {
    lifecycle_and_purge(Mode::Production).await;
}

#[actix_web::test]
async fn suspend_cancel_purge_embedded() {
    lifecycle_and_purge(Mode::Embedded).await;
}

#[actix_web::test]
async fn reactivation_within_retention_restores_everything() {
    let server = TestServer::start(Mode::Production).await;
    let slug = server.tenant(json!({})).await;
    let id = tenant_id(&server, &slug).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let file = upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    let path = format!("/api/v1/files/{}/content", file["id"].as_str().unwrap());
    let cancelled = set_status(&server, id, "cancelled").await;
    assert!(cancelled["purge_after"].is_string(), "{cancelled}");
    // Within its 90 days the sweep leaves it alone.
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.tenants_purged, 0);
    set_status(&server, id, "active").await;
    let content = server.req(Method::GET, &path, &alice).send().await.unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), PDF);
}

#[actix_web::test]
async fn a_purged_tenant_takes_its_dedicated_bucket_and_database_with_it() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[DEDICATED_DATABASES],
    )
    .await;
    // A neighbour with a database of its own, which stays.
    let neighbour = server
        .create_tenant(&json!({
            "slug": format!("next-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            "display_name": "Neighbour", "plan": "enterprise", "region": "eu-west",
        }))
        .await;
    let neighbour = server
        .wait_onboarded(neighbour["id"].as_str().unwrap())
        .await;
    let kept = neighbour["dedicated_database"].as_str().unwrap().to_owned();
    let slug = format!("own-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let bucket = format!(
        "coffer-own-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Own bucket", "plan": "enterprise", "region": "eu-west",
            "dedicated_bucket": bucket, "admin_subject": "boss",
            "limit_overrides": { "retention_days": 0 },
        }))
        .await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    let database = view["dedicated_database"].as_str().unwrap().to_owned();
    let boss = server.token(Some(&slug), "boss", &["admin"]).await;
    upload(&server, &boss, "a.pdf", PDF, json!({})).await;
    let name = coffer_domain::BucketName::new(bucket.clone()).unwrap();
    assert!(server.wiring.store.bucket_exists(&name).await.unwrap());

    let db = server.db().unwrap();
    let before = db.databases_like(&db.dedicated_prefix()).await.unwrap();
    assert!(
        before.contains(&database) && before.contains(&kept),
        "{before:?}"
    );

    let id = tenant_id(&server, &slug).await;
    set_status(&server, id, "cancelled").await;
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.tenants_purged, report.failed), (1, 0));
    assert!(
        !server.wiring.store.bucket_exists(&name).await.unwrap(),
        "the dedicated bucket went with its tenant"
    );
    let left = db.databases_like(&db.dedicated_prefix()).await.unwrap();
    assert_eq!(left, [kept], "its database went, the neighbour's stayed");
    assert_eq!(
        db.count_rows(db.name(), "tenants", *id.as_uuid())
            .await
            .unwrap(),
        0,
        "the registry row went too"
    );
}
