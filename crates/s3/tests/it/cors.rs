//! Browsers upload straight to the store, so the bucket's CORS rules decide
//! which web origins may. A preflight from the configured origin passes;
//! one from any other origin does not.

use coffer_domain::{Category, FileId, ObjectKey, TenantId};
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

#[tokio::test]
async fn preflight_is_allowed_only_from_the_configured_origin() {
    let store = store_with(config()).await;
    let bucket = fresh_bucket("coffer-cors");
    let origin = allowed_origin();
    store
        .ensure_bucket(&BucketSpec {
            bucket: bucket.clone(),
            cors_origins: vec![origin.clone()],
            abort_incomplete_multipart_days: 1,
        })
        .await
        .expect("ensure_bucket");
    let tenant = TenantId::new_random();
    let key = ObjectKey::for_file(tenant, &Category::default_category(), FileId::new_v7());
    let url = format!("{}/{bucket}/{key}", endpoint());

    let allowed = preflight(&url, &origin).await;
    assert!(
        allowed.status().is_success(),
        "allowed origin: {}",
        allowed.status()
    );
    assert_eq!(allow_origin(&allowed).as_deref(), Some(origin.as_str()));
    let methods = allowed
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(methods.contains("PUT"), "allowed methods: {methods}");

    let other = preflight(&url, "http://evil.example").await;
    let other_allowed = allow_origin(&other);
    assert!(
        !other.status().is_success() || other_allowed.is_none(),
        "another origin was allowed: {} {other_allowed:?}",
        other.status()
    );
    assert_ne!(other_allowed.as_deref(), Some("http://evil.example"));
    assert_ne!(other_allowed.as_deref(), Some("*"));
}
