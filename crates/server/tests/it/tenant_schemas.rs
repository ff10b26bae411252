//! Schema per tenant end to end: with `[metadata.schemas]` on, Professional
//! tenants get a schema of their own in the shared database that holds their
//! files, users, grants, usage and records; Starter tenants stay in the
//! shared tables. Isolation holds across schemas, and the purge takes the
//! tenant's schema and leaves its neighbours'.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::lifecycle::set_status;
use crate::support::*;

struct Placed {
    slug: String,
    id: coffer_domain::TenantId,
    schema: Option<String>,
    admin: String,
}

async fn onboard(server: &TestServer, plan: &str, overrides: serde_json::Value) -> Placed {
    let slug = format!("{plan}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Placed", "plan": plan, "region": "eu-west",
            "admin_subject": "boss", "limit_overrides": overrides,
        }))
        .await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    Placed {
        admin: server.token(Some(&slug), "boss", &["admin"]).await,
        id: coffer_domain::TenantId::from_uuid(view["id"].as_str().unwrap().parse().unwrap()),
        schema: view["dedicated_schema"].as_str().map(str::to_owned),
        slug,
    }
}

/// `tenant`'s rows of `table` in `schema` of the test database.
async fn rows(
    server: &TestServer,
    schema: &str,
    table: &str,
    tenant: &Placed,
) -> Result<i64, String> {
    let db = server.db().unwrap();
    db.count_rows(
        db.name(),
        &format!("{schema}.{table}"),
        *tenant.id.as_uuid(),
    )
    .await
}

async fn content(server: &TestServer, token: &str, file: &str) -> (StatusCode, Vec<u8>) {
    let response = server
        .req(Method::GET, &format!("/api/v1/files/{file}/content"), token)
        .send()
        .await
        .unwrap();
    (response.status(), response.bytes().await.unwrap().to_vec())
}

#[actix_web::test]
async fn a_professional_tenant_lives_in_its_own_schema_until_its_purge() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[TENANT_SCHEMAS],
    )
    .await;
    let p = onboard(&server, "professional", json!({ "retention_days": 0 })).await;
    let q = onboard(&server, "professional", json!({})).await;
    let s = onboard(&server, "starter", json!({})).await;
    let (p_schema, q_schema) = (p.schema.clone().unwrap(), q.schema.clone().unwrap());
    assert_ne!(p_schema, q_schema);
    assert_eq!(s.schema, None, "starter stays in the shared tables");

    let mut files = Vec::new();
    for t in [&p, &q, &s] {
        let file = upload(&server, &t.admin, "a.pdf", PDF, json!({})).await;
        assert_eq!(file["status"], "available", "{}", t.slug);
        files.push(file["id"].as_str().unwrap().to_owned());
    }
    // Each tenant's rows are in its schema and nowhere else.
    for (t, schema, other) in [(&p, &p_schema, &q), (&q, &q_schema, &p)] {
        assert_eq!(rows(&server, schema, "files", t).await, Ok(1));
        assert_eq!(rows(&server, schema, "users", t).await, Ok(1));
        assert!(rows(&server, schema, "audit_events", t).await.unwrap() > 0);
        assert_eq!(rows(&server, "public", "files", t).await, Ok(0));
        assert_eq!(rows(&server, "public", "users", t).await, Ok(0));
        for table in ["tenants", "files", "users"] {
            assert_eq!(rows(&server, schema, table, other).await, Ok(0), "{table}");
            assert_eq!(rows(&server, schema, table, &s).await, Ok(0), "{table}");
        }
    }
    assert_eq!(rows(&server, "public", "files", &s).await, Ok(1));

    // Its bytes come back as they went in; another tenant's file is 404
    // whichever schema it lives in.
    assert_eq!(
        content(&server, &p.admin, &files[0]).await,
        (StatusCode::OK, PDF.to_vec())
    );
    for (who, whose) in [
        (&q, &files[0]),
        (&s, &files[0]),
        (&p, &files[1]),
        (&p, &files[2]),
    ] {
        let (status, _) = content(&server, &who.admin, whose).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{} reading {whose}",
            who.slug
        );
    }

    // Purged: its schema goes, the neighbour's stays and keeps working.
    set_status(&server, p.id, "cancelled").await;
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.tenants_purged, report.failed), (1, 0));
    assert!(
        rows(&server, &p_schema, "files", &p).await.is_err(),
        "its schema went with it"
    );
    assert_eq!(
        rows(&server, "public", "tenants", &p).await,
        Ok(0),
        "and its registry row"
    );
    assert_eq!(rows(&server, &q_schema, "files", &q).await, Ok(1));
    assert_eq!(
        content(&server, &q.admin, &files[1]).await,
        (StatusCode::OK, PDF.to_vec())
    );
}

#[actix_web::test]
async fn a_schema_asked_for_where_none_are_configured_is_refused() {
    let server = TestServer::start(Mode::Production).await;
    let root = server.platform_admin().await;
    let slug = format!("ask-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    problem(
        server
            .req(Method::POST, "/api/v1/tenants", &root)
            .json(&json!({
                "slug": slug, "display_name": "Asks", "plan": "professional",
                "region": "eu-west", "dedicated_schema": true,
            }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "dedicated_schema_unavailable",
    )
    .await;
}
