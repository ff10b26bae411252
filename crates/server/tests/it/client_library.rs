//! `coffer-client` as a Rust service uses it: a Keycloak-style service
//! account (client credentials from the test issuer), uploads, a listing
//! read page after page as a stream, downloads, typed error codes.

use std::sync::Arc;

use coffer_client::api::ListQuery;
use coffer_client::{Client, ClientCredentials, Error, ErrorCode, Issuer, NewFile, NoProgress};
use futures::TryStreamExt as _;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn a_service_account_uploads_lists_page_by_page_and_downloads() {
    let server = TestServer::start(Mode::Production).await;
    // The issuer's service account `coffer-svc` is an editor of `acme`.
    let created = server
        .create_tenant(&json!({
            "slug": "acme", "display_name": "Acme", "plan": "starter", "region": "eu-west",
        }))
        .await;
    server.wait_onboarded(created["id"].as_str().unwrap()).await;
    let env = |name: &str| std::env::var(name).unwrap();
    let issuer = Issuer::discover(
        &env("COFFER_TEST_OIDC_ISSUER"),
        &env("COFFER_TEST_OIDC_SERVICE_CLIENT_ID"),
        Some(&env("COFFER_TEST_OIDC_SERVICE_SECRET")),
    )
    .await
    .unwrap();
    let client = Client::builder(server.base.clone())
        .token_source(Arc::new(ClientCredentials::new(Arc::new(issuer))))
        .build()
        .unwrap();
    assert_eq!(client.tenant().await.unwrap().tenant.slug, "acme");

    let dir = tempfile::tempdir().unwrap();
    let mut uploaded = Vec::new();
    for i in 0..5 {
        let local = dir.path().join(format!("invoice-{i}.txt"));
        std::fs::write(&local, format!("invoice {i}")).unwrap();
        let new = NewFile::new(format!("invoice-{i}.txt").parse().unwrap())
            .in_folder("/invoices/2026".parse().unwrap());
        let report = client
            .upload(&local, new, Arc::new(NoProgress))
            .await
            .unwrap();
        assert_eq!(report.file.status, coffer_domain::FileStatus::Available);
        assert_eq!(report.file.size, 9);
        uploaded.push(report.file.id);
    }

    // Pages of two: three requests, five files, newest first.
    let query = ListQuery {
        prefix: Some("/invoices".parse().unwrap()),
        limit: Some(2),
        ..ListQuery::default()
    };
    let listed: Vec<_> = client.files(&query).unwrap().try_collect().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|f| f.id).collect();
    let mut newest_first = uploaded.clone();
    newest_first.reverse();
    assert_eq!(ids, newest_first);

    let found = client
        .find(
            &"/invoices/2026".parse().unwrap(),
            &"invoice-3.txt".parse().unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, uploaded[3]);
    let copy = dir.path().join("copy.txt");
    client
        .download(found.id, &copy, Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "invoice 3");

    // Problem documents come back with their code typed.
    match client.file(uuid::Uuid::now_v7()).await {
        Err(Error::Api {
            status: 404, code, ..
        }) => assert!(code.is(ErrorCode::NotFound), "{code}"),
        other => panic!("{other:?}"),
    }
}
