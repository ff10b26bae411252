//! Presigned requests the client sends straight to the store.
//!
//! The SDK signs every header present on the request it presigns, so the
//! content type, length, checksum and encryption headers set on the operation
//! end up in `X-Amz-SignedHeaders` and must be sent verbatim. The checksum in
//! particular stays a header: AWS ignores `x-amz-checksum-sha256` in the query
//! string, so a URL carrying it there would accept any body. The unit tests
//! below pin that down for the SDK version in use.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest as SdkPresigned, PresigningConfig};
use aws_sdk_s3::types::ServerSideEncryption;
use coffer_domain::ContentType;
use coffer_ports::{PresignGet, PresignPart, PresignPut, PresignedRequest};
use time::OffsetDateTime;

use crate::direct_get::DirectGet;
use crate::{S3Config, S3Error};

/// When the signature starts to count and how long it lasts.
pub(crate) fn signing_window(
    now: OffsetDateTime,
    expires_in: Duration,
) -> Result<(PresigningConfig, OffsetDateTime), S3Error> {
    if expires_in.is_zero() || expires_in > S3Config::MAX_PRESIGN {
        return Err(S3Error::Refused(format!(
            "presigned URL lifetime must be between 1 s and 7 days, not {expires_in:?}"
        )));
    }
    let config = PresigningConfig::builder()
        .start_time(SystemTime::from(now))
        .expires_in(expires_in)
        .build()
        .map_err(|e| S3Error::Refused(e.to_string()))?;
    Ok((config, now + expires_in))
}

fn into_port(presigned: &SdkPresigned, expires_at: OffsetDateTime) -> PresignedRequest {
    let headers: BTreeMap<String, String> = presigned
        .headers()
        // Host comes from the URL; HTTP clients set it themselves.
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect();
    PresignedRequest {
        method: presigned.method().to_owned(),
        url: presigned.uri().to_owned(),
        headers,
        expires_at,
    }
}

pub(crate) async fn put(
    client: &aws_sdk_s3::Client,
    sse: bool,
    request: &PresignPut,
) -> Result<PresignedRequest, S3Error> {
    let (window, expires_at) = signing_window(request.now, request.expires_in)?;
    let length = i64::try_from(request.content_length)
        .map_err(|_| S3Error::Refused("content length too large".to_owned()))?;
    let location = &request.location;
    let mut op = client
        .put_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .content_type(request.content_type.as_str())
        .content_length(length);
    if let Some(digest) = &request.checksum_sha256 {
        op = op.checksum_sha256(digest.to_base64());
    }
    if sse {
        op = op.server_side_encryption(ServerSideEncryption::Aes256);
    }
    let presigned = op
        .presigned(window)
        .await
        .map_err(|e| S3Error::sdk("presign PutObject", e))?;
    let mut port = into_port(&presigned, expires_at);
    // The SDK leaves a content length it considers default out of the
    // headers; the signature covers it either way, so name it for the client.
    port.headers
        .entry("content-length".to_owned())
        .or_insert_with(|| request.content_length.to_string());
    Ok(port)
}

/// What a presigned GET names, borrowed from the request.
pub(crate) struct GetInput<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) key: &'a str,
    pub(crate) content_disposition: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
}

/// Presigns a GET directly with SigV4 when `direct` reproduces the SDK for
/// the bucket ([`DirectGet`]), with the SDK otherwise.
pub(crate) async fn get(
    client: &aws_sdk_s3::Client,
    direct: Option<&DirectGet>,
    request: &PresignGet,
) -> Result<PresignedRequest, S3Error> {
    let (window, expires_at) = signing_window(request.now, request.expires_in)?;
    let location = &request.location;
    let input = GetInput {
        bucket: location.bucket().as_str(),
        key: location.key().as_str(),
        content_disposition: request.content_disposition.as_deref(),
        content_type: request.content_type.as_ref().map(ContentType::as_str),
    };
    if let Some(direct) = direct
        && let Some(base) = direct.endpoint(client, input.bucket).await
    {
        let url = direct
            .presign(&base, &input, request.now, request.expires_in)
            .await?;
        return Ok(PresignedRequest {
            method: "GET".to_owned(),
            url,
            headers: BTreeMap::new(),
            expires_at,
        });
    }
    Ok(into_port(
        &sdk_get(client, &input, window).await?,
        expires_at,
    ))
}

/// Presigns a GET with the SDK.
pub(crate) async fn sdk_get(
    client: &aws_sdk_s3::Client,
    input: &GetInput<'_>,
    window: PresigningConfig,
) -> Result<SdkPresigned, S3Error> {
    client
        .get_object()
        .bucket(input.bucket)
        .key(input.key)
        .set_response_content_disposition(input.content_disposition.map(str::to_owned))
        .set_response_content_type(input.content_type.map(str::to_owned))
        .presigned(window)
        .await
        .map_err(|e| S3Error::sdk("presign GetObject", e))
}

pub(crate) async fn part(
    client: &aws_sdk_s3::Client,
    request: &PresignPart,
) -> Result<PresignedRequest, S3Error> {
    let part_number = request.part_number;
    if !(1..=10_000).contains(&part_number) {
        return Err(S3Error::Refused(format!(
            "part number {part_number} is outside 1..=10000"
        )));
    }
    let (window, expires_at) = signing_window(request.now, request.expires_in)?;
    let length = i64::try_from(request.content_length)
        .map_err(|_| S3Error::Refused("content length too large".to_owned()))?;
    let location = &request.location;
    let mut op = client
        .upload_part()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .upload_id(&request.upload_id)
        .part_number(i32::from(part_number))
        .content_length(length);
    if let Some(digest) = &request.checksum_sha256 {
        op = op.checksum_sha256(digest.to_base64());
    }
    let presigned = op
        .presigned(window)
        .await
        .map_err(|e| S3Error::sdk("presign UploadPart", e))?;
    let mut port = into_port(&presigned, expires_at);
    port.headers
        .entry("content-length".to_owned())
        .or_insert_with(|| request.content_length.to_string());
    Ok(port)
}

#[cfg(test)]
mod tests {
    use coffer_domain::{BucketName, Category, ContentType, FileId, Sha256Digest, TenantId};
    use coffer_ports::ObjectLocation;

    use super::*;

    async fn offline_client() -> aws_sdk_s3::Client {
        let config = S3Config {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            access_key_id: Some("test-key".to_owned()),
            secret_access_key: Some("test-secret".into()),
            force_path_style: true,
            ..S3Config::default()
        };
        match crate::client::shared_config(&config, config.endpoint.as_ref()).await {
            Ok(shared) => crate::client::s3_client(&config, &shared),
            Err(e) => panic!("client: {e}"),
        }
    }

    fn location() -> ObjectLocation {
        let tenant = TenantId::new_random();
        let bucket = BucketName::new("coffer-test").unwrap_or_else(|e| panic!("{e}"));
        ObjectLocation::for_file(
            tenant,
            bucket,
            &Category::default_category(),
            FileId::new_v7(),
        )
    }

    fn query_names(url: &str) -> Vec<String> {
        url.split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|p| p.split('=').next())
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn signed_headers(url: &str) -> String {
        url.split('&')
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap_or_default()
            .replace("%3B", ";")
    }

    #[tokio::test]
    async fn put_signs_checksum_and_encryption_as_headers_not_query() {
        let digest = Sha256Digest::from_bytes([7; 32]);
        let request = PresignPut {
            location: location(),
            content_type: ContentType::new("application/pdf").unwrap_or_else(|e| panic!("{e}")),
            content_length: 1234,
            checksum_sha256: Some(digest),
            now: OffsetDateTime::now_utc(),
            expires_in: Duration::from_secs(300),
        };
        let presigned = match put(&offline_client().await, true, &request).await {
            Ok(p) => p,
            Err(e) => panic!("presign: {e}"),
        };
        assert_eq!(presigned.method, "PUT");
        assert_eq!(
            presigned.headers.get("content-type").map(String::as_str),
            Some("application/pdf")
        );
        assert_eq!(
            presigned.headers.get("content-length").map(String::as_str),
            Some("1234")
        );
        assert_eq!(
            presigned.headers.get("x-amz-checksum-sha256"),
            Some(&digest.to_base64())
        );
        assert_eq!(
            presigned
                .headers
                .get("x-amz-server-side-encryption")
                .map(String::as_str),
            Some("AES256")
        );
        // AWS ignores a checksum in the query string: it must be a signed header.
        let query = query_names(&presigned.url);
        assert!(
            !query.iter().any(|q| q.starts_with("x-amz-checksum")),
            "{}",
            presigned.url
        );
        assert!(
            !query.iter().any(|q| q == "x-amz-server-side-encryption"),
            "{}",
            presigned.url
        );
        let signed = signed_headers(&presigned.url);
        for header in [
            "content-length",
            "content-type",
            "host",
            "x-amz-checksum-sha256",
            "x-amz-server-side-encryption",
        ] {
            assert!(
                signed.split(';').any(|h| h == header),
                "{header} not in {signed}"
            );
        }
        // Every header handed to the client is covered by the signature.
        for name in presigned.headers.keys() {
            assert!(
                signed.split(';').any(|h| h == name),
                "{name} not signed: {signed}"
            );
        }
    }

    #[tokio::test]
    async fn lifetimes_beyond_a_week_are_refused() {
        let request = PresignGet {
            location: location(),
            content_disposition: None,
            content_type: None,
            now: OffsetDateTime::now_utc(),
            expires_in: S3Config::MAX_PRESIGN + Duration::from_secs(1),
        };
        let err = get(&offline_client().await, None, &request).await.err();
        assert!(matches!(err, Some(S3Error::Refused(_))), "{err:?}");
    }

    fn part_request(part_number: u16, checksum_sha256: Option<Sha256Digest>) -> PresignPart {
        PresignPart {
            location: location(),
            upload_id: "upload".to_owned(),
            part_number,
            content_length: 5 << 20,
            checksum_sha256,
            now: OffsetDateTime::now_utc(),
            expires_in: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn parts_sign_their_length_and_checksum_as_headers() {
        let digest = Sha256Digest::from_bytes([9; 32]);
        let presigned = match part(&offline_client().await, &part_request(3, Some(digest))).await {
            Ok(p) => p,
            Err(e) => panic!("presign: {e}"),
        };
        assert_eq!(
            presigned.headers.get("content-length").map(String::as_str),
            Some("5242880")
        );
        assert_eq!(
            presigned.headers.get("x-amz-checksum-sha256"),
            Some(&digest.to_base64())
        );
        let signed = signed_headers(&presigned.url);
        for header in ["content-length", "x-amz-checksum-sha256"] {
            assert!(
                signed.split(';').any(|h| h == header),
                "{header} not in {signed}"
            );
        }
        let query = query_names(&presigned.url);
        assert!(query.iter().any(|q| q == "partnumber"), "{}", presigned.url);
    }

    #[tokio::test]
    async fn part_numbers_outside_s3_range_are_refused() {
        let client = offline_client().await;
        for number in [0, 10_001] {
            let err = part(&client, &part_request(number, None)).await.err();
            assert!(
                matches!(err, Some(S3Error::Refused(_))),
                "{number}: {err:?}"
            );
        }
    }
}
