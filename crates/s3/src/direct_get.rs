//! Presigned GET URLs signed with SigV4 directly, without the SDK's
//! per-call orchestration (runtime plugins, interceptors, endpoint rules):
//! the download endpoint presigns on every request (docs/decisions.md,
//! "Presigned GET signed with SigV4 directly").
//!
//! The URL is the SDK's, byte for byte: the same endpoint, the same query
//! (`x-id=GetObject`, the response overrides), the same signing settings
//! (S3's single URI encoding, no path normalisation, unsigned payload,
//! signature and session token in the query). Where the endpoint comes from
//! depends on the bucket (virtual host or path style, S3 Express, access
//! points), so it is learnt once per bucket: the first GET of a bucket
//! presigns a probe with the SDK and directly at the same instant, and the
//! bucket is signed directly only if the two URLs are identical. A bucket
//! whose URLs differ (an endpoint or scheme this signer does not reproduce)
//! stays on the SDK.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;

use crate::S3Error;
use crate::presign::{self, GetInput};
use crate::signing_credentials::SigningCredentials;

/// What the SDK leaves as it is in a query key or value: RFC 3986's
/// unreserved characters (`aws_smithy_http::query::fmt_string`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// In an object key, `/` too (the SDK's greedy label).
const KEY: &AsciiSet = &QUERY.remove(b'/');

/// Buckets remembered; placement names a handful. Beyond this a bucket is
/// verified on every GET, which is still correct, only slower.
const MAX_BUCKETS: usize = 1024;

/// The probe: a key with a separator, and overrides with characters that
/// must be encoded, so the comparison covers the encoding of each part.
const PROBE_KEY: &str = "coffer-probe/a b+c~d.txt";
const PROBE_DISPOSITION: &str = "attachment; filename=\"a b+c.txt\"; filename*=UTF-8''a%20b";
const PROBE_TYPE: &str = "text/plain; charset=utf-8";

/// The SDK's warning when the credentials expire before the URL.
const EXPIRATION_WARNING: &str = "Presigned request will expire before the given \
        `expires_in` duration because the credentials used to sign it will expire first.";

#[derive(Debug)]
pub(crate) struct DirectGet {
    region: String,
    credentials: SigningCredentials,
    /// Per bucket: the URL its objects are under (`scheme://host[/bucket]`,
    /// no trailing slash), or `None`: that bucket stays on the SDK.
    endpoints: RwLock<HashMap<String, Option<Arc<str>>>>,
}

impl DirectGet {
    /// The direct signer for the region and credentials provider of the
    /// SDK client built on `shared`; `None` when it has either missing (the
    /// SDK then signs nothing either, and its presigning reports that).
    pub(crate) fn new(shared: &aws_config::SdkConfig) -> Option<Self> {
        Some(Self {
            region: shared.region()?.to_string(),
            credentials: SigningCredentials::new(shared.credentials_provider()?),
            endpoints: RwLock::new(HashMap::new()),
        })
    }

    /// The URL objects of `bucket` are under when direct signing reproduces
    /// the SDK there; `None`: presign with the SDK.
    pub(crate) async fn endpoint(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
    ) -> Option<Arc<str>> {
        if let Some(known) = self
            .endpoints
            .read()
            .ok()
            .and_then(|endpoints| endpoints.get(bucket).cloned())
        {
            return known;
        }
        let verified = match self.verify(client, bucket).await {
            Ok(verified) => verified,
            Err(e) => {
                // Not remembered: the next GET tries again, and this one's
                // SDK presigning reports its own error if there is one.
                tracing::debug!(error = %e, bucket, "presigned GET probe failed");
                return None;
            }
        };
        if let Ok(mut endpoints) = self.endpoints.write()
            && endpoints.len() < MAX_BUCKETS
        {
            endpoints.insert(bucket.to_owned(), verified.clone());
        }
        verified
    }

    /// Presigns the probe both ways at the same instant; the endpoint, if
    /// the URLs are identical.
    async fn verify(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
    ) -> Result<Option<Arc<str>>, S3Error> {
        let probe = GetInput {
            bucket,
            key: PROBE_KEY,
            content_disposition: Some(PROBE_DISPOSITION),
            content_type: Some(PROBE_TYPE),
        };
        let now = OffsetDateTime::now_utc();
        let expires_in = Duration::from_secs(60);
        let (window, _) = presign::signing_window(now, expires_in)?;
        let sdk = presign::sdk_get(client, &probe, window).await?;
        let sdk_url = sdk.uri();
        let key_path = format!("/{}?", utf8_percent_encode(PROBE_KEY, KEY));
        let Some(base) = sdk_url.find(&key_path).and_then(|at| sdk_url.get(..at)) else {
            tracing::info!(bucket, "presigned GET URLs of this bucket stay on the SDK");
            return Ok(None);
        };
        let credentials = self.credentials.get().await?;
        let direct = self.sign(base, &probe, now, expires_in, &credentials)?;
        let sdk_has_headers = sdk
            .headers()
            .any(|(name, _)| !name.eq_ignore_ascii_case("host"));
        if direct == sdk_url && !sdk_has_headers {
            return Ok(Some(base.into()));
        }
        if access_key(&direct) != access_key(sdk_url) {
            // The SDK's identity cache and this one hold different
            // generations of rotating credentials: not a verdict on the
            // bucket, so not remembered.
            return Err(S3Error::Unexpected {
                operation: "presign GetObject (probe)",
                detail: "the SDK signed with other credentials".to_owned(),
            });
        }
        tracing::info!(bucket, "presigned GET URLs of this bucket stay on the SDK");
        Ok(None)
    }

    /// The presigned URL of `input` under `base` (from [`Self::endpoint`]).
    ///
    /// # Errors
    /// [`S3Error::Unreachable`] when no credentials can be loaded,
    /// [`S3Error::Build`] when the URL cannot be signed.
    pub(crate) async fn presign(
        &self,
        base: &str,
        input: &GetInput<'_>,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> Result<String, S3Error> {
        let credentials = self.credentials.get().await?;
        if let Some(expiry) = credentials.expiry()
            && SystemTime::from(now) + expires_in > expiry
        {
            tracing::warn!(EXPIRATION_WARNING);
        }
        self.sign(base, input, now, expires_in, &credentials)
    }

    fn sign(
        &self,
        base: &str,
        input: &GetInput<'_>,
        now: OffsetDateTime,
        expires_in: Duration,
        credentials: &Credentials,
    ) -> Result<String, S3Error> {
        let mut url = String::with_capacity(base.len() + input.key.len() + 512);
        url.push_str(base);
        url.push('/');
        url.extend(utf8_percent_encode(input.key, KEY));
        url.push_str("?x-id=GetObject");
        if let Some(disposition) = input.content_disposition {
            push_param(&mut url, "response-content-disposition", disposition);
        }
        if let Some(content_type) = input.content_type {
            push_param(&mut url, "response-content-type", content_type);
        }

        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.session_token_mode = SessionTokenMode::Include;
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        let identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::from(now))
            .settings(settings)
            .build()
            .map_err(build_error)?
            .into();
        let request = SignableRequest::new(
            "GET",
            url.as_str(),
            std::iter::empty(),
            SignableBody::UnsignedPayload,
        )
        .map_err(build_error)?;
        let (instructions, _signature) = sign(request, &params).map_err(build_error)?.into_parts();
        for (name, value) in instructions.params() {
            push_param(&mut url, name, value);
        }
        Ok(url)
    }
}

/// The access key id in `url`'s `X-Amz-Credential` (the part before the
/// encoded `/` of the date).
fn access_key(url: &str) -> Option<&str> {
    url.split(['?', '&'])
        .find_map(|param| param.strip_prefix("X-Amz-Credential="))
        .and_then(|credential| credential.split("%2F").next())
}

fn push_param(url: &mut String, name: &str, value: &str) {
    url.push('&');
    url.extend(utf8_percent_encode(name, QUERY));
    url.push('=');
    url.extend(utf8_percent_encode(value, QUERY));
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> S3Error {
    S3Error::Build {
        operation: "presign GetObject",
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::config::SharedCredentialsProvider;
    use coffer_domain::{BucketName, Category, ContentType, FileId, TenantId};
    use coffer_ports::{ObjectLocation, PresignGet, PresignedRequest};

    use super::*;
    use crate::{S3Config, client};

    /// A fixed instant, so the two paths sign the same request.
    fn instant() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_323_045).unwrap_or_else(|e| panic!("{e}"))
    }

    struct Paths {
        client: aws_sdk_s3::Client,
        direct: DirectGet,
    }

    async fn paths(config: S3Config, session_token: Option<&str>) -> Paths {
        let mut shared = client::shared_config(&config, config.endpoint.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(token) = session_token {
            shared = shared
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                    "ASIATEMPORARY",
                    "temporary-secret",
                    Some(token.to_owned()),
                    None,
                    "test",
                )))
                .build();
        }
        let direct = DirectGet::new(&shared).unwrap_or_else(|| panic!("no direct signer"));
        Paths {
            client: client::s3_client(&config, &shared),
            direct,
        }
    }

    fn self_hosted() -> S3Config {
        S3Config {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            access_key_id: Some("test-key".to_owned()),
            secret_access_key: Some("test-secret".into()),
            force_path_style: true,
            ..S3Config::default()
        }
    }

    fn aws(region: &str) -> S3Config {
        S3Config {
            region: region.to_owned(),
            access_key_id: Some("AKIAEXAMPLE".to_owned()),
            secret_access_key: Some("example-secret".into()),
            ..S3Config::default()
        }
    }

    fn request(disposition: Option<&str>, content_type: Option<&str>) -> PresignGet {
        let bucket = BucketName::new("coffer-test").unwrap_or_else(|e| panic!("{e}"));
        PresignGet {
            location: ObjectLocation::for_file(
                TenantId::new_random(),
                bucket,
                &Category::default_category(),
                FileId::new_v7(),
            ),
            content_disposition: disposition.map(str::to_owned),
            content_type: content_type
                .map(|t| ContentType::new(t).unwrap_or_else(|e| panic!("{e}"))),
            now: instant(),
            expires_in: Duration::from_secs(300),
        }
    }

    async fn both(paths: &Paths, request: &PresignGet) -> (PresignedRequest, PresignedRequest) {
        let sdk = presign::get(&paths.client, None, request)
            .await
            .unwrap_or_else(|e| panic!("SDK: {e}"));
        let direct = presign::get(&paths.client, Some(&paths.direct), request)
            .await
            .unwrap_or_else(|e| panic!("direct: {e}"));
        (sdk, direct)
    }

    /// What the signer remembers of `bucket`: `None` nothing yet,
    /// `Some(None)` the SDK's, `Some(Some(base))` signed directly.
    fn remembered(paths: &Paths, bucket: &str) -> Option<Option<Arc<str>>> {
        paths
            .direct
            .endpoints
            .read()
            .ok()
            .and_then(|endpoints| endpoints.get(bucket).cloned())
    }

    fn signed_directly(paths: &Paths, bucket: &str) -> bool {
        matches!(remembered(paths, bucket), Some(Some(_)))
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = url
            .split_once('?')
            .map(|(_, q)| q.split('&'))
            .into_iter()
            .flatten()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        params.sort();
        params
    }

    const DISPOSITION: &str =
        "attachment; filename=\"Bericht Marz final.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz";

    #[tokio::test]
    async fn direct_get_urls_are_the_sdks_byte_for_byte() {
        for (name, config, token) in [
            ("self-hosted, path style", self_hosted(), None),
            ("AWS, virtual host", aws("eu-west-1"), None),
            ("AWS us-east-1", aws("us-east-1"), None),
            (
                "self-hosted, virtual host, https",
                S3Config {
                    endpoint: Some("https://s3.example.com:8443".to_owned()),
                    force_path_style: false,
                    ..self_hosted()
                },
                None,
            ),
            (
                "session credentials",
                aws("eu-central-1"),
                Some("session/token+="),
            ),
        ] {
            let paths = paths(config, token).await;
            for request in [
                request(None, None),
                request(Some(DISPOSITION), Some("application/pdf")),
                request(Some("inline"), Some("text/plain; charset=utf-8")),
            ] {
                let (sdk, direct) = both(&paths, &request).await;
                assert_eq!(direct, sdk, "{name}");
                assert_eq!(query(&direct.url), query(&sdk.url), "{name}");
                assert!(signed_directly(&paths, "coffer-test"), "{name}: not direct");
                assert_eq!(direct.method, "GET");
                assert!(direct.headers.is_empty(), "{name}: {:?}", direct.headers);
                assert_eq!(direct.expires_at, instant() + Duration::from_secs(300));
                assert!(
                    direct.url.contains("X-Amz-Date=20260102T030405Z"),
                    "{}",
                    direct.url
                );
                assert!(direct.url.contains("X-Amz-Expires=300"), "{}", direct.url);
                assert_eq!(
                    direct
                        .url
                        .contains("X-Amz-Security-Token=session%2Ftoken%2B%3D"),
                    token.is_some(),
                    "{name}: {}",
                    direct.url
                );
            }
        }
    }

    #[tokio::test]
    async fn aws_buckets_are_virtual_hosts_unless_dotted() {
        let paths = paths(aws("eu-west-1"), None).await;
        for (bucket, prefix) in [
            (
                "coffer-test",
                "https://coffer-test.s3.eu-west-1.amazonaws.com/",
            ),
            (
                "coffer.dotted",
                "https://s3.eu-west-1.amazonaws.com/coffer.dotted/",
            ),
        ] {
            let input = GetInput {
                bucket,
                key: "t/x/Ünïcode key (1).pdf",
                content_disposition: Some(DISPOSITION),
                content_type: None,
            };
            let base = paths
                .direct
                .endpoint(&paths.client, bucket)
                .await
                .unwrap_or_else(|| panic!("{bucket}: not direct"));
            let expires_in = Duration::from_secs(60);
            let direct = paths
                .direct
                .presign(&base, &input, instant(), expires_in)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let (window, _) =
                presign::signing_window(instant(), expires_in).unwrap_or_else(|e| panic!("{e}"));
            let sdk = presign::sdk_get(&paths.client, &input, window)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(direct, sdk.uri());
            assert!(direct.starts_with(prefix), "{direct}");
        }
    }

    #[tokio::test]
    async fn a_bucket_the_signer_does_not_reproduce_stays_on_the_sdk() {
        let mut paths = paths(self_hosted(), None).await;
        // Signing for another region than the SDK's gives another signature.
        paths.direct.region = "eu-north-1".to_owned();
        let request = request(Some(DISPOSITION), None);
        let (sdk, direct) = both(&paths, &request).await;
        assert_eq!(direct, sdk);
        assert_eq!(remembered(&paths, "coffer-test"), Some(None));
        assert!(
            direct.url.contains("%2Fus-east-1%2Fs3%2F"),
            "{}",
            direct.url
        );
    }

    #[tokio::test]
    async fn a_probe_signed_with_other_credentials_is_not_remembered() {
        let mut paths = paths(self_hosted(), None).await;
        // As when the SDK's cache and this one hold different generations
        // of rotating credentials.
        paths.direct.credentials = SigningCredentials::new(SharedCredentialsProvider::new(
            Credentials::new("ROTATED", "rotated", None, None, "test"),
        ));
        let request = request(None, None);
        let (sdk, direct) = both(&paths, &request).await;
        assert_eq!(direct, sdk);
        assert_eq!(remembered(&paths, "coffer-test"), None);
    }

    #[tokio::test]
    async fn the_lifetime_rules_hold_on_the_direct_path() {
        let paths = paths(self_hosted(), None).await;
        for expires_in in [
            Duration::ZERO,
            S3Config::MAX_PRESIGN + Duration::from_secs(1),
        ] {
            let err = presign::get(
                &paths.client,
                Some(&paths.direct),
                &PresignGet {
                    expires_in,
                    ..request(None, None)
                },
            )
            .await
            .err();
            assert!(matches!(err, Some(S3Error::Refused(_))), "{err:?}");
        }
        let week = PresignGet {
            expires_in: S3Config::MAX_PRESIGN,
            ..request(None, None)
        };
        let (sdk, direct) = both(&paths, &week).await;
        assert_eq!(direct, sdk);
        assert!(
            direct.url.contains("X-Amz-Expires=604800"),
            "{}",
            direct.url
        );
    }
}
