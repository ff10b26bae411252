//! Onboarding as a job, end to end on PostgreSQL + SeaweedFS + the OIDC
//! issuer: `POST /api/v1/tenants` answers `202 provisioning`, the worker
//! inside the server runs the steps, `GET /api/v1/tenants/{id}` shows the
//! progress; a failure at any step leaves nothing half made and a retry
//! succeeds; a tenant's objects stay in its region's bucket.

use std::sync::{Arc, Mutex};

use coffer_domain::{BucketName, OnboardingStep, TenantId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::faulty::{Cue, Fault};
use crate::support::{DEDICATED_DATABASES, Mode, PDF, PNG, TestServer, ok_json, problem, upload};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

fn tenant_id(view: &Value) -> TenantId {
    TenantId::from_uuid(view["id"].as_str().unwrap().parse().unwrap())
}

async fn bucket_exists(server: &TestServer, bucket: &str) -> bool {
    server
        .wiring
        .store
        .bucket_exists(&BucketName::new(bucket).unwrap())
        .await
        .unwrap()
}

/// The tenant's users, read where its data lives (its own database, if any).
async fn users(server: &TestServer, view: &Value) -> Vec<String> {
    let db = server.db().unwrap();
    let database = view["dedicated_database"].as_str().unwrap_or(db.name());
    db.users_in(database, *tenant_id(view).as_uuid())
        .await
        .unwrap_or_default()
}

/// Rows of `table` of the tenant in database `database` of the test server.
async fn rows(server: &TestServer, database: &str, table: &str, view: &Value) -> i64 {
    server
        .db()
        .unwrap()
        .count_rows(database, table, *tenant_id(view).as_uuid())
        .await
        .unwrap()
}

async fn database_exists(server: &TestServer, name: &str) -> bool {
    let found = server.db().unwrap().databases_like(name).await.unwrap();
    found.iter().any(|d| d == name)
}

/// Keys of `tenant`'s objects in `bucket`, listed through the store.
async fn objects_in(server: &TestServer, tenant: TenantId, bucket: &str) -> Vec<String> {
    let bucket = BucketName::new(bucket).unwrap();
    let list = server
        .wiring
        .store
        .list(
            &coffer_ports::ObjectPrefix::tenant(tenant, bucket.clone()),
            None,
            1000,
        )
        .await
        .unwrap();
    list.objects
        .into_iter()
        .map(|o| o.key.as_str().to_owned())
        .collect()
}

#[actix_web::test]
async fn each_plan_onboards_end_to_end_through_the_worker() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[DEDICATED_DATABASES],
    )
    .await;
    let shared = server.db().unwrap().name().to_owned();
    for plan in ["starter", "professional", "enterprise"] {
        let slug = unique(plan);
        let mut request = json!({
            "slug": slug, "display_name": "Plan test", "plan": plan, "region": "eu-west",
            "admin_subject": "first-admin",
        });
        // The enterprise tenant has both placements of its own.
        let bucket = unique("coffer-plan");
        if plan == "enterprise" {
            request["dedicated_bucket"] = json!(bucket);
        }
        let created = server.create_tenant(&request).await;
        let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
        assert_eq!(view["status"], "active", "{view}");
        assert_eq!(view["plan"], plan);
        assert_eq!(view["onboarding"]["state"], "done", "{view}");
        assert_eq!(
            view["onboarding"]["steps_done"],
            json!(["placement", "database", "admin_user", "activate"])
        );
        assert_eq!(view["onboarding"]["last_error"], Value::Null);
        // The first admin exists before anyone signed in, with the admin role.
        assert_eq!(users(&server, &view).await, ["first-admin:admin"]);
        let admin = server.token(Some(&slug), "first-admin", &["admin"]).await;
        let file = upload(&server, &admin, "a.pdf", PDF, json!({})).await;
        assert_eq!(file["status"], "available");
        // Enterprise (the configured plan) has a database of its own that
        // holds its data; the others live in the shared one.
        let own = view["dedicated_database"].as_str();
        if plan == "enterprise" {
            let own = own.expect("an enterprise tenant has its own database");
            assert!(database_exists(&server, own).await, "{own}");
            let db = server.db().unwrap();
            assert!(
                !db.public_may_connect(own).await.unwrap(),
                "{own} is not open to every role"
            );
            assert!(
                db.public_may_connect(&shared).await.unwrap(),
                "the check can tell"
            );
            let keys = objects_in(&server, tenant_id(&view), &bucket).await;
            assert_eq!(keys.len(), 1, "its object is in its own bucket: {keys:?}");
            assert_eq!(rows(&server, own, "files", &view).await, 1);
            assert_eq!(rows(&server, own, "users", &view).await, 1);
            assert_eq!(rows(&server, &shared, "files", &view).await, 0);
            assert_eq!(rows(&server, &shared, "users", &view).await, 0);
            // The registry row stays in the shared database.
            assert_eq!(rows(&server, &shared, "tenants", &view).await, 1);
        } else {
            assert_eq!(own, None, "{view}");
            assert_eq!(rows(&server, &shared, "files", &view).await, 1);
        }
    }
}

#[actix_web::test]
async fn a_provisioning_tenant_answers_409_until_a_worker_ran() {
    let dir = tempfile::tempdir().unwrap();
    // No worker: the tenant stays provisioning.
    let server = TestServer::start_with(
        Mode::Production,
        dir,
        &[("COFFER__JOBS__ONBOARDING_INTERVAL_MS", "0")],
    )
    .await;
    let slug = unique("waiting");
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Waiting", "plan": "starter", "region": "eu-west",
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    let member = server.token(Some(&slug), "alice", &["editor"]).await;
    problem(
        server
            .req(Method::GET, "/api/v1/files", &member)
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        "tenant_not_ready",
    )
    .await;
    let view = server.tenant_admin_view(id).await;
    assert_eq!(view["status"], "provisioning");
    assert_eq!(view["onboarding"]["state"], "queued");
    // Nothing was made at request time: no JIT user either.
    assert!(users(&server, &view).await.is_empty());
    assert_eq!(
        server
            .wiring
            .coffer
            .onboarder()
            .onboard_pending()
            .await
            .unwrap(),
        1
    );
    let view = server.tenant_admin_view(id).await;
    assert_eq!(view["status"], "active");
    assert_eq!(view["onboarding"]["attempts"], 1);
    ok_json(
        server
            .req(Method::GET, "/api/v1/files", &member)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn a_dedicated_bucket_is_created_private_and_holds_the_tenants_objects() {
    let server = TestServer::start(Mode::Production).await;
    let slug = unique("own");
    let bucket = unique("coffer-own");
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Own bucket", "plan": "enterprise", "region": "eu-west",
            "dedicated_bucket": bucket, "admin_subject": "boss",
        }))
        .await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    assert!(bucket_exists(&server, &bucket).await);
    let boss = server.token(Some(&slug), "boss", &["admin"]).await;
    let file = upload(&server, &boss, "a.pdf", PDF, json!({})).await;
    let tenant = tenant_id(&view);
    let keys = objects_in(&server, tenant, &bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    // A direct upload's verified key: `t/{tenant}/{category}/{file}/{copy}`.
    let file_prefix = format!("t/{tenant}/documents/{}/", file["id"].as_str().unwrap());
    assert!(keys[0].starts_with(&file_prefix), "{keys:?}");
    // Private: neither the bucket nor the object answers an anonymous GET.
    let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap();
    for url in [
        format!("{endpoint}/{bucket}/"),
        format!("{endpoint}/{bucket}/{}", keys[0]),
    ] {
        let status = server.http.get(&url).send().await.unwrap().status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
    }
}

#[actix_web::test]
async fn a_failure_at_each_step_leaves_nothing_and_a_retry_succeeds() {
    let cue: Cue = Arc::new(Mutex::new(None));
    let wrapped = cue.clone();
    let server = TestServer::start_wrapped(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[DEDICATED_DATABASES],
        Box::new(move |ports| Fault::FailOnboardingStep(wrapped).inject(ports)),
    )
    .await;
    let admin = server.platform_admin().await;
    for step in [
        OnboardingStep::Placement,
        OnboardingStep::Database,
        OnboardingStep::AdminUser,
        OnboardingStep::Activate,
    ] {
        *cue.lock().unwrap() = Some(step);
        let slug = unique("fails");
        let bucket = unique("coffer-fails");
        let created = server
            .create_tenant(&json!({
                "slug": slug, "display_name": "Fails", "plan": "enterprise", "region": "eu-west",
                "dedicated_bucket": bucket, "admin_subject": "boss",
            }))
            .await;
        let id = created["id"].as_str().unwrap();
        let view = server.wait_onboarded(id).await;
        assert_eq!(view["status"], "provisioning_failed", "{step}: {view}");
        assert_eq!(view["onboarding"]["state"], "failed");
        assert_eq!(view["onboarding"]["current_step"], step.as_str());
        assert_eq!(view["onboarding"]["steps_done"], json!([]), "{view}");
        let error = view["onboarding"]["last_error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("{step}: ")) && error.contains("unavailable"),
            "{error}"
        );
        assert!(cue.lock().unwrap().is_none(), "the cue fired");
        // Nothing half made: no bucket, no user, no member access.
        assert!(
            !bucket_exists(&server, &bucket).await,
            "{step}: bucket left"
        );
        assert!(users(&server, &view).await.is_empty(), "{step}: user left");
        let database = view["dedicated_database"].as_str().unwrap().to_owned();
        assert!(
            !database_exists(&server, &database).await,
            "{step}: database left"
        );
        let boss = server.token(Some(&slug), "boss", &["admin"]).await;
        problem(
            server
                .req(Method::GET, "/api/v1/tenant", &boss)
                .send()
                .await
                .unwrap(),
            StatusCode::CONFLICT,
            "tenant_not_ready",
        )
        .await;

        let retried = ok_json(
            server
                .req(Method::POST, &format!("/api/v1/tenants/{id}/retry"), &admin)
                .send()
                .await
                .unwrap(),
            StatusCode::ACCEPTED,
        )
        .await;
        assert_eq!(retried["status"], "provisioning");
        let view = server.wait_onboarded(id).await;
        assert_eq!(view["status"], "active", "{step}: {view}");
        assert_eq!(view["onboarding"]["attempts"], 2);
        assert!(bucket_exists(&server, &bucket).await);
        assert!(database_exists(&server, &database).await);
        assert_eq!(users(&server, &view).await, ["boss:admin"]);
        // Only a failed onboarding can be retried.
        problem(
            server
                .req(Method::POST, &format!("/api/v1/tenants/{id}/retry"), &admin)
                .send()
                .await
                .unwrap(),
            StatusCode::CONFLICT,
            "not_failed",
        )
        .await;
    }
}

#[actix_web::test]
async fn a_tenant_in_us_east_never_gets_an_object_in_the_eu_west_bucket() {
    let us = unique("coffer-us");
    let eu = unique("coffer-eu");
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__STORAGE__REGION_BUCKETS__US-EAST", us.as_str()),
            ("COFFER__STORAGE__REGION_BUCKETS__EU-WEST", eu.as_str()),
        ],
    )
    .await;
    // No placement for the region: refused at request time, nothing recorded.
    let admin = server.platform_admin().await;
    problem(
        server
            .req(Method::POST, "/api/v1/tenants", &admin)
            .json(&json!({
                "slug": unique("nowhere"), "display_name": "Nowhere", "plan": "starter",
                "region": "ap-south",
            }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "region_not_placed",
    )
    .await;

    let mut tenants = Vec::new();
    for region in ["us-east", "eu-west"] {
        let slug = unique(region);
        let created = server
            .create_tenant(&json!({
                "slug": slug, "display_name": region, "plan": "professional", "region": region,
            }))
            .await;
        let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
        assert_eq!(view["status"], "active", "{view}");
        let token = server.token(Some(&slug), "alice", &["editor"]).await;
        // Direct upload, then a streamed one.
        upload(&server, &token, "direct.pdf", PDF, json!({})).await;
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("streamed.png"),
        );
        ok_json(
            server
                .req(Method::POST, "/api/v1/files", &token)
                .multipart(form)
                .send()
                .await
                .unwrap(),
            StatusCode::CREATED,
        )
        .await;
        tenants.push(tenant_id(&view));
    }
    let (us_tenant, eu_tenant) = (tenants[0], tenants[1]);
    assert_eq!(objects_in(&server, us_tenant, &us).await.len(), 2);
    assert!(objects_in(&server, us_tenant, &eu).await.is_empty());
    assert!(
        objects_in(&server, us_tenant, &server_default_bucket(&server))
            .await
            .is_empty()
    );
    assert_eq!(objects_in(&server, eu_tenant, &eu).await.len(), 2);
    assert!(objects_in(&server, eu_tenant, &us).await.is_empty());
}

fn server_default_bucket(server: &TestServer) -> String {
    server
        .wiring
        .coffer
        .config()
        .placement
        .default_bucket
        .to_string()
}
