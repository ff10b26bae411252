//! Coffer's own storage URLs, driven over real HTTP: what they allow, and
//! every way a request that differs from what was signed is refused.

use std::time::Duration;

use bytes::Bytes;
use coffer_fs::{CHECKSUM_HEADER, StorageAccess, TransferError};
use coffer_ports::{ObjectStore, StoreErrorKind};
use time::OffsetDateTime;

use crate::support::{assert_nothing_stored, fresh, get_request};
use crate::support::{bytes, content_type, put_request, send, sha256};

#[tokio::test]
async fn put_then_get_restores_bytes_name_and_type() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let body = bytes(200_000);
    let put = store
        .presign_put(put_request(&loc, &body, Some(sha256(&body))))
        .await
        .unwrap();
    assert!(
        put.url
            .starts_with(&format!("{}/storage/files/t/", test.url))
    );
    let response = send(&put, body.clone(), &[]).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();

    let head = store.head(&loc).await.unwrap();
    assert_eq!(head.size, body.len() as u64);
    assert_eq!(head.checksum_sha256, Some(sha256(&body)));
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.etag.as_deref(), Some(etag.as_str()));

    let disposition = "attachment; filename=\"r.txt\"; filename*=UTF-8''r%C3%A9.txt";
    let get = store
        .presign_get(get_request(
            &loc,
            Some(disposition.to_owned()),
            Some(content_type("text/markdown")),
        ))
        .await
        .unwrap();
    let response = send(&get, Vec::new(), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-disposition"], disposition);
    assert_eq!(response.headers()["content-type"], "text/markdown");
    assert_eq!(response.bytes().await.unwrap(), body);

    let ranged = send(&get, Vec::new(), &[("range", Some("bytes=10-19"))]).await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], "bytes 10-19/200000");
    assert_eq!(ranged.bytes().await.unwrap(), body.slice(10..20));
    let beyond = send(&get, Vec::new(), &[("range", Some("bytes=999999-"))]).await;
    assert_eq!(beyond.status(), 416);
}

/// The status and code a refused upload of `body` got, and whether anything
/// was stored anyway.
async fn refused_put(
    sign_for: &[u8],
    checksum: bool,
    send_body: impl Into<reqwest::Body>,
    overrides: &[(&str, Option<&str>)],
    tamper: impl Fn(String) -> String,
) -> (u16, String, bool) {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let checksum = checksum.then(|| sha256(sign_for));
    let mut put = store
        .presign_put(put_request(&loc, sign_for, checksum))
        .await
        .unwrap();
    put.url = tamper(put.url);
    let response = send(&put, send_body, overrides).await;
    let status = response.status().as_u16();
    let code = response.text().await.unwrap();
    let stored = store.head(&loc).await.map(|_| true).unwrap_or_else(|e| {
        assert!(e.is(StoreErrorKind::NotFound), "{e}");
        false
    });
    (status, code, stored)
}

fn same(url: String) -> String {
    url
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let flip_last = |url: String| {
        let mut url = url.into_bytes();
        if let Some(last) = url.last_mut() {
            *last = if *last == b'0' { b'1' } else { b'0' };
        }
        String::from_utf8(url).unwrap()
    };
    let result = refused_put(b"hello", false, "hello", &[], flip_last).await;
    assert_eq!(result, (403, "signature-mismatch".to_owned(), false));
}

#[tokio::test]
async fn tampered_signed_parameter_is_refused() {
    // A bigger body with the signed length raised in the URL.
    let raise_length =
        |url: String| url.replace("X-Coffer-Content-Length=5", "X-Coffer-Content-Length=6");
    let result = refused_put(b"hello", false, "hello!", &[], raise_length).await;
    assert_eq!(result, (403, "signature-mismatch".to_owned(), false));
}

#[tokio::test]
async fn url_for_another_key_is_refused() {
    let other_key = |url: String| {
        let (path, query) = url.split_once('?').unwrap();
        let (dir, _) = path.rsplit_once('/').unwrap();
        format!("{dir}/0190a4b0-0000-7000-8000-000000000000?{query}")
    };
    let result = refused_put(b"hello", false, "hello", &[], other_key).await;
    assert_eq!((result.0, result.1.as_str()), (403, "signature-mismatch"));
}

#[tokio::test]
async fn missing_signature_is_refused() {
    let strip = |url: String| url.split_once("&X-Coffer-Signature").unwrap().0.to_owned();
    let result = refused_put(b"hello", false, "hello", &[], strip).await;
    assert_eq!(result, (403, "missing-signature".to_owned(), false));
}

#[tokio::test]
async fn expired_url_is_refused() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let mut request = put_request(&loc, b"late", None);
    request.now = OffsetDateTime::now_utc() - Duration::from_secs(3600);
    request.expires_in = Duration::from_secs(60);
    let put = store.presign_put(request).await.unwrap();
    let response = send(&put, "late", &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.text().await.unwrap(), "expired");
    assert!(store.head(&loc).await.is_err());
}

#[tokio::test]
async fn wrong_method_is_refused() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let mut put = store
        .presign_put(put_request(&loc, b"x", None))
        .await
        .unwrap();
    put.method = "GET".to_owned();
    let response = send(&put, Vec::new(), &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.text().await.unwrap(), "wrong-method");

    let mut get = store
        .presign_get(get_request(&loc, None, None))
        .await
        .unwrap();
    get.method = "PUT".to_owned();
    let response = send(&get, "x", &[("content-type", Some("text/plain"))]).await;
    assert_eq!(response.status(), 403);
    assert!(store.head(&loc).await.is_err());
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let result = refused_put(
        b"<p>",
        false,
        "<p>",
        &[("content-type", Some("text/html"))],
        same,
    )
    .await;
    assert_eq!(result, (403, "content-type-mismatch".to_owned(), false));
}

#[tokio::test]
async fn longer_body_than_signed_is_refused() {
    let result = refused_put(b"hello", false, "hello world", &[], same).await;
    assert_eq!(result, (413, "content-length-mismatch".to_owned(), false));
}

#[tokio::test]
async fn shorter_body_than_signed_is_refused() {
    let result = refused_put(b"hello", false, "hell", &[], same).await;
    assert_eq!(result, (400, "content-length-mismatch".to_owned(), false));
}

#[tokio::test]
async fn body_without_length_is_refused() {
    let chunked = reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
        Bytes::from_static(b"hello"),
    )]));
    let result = refused_put(b"hello", false, chunked, &[], same).await;
    assert_eq!(result, (411, "missing-content-length".to_owned(), false));
}

#[tokio::test]
async fn checksum_header_other_than_signed_is_refused() {
    let other = sha256(b"other").to_base64();
    let result = refused_put(
        b"hello",
        true,
        "hello",
        &[(CHECKSUM_HEADER, Some(&other))],
        same,
    )
    .await;
    assert_eq!(result, (403, "checksum-mismatch".to_owned(), false));
    let result = refused_put(b"hello", true, "hello", &[(CHECKSUM_HEADER, None)], same).await;
    assert_eq!(result, (403, "checksum-mismatch".to_owned(), false));
}

#[tokio::test]
async fn body_other_than_signed_checksum_is_refused() {
    // Same length, same headers, other bytes: only the streamed hash can tell.
    let result = refused_put(b"hello", true, "jello", &[], same).await;
    assert_eq!(result, (400, "bad-digest".to_owned(), false));
}

#[tokio::test]
async fn tampered_response_headers_are_refused() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let get = store
        .presign_get(get_request(
            &loc,
            Some("attachment; filename=\"a.txt\"".to_owned()),
            None,
        ))
        .await
        .unwrap();
    let mut tampered = get.clone();
    tampered.url = get.url.replace("attachment", "inline");
    assert_ne!(tampered.url, get.url);
    assert_eq!(send(&tampered, Vec::new(), &[]).await.status(), 403);
}

/// The streamed checks, without HTTP framing in the way: a body that ends
/// early or runs long fails, and leaves neither an object nor a temp file.
#[tokio::test]
async fn streamed_body_must_match_signed_length() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let put = store
        .presign_put(put_request(&loc, b"0123456789", None))
        .await
        .unwrap();
    let (path, query) = put
        .url
        .trim_start_matches(&test.url)
        .split_once('?')
        .unwrap();
    let headers = |name: &str| match name {
        "content-type" => Some("text/plain"),
        "content-length" => Some("10"),
        _ => None,
    };
    for (chunks, expected) in [
        (vec!["0123", "4"], "incomplete-body"),
        (vec!["0123456789", "!"], "entity-too-large"),
    ] {
        let Ok(StorageAccess::Put(access)) = store.authorize("PUT", path, query, headers) else {
            panic!("a request as signed is authorised");
        };
        assert_eq!(access.content_length(), 10);
        let body = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        let failed: TransferError = store.serve_put(access, body).await.unwrap_err();
        assert_eq!(failed.code(), expected);
        assert_nothing_stored(&test, &loc).await;
    }
}

#[tokio::test]
async fn multipart_through_part_urls_assembles_the_parts() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let upload = store
        .create_multipart(&loc, &content_type("video/mp4"))
        .await
        .unwrap();
    let first = bytes(70_000);
    let second = Bytes::from_static(b"tail");
    let mut parts = Vec::new();
    for (number, body) in [(1, first.clone()), (2, second.clone())] {
        let size = body.len() as u64;
        let url = store
            .presign_part(coffer_ports::PresignPart {
                location: loc.clone(),
                upload_id: upload.clone(),
                part_number: number,
                content_length: size,
                checksum_sha256: None,
                now: OffsetDateTime::now_utc(),
                expires_in: Duration::from_secs(60),
            })
            .await
            .unwrap();
        let response = send(&url, body, &[]).await;
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(coffer_ports::UploadedPart {
            part_number: number,
            etag,
            size,
        });
    }
    assert_eq!(store.list_parts(&loc, &upload).await.unwrap(), parts);
    let meta = store
        .complete_multipart(&loc, &upload, parts)
        .await
        .unwrap();
    let whole = [first.as_ref(), second.as_ref()].concat();
    assert_eq!(meta.size, whole.len() as u64);
    assert_eq!(meta.checksum_sha256, Some(sha256(&whole)));
    assert_eq!(
        store.head(&loc).await.unwrap().content_type.as_deref(),
        Some("video/mp4")
    );
    // The upload is gone once completed.
    assert!(
        store
            .list_parts(&loc, &upload)
            .await
            .unwrap_err()
            .is(StoreErrorKind::NotFound)
    );
}
