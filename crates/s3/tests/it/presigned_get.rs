//! Presigned GET URLs, signed by the adapter with SigV4 directly: the same
//! URL the SDK presigns, and the store serves it — and refuses it expired,
//! tampered with, or signed with the wrong secret.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use bytes::Bytes;
use coffer_domain::ContentType;
use coffer_ports::{ObjectLocation, ObjectStore, PresignGet};
use coffer_s3::S3Config;
use futures::stream;
use time::OffsetDateTime;

use crate::support::{config, contract_store, raw_client, store_with};

const DISPOSITION: &str =
    "attachment; filename=\"Bericht Marz.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf";

fn presign_request(location: &ObjectLocation, now: OffsetDateTime) -> PresignGet {
    PresignGet {
        location: location.clone(),
        content_disposition: Some(DISPOSITION.to_owned()),
        content_type: Some(ContentType::new("application/pdf").expect("content type")),
        now,
        expires_in: Duration::from_secs(300),
    }
}

async fn stored_object(store: &dyn ObjectStore, location: &ObjectLocation, body: &[u8]) {
    let content_type = ContentType::new("application/octet-stream").expect("content type");
    let chunks = stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(body))]);
    store
        .put_stream(location, &content_type, Box::pin(chunks))
        .await
        .expect("put_stream");
}

async fn status_of(url: &str) -> reqwest::StatusCode {
    reqwest::get(url).await.expect("GET").status()
}

/// `url` with the value of query parameter `name` replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let replaced: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => param.to_owned(),
        })
        .collect();
    assert_ne!(replaced.join("&"), query, "{name} not in {url}");
    format!("{base}?{}", replaced.join("&"))
}

#[tokio::test]
async fn a_presigned_get_is_the_sdks_url_and_downloads_the_object() {
    let (store, harness) = contract_store().await;
    let location = harness.location();
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    stored_object(store.as_ref(), &location, &body).await;

    let now = OffsetDateTime::now_utc();
    let presigned = store
        .presign_get(presign_request(&location, now))
        .await
        .expect("presign_get");
    let sdk = raw_client()
        .get_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .response_content_disposition(DISPOSITION)
        .response_content_type("application/pdf")
        .presigned(
            PresigningConfig::builder()
                .start_time(now.into())
                .expires_in(Duration::from_secs(300))
                .build()
                .expect("presigning config"),
        )
        .await
        .expect("SDK presign");
    assert_eq!(presigned.url, sdk.uri());
    assert!(presigned.headers.is_empty(), "{:?}", presigned.headers);

    let response = reqwest::get(&presigned.url).await.expect("GET");
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    for (name, expected) in [
        ("content-disposition", DISPOSITION),
        ("content-type", "application/pdf"),
    ] {
        assert_eq!(
            headers.get(name).map(|v| v.as_bytes()),
            Some(expected.as_bytes())
        );
    }
    let downloaded = response.bytes().await.expect("body");
    assert_eq!(downloaded.as_ref(), body.as_slice());
}

#[tokio::test]
async fn expired_tampered_or_missigned_get_urls_are_refused() {
    let (store, harness) = contract_store().await;
    let location = harness.location();
    stored_object(store.as_ref(), &location, b"secret bytes").await;

    let fresh = store
        .presign_get(presign_request(&location, OffsetDateTime::now_utc()))
        .await
        .expect("presign_get");
    assert!(status_of(&fresh.url).await.is_success());

    let long_ago = OffsetDateTime::now_utc() - Duration::from_secs(3600);
    let expired = store
        .presign_get(presign_request(&location, long_ago))
        .await
        .expect("presign_get");
    assert!(expired.expires_at < OffsetDateTime::now_utc());
    assert!(status_of(&expired.url).await.is_client_error(), "expired");

    let zeros = "0".repeat(64);
    for (what, url) in [
        (
            "signature",
            with_param(&fresh.url, "X-Amz-Signature", &zeros),
        ),
        (
            "content type",
            with_param(&fresh.url, "response-content-type", "text%2Fhtml"),
        ),
        (
            "lifetime",
            with_param(&fresh.url, "X-Amz-Expires", "604800"),
        ),
    ] {
        assert!(status_of(&url).await.is_client_error(), "tampered {what}");
    }

    let wrong_secret = store_with(S3Config {
        secret_access_key: Some("not-the-secret".into()),
        ..config()
    })
    .await;
    let missigned = wrong_secret
        .presign_get(presign_request(&location, OffsetDateTime::now_utc()))
        .await
        .expect("presign_get");
    assert!(
        status_of(&missigned.url).await.is_client_error(),
        "wrong secret"
    );
}
