//! Data residency end to end: `us-east` on the shared SeaweedFS, `eu-west`
//! on a SeaweedFS of this test's own (an endpoint of its own, with its own
//! credentials). Tenants of each region upload (presigned and streamed)
//! and download over the API; then both stores are listed directly, past
//! Coffer, and every object of a tenant must be on its region's endpoint
//! and none anywhere else. Dedicated buckets, the reconciler, the purge and
//! readiness follow the same endpoint.

use std::collections::BTreeSet;
use std::time::Duration;

use coffer_domain::{TenantId, TenantSlug};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;
use crate::weed::{EU_WEST_WEED_BASE, Weed};

fn short() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A client of one endpoint, past Coffer.
pub(crate) fn s3(endpoint: &str, key_id: &str, secret: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key_id,
            secret,
            None,
            None,
            "coffer-tests",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap()
}

pub(crate) fn shared_store() -> aws_sdk_s3::Client {
    s3(
        &env("COFFER_TEST_S3_ENDPOINT"),
        &env("COFFER_TEST_S3_ACCESS_KEY_ID"),
        &env("COFFER_TEST_S3_SECRET_ACCESS_KEY"),
    )
}

async fn bucket_names(client: &aws_sdk_s3::Client) -> BTreeSet<String> {
    let listed = client.list_buckets().send().await.unwrap();
    listed
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

/// Every `(bucket, key)` under `t/{tenant}/` in every bucket of the
/// endpoint: not only the buckets Coffer was told about.
pub(crate) async fn objects_of(
    client: &aws_sdk_s3::Client,
    tenant: TenantId,
) -> BTreeSet<(String, String)> {
    let prefix = format!("t/{tenant}/");
    let mut found = BTreeSet::new();
    for bucket in bucket_names(client).await {
        let mut pages = client
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // Another test removed its bucket meanwhile.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_no_such_bucket()) =>
                {
                    break;
                }
                Err(err) => panic!("listing {bucket}: {err:?}"),
            };
            for object in page.contents() {
                found.insert((bucket.clone(), object.key().unwrap().to_owned()));
            }
        }
    }
    found
}

struct Onboarded {
    slug: String,
    id: TenantId,
    token: String,
}

async fn onboard(server: &TestServer, region: &str, dedicated: Option<&str>) -> Onboarded {
    let slug = format!("r-{}", short());
    let mut body = json!({
        "slug": slug, "display_name": "Residency", "plan": "enterprise", "region": region,
        "limit_overrides": { "retention_days": 0 },
    });
    if let Some(bucket) = dedicated {
        body["dedicated_bucket"] = json!(bucket);
    }
    let created = server.create_tenant(&body).await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    let id = server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&TenantSlug::new(slug.clone()).unwrap())
        .await
        .unwrap()
        .id;
    let token = server.token(Some(&slug), "alice", &["editor"]).await;
    Onboarded { slug, id, token }
}

/// A presigned upload, whose URL must point at `endpoint`; returns the file id.
async fn direct_upload(server: &TestServer, tenant: &Onboarded, endpoint: &str) -> String {
    let initiated = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &tenant.token)
            .json(&json!({ "filename": "direct.pdf", "size": PDF.len() }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let url = initiated["upload"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{endpoint}/")),
        "{}: upload URL {url} is not on {endpoint}",
        tenant.slug
    );
    let put = put_bytes(server, &initiated["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let id = initiated["file"]["id"].as_str().unwrap().to_owned();
    let done = ok_json(
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{id}/complete"),
                &tenant.token,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "available");
    id
}

/// An upload streamed through Coffer; returns the file id.
async fn streamed_upload(server: &TestServer, tenant: &Onboarded) -> String {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("streamed.png"),
    );
    let file = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &tenant.token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    file["id"].as_str().unwrap().to_owned()
}

/// The download URL points at `endpoint` and serves `bytes`; so does the
/// content streamed through Coffer.
async fn assert_downloads(
    server: &TestServer,
    tenant: &Onboarded,
    id: &str,
    endpoint: &str,
    bytes: &[u8],
) {
    let link: Value = ok_json(
        server
            .req(
                Method::GET,
                &format!("/api/v1/files/{id}/download?redirect=false"),
                &tenant.token,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{endpoint}/")),
        "{}: download URL {url} is not on {endpoint}",
        tenant.slug
    );
    let got = server.http.get(url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes);
    let content = server
        .req(
            Method::GET,
            &format!("/api/v1/files/{id}/content"),
            &tenant.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.unwrap().as_ref(), bytes);
}

/// The files whose objects are in `bucket`: the id after
/// `t/{tenant}/{category}/` (a streamed upload's key ends there, a direct
/// upload's verified key has the copy's id after it).
fn files_in(objects: &BTreeSet<(String, String)>, bucket: &str) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|(b, _)| b == bucket)
        .map(|(_, key)| key.split('/').nth(3).unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn each_regions_tenants_live_on_their_regions_endpoint_only() {
    let eu = Weed::start(EU_WEST_WEED_BASE).await;
    let eu_endpoint = eu.endpoint();
    let us_endpoint = env("COFFER_TEST_S3_ENDPOINT");
    let (us_bucket, eu_bucket, own_bucket) = (
        format!("e2e-us-{}", short()),
        format!("e2e-eu-{}", short()),
        format!("e2e-own-{}", short()),
    );
    let settings = [
        // us-east: a bucket on the default (shared) endpoint.
        (
            "COFFER__STORAGE__REGIONS__US_EAST__BUCKET",
            us_bucket.clone(),
        ),
        // eu-west: a bucket on an endpoint of its own, with its own keys.
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__BUCKET",
            eu_bucket.clone(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__ENDPOINT",
            eu_endpoint.clone(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__ACCESS_KEY_ID",
            "coffer-test".to_owned(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__SECRET_ACCESS_KEY",
            eu.secret.clone(),
        ),
        // Inherited by eu-west (as `force_path_style` is): readiness of a
        // frozen store answers quickly.
        ("COFFER__STORAGE__S3__READY_TIMEOUT", "2".to_owned()),
    ];
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await;
    let (shared, eu_store) = (shared_store(), s3(&eu_endpoint, "coffer-test", &eu.secret));

    // Each region's bucket was prepared on its own endpoint, and only there.
    let (shared_buckets, eu_buckets) = (bucket_names(&shared).await, bucket_names(&eu_store).await);
    assert!(shared_buckets.contains(&us_bucket), "{shared_buckets:?}");
    assert!(!shared_buckets.contains(&eu_bucket));
    assert!(eu_buckets.contains(&eu_bucket), "{eu_buckets:?}");
    assert!(!eu_buckets.contains(&us_bucket));

    let us_t = onboard(&server, "us-east", None).await;
    let eu_t = onboard(&server, "eu-west", None).await;
    let own_t = onboard(&server, "eu-west", Some(&own_bucket)).await;
    // A dedicated bucket of an eu-west tenant is made on the eu-west endpoint.
    assert!(bucket_names(&eu_store).await.contains(&own_bucket));
    assert!(!bucket_names(&shared).await.contains(&own_bucket));

    let mut files = Vec::new();
    for (tenant, endpoint, bucket) in [
        (&us_t, &us_endpoint, &us_bucket),
        (&eu_t, &eu_endpoint, &eu_bucket),
        (&own_t, &eu_endpoint, &own_bucket),
    ] {
        let direct = direct_upload(&server, tenant, endpoint).await;
        let streamed = streamed_upload(&server, tenant).await;
        assert_downloads(&server, tenant, &direct, endpoint, PDF).await;
        assert_downloads(&server, tenant, &streamed, endpoint, PNG).await;
        files.push((tenant, endpoint, bucket, BTreeSet::from([direct, streamed])));
    }

    for (tenant, endpoint, bucket, ids) in &files {
        let (home, away) = if **endpoint == eu_endpoint {
            (&eu_store, &shared)
        } else {
            (&shared, &eu_store)
        };
        let at_home = objects_of(home, tenant.id).await;
        assert_eq!(
            files_in(&at_home, bucket),
            *ids,
            "{}: its objects in {bucket}: {at_home:?}",
            tenant.slug
        );
        assert_eq!(at_home.len(), ids.len(), "{}: {at_home:?}", tenant.slug);
        let abroad = objects_of(away, tenant.id).await;
        assert!(
            abroad.is_empty(),
            "{}: objects outside its region: {abroad:?}",
            tenant.slug
        );
    }

    // The reconciler finds every eu-west object where it is (nothing
    // missing), and repairs there: an orphan on the eu-west endpoint is
    // deleted from it.
    let orphan = format!("t/{}/documents/{}", eu_t.id, uuid::Uuid::now_v7());
    eu_store
        .put_object()
        .bucket(&eu_bucket)
        .key(&orphan)
        .body(b"nobody's".to_vec().into())
        .send()
        .await
        .unwrap();
    for tenant in [&us_t, &eu_t, &own_t] {
        let report = server
            .wiring
            .coffer
            .reconciler()
            .reconcile(Some(tenant.id), false, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(
            (report.objects_scanned, report.missing_found),
            (2 + u64::from(tenant.id == eu_t.id), 0),
            "{}: {report:?}",
            tenant.slug
        );
    }
    let repaired = server
        .wiring
        .coffer
        .reconciler()
        .reconcile(Some(eu_t.id), true, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(repaired.orphans_deleted, 1, "{repaired:?}");
    assert!(
        !objects_of(&eu_store, eu_t.id)
            .await
            .iter()
            .any(|(_, key)| *key == orphan)
    );

    // The purge of a cancelled eu-west tenant empties and removes its
    // dedicated bucket on the eu-west endpoint.
    let root = server.platform_admin().await;
    ok_json(
        server
            .req(
                Method::PATCH,
                &format!("/api/v1/tenants/{}", own_t.id),
                &root,
            )
            .json(&json!({ "status": "cancelled" }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let swept = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((swept.tenants_purged, swept.failed), (1, 0), "{swept:?}");
    assert!(!bucket_names(&eu_store).await.contains(&own_bucket));
    assert!(objects_of(&eu_store, own_t.id).await.is_empty());
    assert_eq!(objects_of(&eu_store, eu_t.id).await.len(), 2);

    // Readiness asks every region's store: eu-west frozen, not ready.
    let ready = |server: &TestServer| server.http.get(server.url("/readyz")).send();
    assert_eq!(ready(&server).await.unwrap().status(), StatusCode::OK);
    eu.signal("STOP");
    let frozen = ready(&server).await.unwrap().status();
    eu.signal("CONT");
    assert_eq!(frozen, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready(&server).await.unwrap().status(), StatusCode::OK);
}
