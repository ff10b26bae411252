//! Regional shared databases end to end: with `[metadata.regions.eu-west]`
//! configured, a shared tenant of eu-west keeps every row of its data in
//! that region's database and none in the registry's; a tenant of a region
//! without a database is refused at creation.

use coffer_postgres::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn a_regional_tenants_rows_live_in_its_regions_database_only() {
    let eu = TestDb::new().await;
    let (url, owner) = (eu.app_url(), eu.owner_url());
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__METADATA__REGIONS__EU_WEST__URL", &url),
            ("COFFER__METADATA__REGIONS__EU_WEST__MIGRATION_URL", &owner),
        ],
    )
    .await;
    let registry = server.db().unwrap();
    let mut tenants = Vec::new();
    for n in 0..2 {
        let slug = format!("eu-{n}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let created = server
            .create_tenant(&json!({
                "slug": slug, "display_name": "Regional", "plan": "starter",
                "region": "eu-west", "admin_subject": "boss",
            }))
            .await;
        let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
        assert_eq!(view["status"], "active", "{view}");
        assert_eq!(view["metadata_region"], "eu-west", "{view}");
        let id: uuid::Uuid = view["id"].as_str().unwrap().parse().unwrap();
        let admin = server.token(Some(&slug), "boss", &["admin"]).await;
        let file = upload(&server, &admin, "a.pdf", PDF, json!({})).await;
        assert_eq!(file["status"], "available");
        tenants.push((id, admin, file["id"].as_str().unwrap().to_owned()));
    }
    for (id, _, _) in &tenants {
        for table in ["files", "users", "usage_counters", "tenants"] {
            assert_eq!(
                eu.count_rows(eu.name(), table, *id).await,
                Ok(1),
                "{table} in the region's database"
            );
        }
        assert!(eu.count_rows(eu.name(), "audit_events", *id).await.unwrap() > 0);
        for table in ["files", "users"] {
            assert_eq!(
                registry.count_rows(registry.name(), table, *id).await,
                Ok(0),
                "{table} in the registry"
            );
        }
    }
    // Its bytes come back intact; the neighbour in the same regional
    // database gets 404 for them.
    let (_, a_admin, a_file) = &tenants[0];
    let (_, b_admin, _) = &tenants[1];
    let path = format!("/api/v1/files/{a_file}/content");
    let mine = server
        .req(Method::GET, &path, a_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.bytes().await.unwrap().as_ref(), PDF);
    let theirs = server
        .req(Method::GET, &path, b_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    // A region without a database is refused once any region has one.
    let root = server.platform_admin().await;
    problem(
        server
            .req(Method::POST, "/api/v1/tenants", &root)
            .json(&json!({
                "slug": format!("us-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                "display_name": "Elsewhere", "plan": "starter", "region": "us-east",
            }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "region_without_database",
    )
    .await;
}
