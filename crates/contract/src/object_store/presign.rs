//! Presigned PUT and GET: bound to the type, length, checksum and
//! signature they were issued for, and refused once expired.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{DispositionKind, Filename, content_disposition};
use coffer_ports::{ObjectStore, PresignGet, PresignPut};
use time::OffsetDateTime;

use super::fixtures::{
    Harness, assert_put_refused, content_type, ok, pattern, plain_get, presign_put_request, send,
    sha256, upload_via_presigned_put,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_presign_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; presign;
            presigned_put_then_get_round_trip,
            presigned_put_refuses_other_content_type,
            presigned_put_refuses_other_content_length,
            presigned_put_refuses_wrong_checksum,
            presigned_put_refuses_tampered_signature,
            presigned_urls_refuse_after_expiry,
        );
    };
}

/// Presigned PUT, then presigned GET: same bytes, filename and type restored.
pub async fn presigned_put_then_get_round_trip(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let body = pattern(1, 0, 10_000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(
                &location,
                "application/pdf",
                &body,
                true,
            ))
            .await,
        "presign_put",
    );
    assert_eq!(presigned.method, "PUT");
    assert_eq!(
        presigned.headers.get("content-type").map(String::as_str),
        Some("application/pdf"),
        "the client is told the exact content type to send"
    );
    assert!(presigned.expires_at > OffsetDateTime::now_utc());
    let response = send(&http, &presigned, body.clone(), |_| {}).await;
    assert!(response.status().is_success(), "PUT: {}", response.status());

    let filename = ok(Filename::new("Bericht März \"final\".pdf"), "filename");
    let disposition = content_disposition(DispositionKind::Attachment, &filename);
    let get = ok(
        store
            .presign_get(PresignGet {
                content_disposition: Some(disposition.clone()),
                content_type: Some(content_type("application/pdf")),
                ..plain_get(&location)
            })
            .await,
        "presign_get",
    );
    assert_eq!(get.method, "GET");
    let response = send(&http, &get, Vec::new(), |_| {}).await;
    assert!(response.status().is_success(), "GET: {}", response.status());
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-disposition"), Some(disposition));
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    let downloaded = ok(response.bytes().await, "GET body");
    assert_eq!(
        downloaded.as_ref(),
        body.as_slice(),
        "downloaded bytes differ"
    );
}

pub async fn presigned_put_refuses_other_content_type(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(2, 0, 1000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "image/png", &body, false))
            .await,
        "presign_put",
    );
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body,
        |headers| {
            headers.insert("content-type".to_owned(), "text/html".to_owned());
        },
        "PUT with another content type",
    )
    .await;
}

pub async fn presigned_put_refuses_other_content_length(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(3, 0, 1000);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, false))
            .await,
        "presign_put",
    );
    assert_eq!(
        presigned.headers.get("content-length").map(String::as_str),
        Some("1000"),
        "the client is told the exact length to send"
    );
    for (len, why) in [(1001, "a longer body"), (999, "a shorter body")] {
        assert_put_refused(
            store.as_ref(),
            &presigned,
            &location,
            pattern(3, 0, len),
            |_| {},
            why,
        )
        .await;
    }
}

pub async fn presigned_put_refuses_wrong_checksum(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(4, 0, 4096);
    let presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, true))
            .await,
        "presign_put",
    );
    // Same length, same headers, other bytes: only the checksum can catch it.
    let mut other = body.clone();
    other[100] ^= 0xff;
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        other,
        |_| {},
        "a body that does not match the signed checksum",
    )
    .await;
    // And a checksum header other than the signed one breaks the signature.
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body.clone(),
        |headers| {
            for (name, value) in headers.iter_mut() {
                if name.contains("checksum") || name.contains("digest") {
                    *value = sha256(b"something else").to_base64();
                }
            }
        },
        "a checksum header other than the signed one",
    )
    .await;
}

pub async fn presigned_put_refuses_tampered_signature(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let body = pattern(5, 0, 100);
    let mut presigned = ok(
        store
            .presign_put(presign_put_request(&location, "text/plain", &body, false))
            .await,
        "presign_put",
    );
    presigned.url = tamper_signature(&presigned.url);
    assert_put_refused(
        store.as_ref(),
        &presigned,
        &location,
        body,
        |_| {},
        "tampered signature",
    )
    .await;
}

/// Flips the last character of the query parameter carrying the signature.
fn tamper_signature(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .unwrap_or_else(|| panic!("presigned URL has no query: {url}"));
    let mut found = false;
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, value)) if name.to_ascii_lowercase().contains("signature") => {
                found = true;
                let mut value = value.to_owned();
                let last = value.pop().unwrap_or('0');
                value.push(if last == '0' { '1' } else { '0' });
                format!("{name}={value}")
            }
            _ => param.to_owned(),
        })
        .collect();
    assert!(found, "no signature query parameter in {url}");
    format!("{base}?{}", params.join("&"))
}

pub async fn presigned_urls_refuse_after_expiry(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let long_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    let location = h.location();
    let body = pattern(6, 0, 100);
    let expired_put = ok(
        store
            .presign_put(PresignPut {
                now: long_ago,
                expires_in: Duration::from_secs(60),
                ..presign_put_request(&location, "text/plain", &body, false)
            })
            .await,
        "presign_put",
    );
    assert!(expired_put.expires_at < OffsetDateTime::now_utc());
    assert_put_refused(
        store.as_ref(),
        &expired_put,
        &location,
        body.clone(),
        |_| {},
        "expired PUT",
    )
    .await;

    upload_via_presigned_put(store.as_ref(), &http, &location, "text/plain", &body).await;
    let expired_get = ok(
        store
            .presign_get(PresignGet {
                now: long_ago,
                expires_in: Duration::from_secs(60),
                ..plain_get(&location)
            })
            .await,
        "presign_get",
    );
    let response = send(&http, &expired_get, Vec::new(), |_| {}).await;
    assert!(
        response.status().is_client_error(),
        "expired GET answered {}",
        response.status()
    );
    let fresh = ok(store.presign_get(plain_get(&location)).await, "presign_get");
    let response = send(&http, &fresh, Vec::new(), |_| {}).await;
    assert!(
        response.status().is_success(),
        "fresh GET: {}",
        response.status()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_only_the_signature() {
        let url = "http://s/b/k?X-Amz-Date=1&X-Amz-Signature=abc0&x=y";
        assert_eq!(
            tamper_signature(url),
            "http://s/b/k?X-Amz-Date=1&X-Amz-Signature=abc1&x=y"
        );
    }
}
