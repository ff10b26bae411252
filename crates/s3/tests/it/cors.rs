//! Browsers upload straight to the store, so the bucket's CORS rules decide
//! which web origins may. A preflight from the configured origin passes;
//! one from any other origin does not.

use coffer_domain::{BucketName, Category, FileId, ObjectKey, TenantId};
use coffer_ports::{BucketSpec, ObjectStore};

use crate::support::{allowed_origin, config, endpoint, fresh_bucket, store_with};

async fn preflight(url: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-checksum-sha256,x-amz-server-side-encryption",
        )
        .send()
        .await
        .expect("preflight")
}

fn allow_origin(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn spec(bucket: &BucketName, origin: &str) -> BucketSpec {
    BucketSpec {
        bucket: bucket.clone(),
        cors_origins: vec![origin.to_owned()],
        abort_incomplete_multipart_days: 1,
        transitions: Vec::new(),
    }
}

async fn assert_allowed(url: &str, origin: &str) {
    let response = preflight(url, origin).await;
    assert!(
        response.status().is_success(),
        "{origin} should be allowed: {}",
        response.status()
    );
    assert_eq!(allow_origin(&response).as_deref(), Some(origin));
    let methods = response
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(methods.contains("PUT"), "allowed methods: {methods}");
}

async fn assert_refused(url: &str, origin: &str) {
    let response = preflight(url, origin).await;
    let allowed = allow_origin(&response);
    assert!(
        !response.status().is_success() || allowed.is_none(),
        "{origin} should be refused: {} {allowed:?}",
        response.status()
    );
    assert_ne!(allowed.as_deref(), Some(origin));
    assert_ne!(allowed.as_deref(), Some("*"));
}

fn object_url(bucket: &BucketName) -> String {
    let tenant = TenantId::new_random();
    let key = ObjectKey::for_file(tenant, &Category::default_category(), FileId::new_v7());
    format!("{}/{bucket}/{key}", endpoint())
}

/// The server-wide test origin, on a bucket set up for it.
#[tokio::test]
async fn preflight_is_allowed_only_from_the_configured_origin() {
    let store = store_with(config()).await;
    let bucket = fresh_bucket("coffer-cors");
    let origin = allowed_origin();
    store
        .ensure_bucket(&spec(&bucket, &origin))
        .await
        .expect("ensure_bucket");
    let url = object_url(&bucket);
    assert_allowed(&url, &origin).await;
    assert_refused(&url, "http://evil.example").await;
}

/// The server also has a fallback origin list (`-s3.allowedOrigins`); a
/// bucket whose rule names another origin proves that the rule written by
/// `ensure_bucket` is what decides, and that a second call replaces it.
#[tokio::test]
async fn the_bucket_rule_decides_and_follows_the_configuration() {
    let store = store_with(config()).await;
    let bucket = fresh_bucket("coffer-cors");
    let url = object_url(&bucket);
    let first = format!("https://{bucket}.first.test");
    let second = format!("https://{bucket}.second.test");

    store
        .ensure_bucket(&spec(&bucket, &first))
        .await
        .expect("ensure_bucket");
    assert_allowed(&url, &first).await;
    assert_refused(&url, &second).await;
    assert_refused(&url, &allowed_origin()).await;

    store
        .ensure_bucket(&spec(&bucket, &second))
        .await
        .expect("ensure_bucket again");
    assert_allowed(&url, &second).await;
    assert_refused(&url, &first).await;
}
