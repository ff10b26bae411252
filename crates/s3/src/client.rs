use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use secrecy::ExposeSecret;

use crate::{S3Config, S3Error};

/// The SDK client the adapter uses for every call: `config` on its
/// `shared` configuration ([`shared_config`]).
pub(crate) fn s3_client(config: &S3Config, shared: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(shared)
        .force_path_style(config.force_path_style)
        // The SDK's default (CRC32 on every upload, checked on every
        // download) breaks several S3-compatible stores and would add headers
        // to presigned requests; checksums are sent where Coffer asks for them.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Region, timeouts and credentials of every SDK client of one store (S3,
/// and STS at `endpoint`).
pub(crate) async fn shared_config(
    config: &S3Config,
    endpoint: Option<&String>,
) -> Result<aws_config::SdkConfig, S3Error> {
    if config.part_size_bytes < S3Config::MIN_PART_SIZE {
        return Err(S3Error::Config(format!(
            "part_size_bytes must be at least {} (S3's minimum part size)",
            S3Config::MIN_PART_SIZE
        )));
    }
    if config.upload_concurrency == 0 {
        return Err(S3Error::Config(
            "upload_concurrency must be at least 1".to_owned(),
        ));
    }
    let mut timeouts = TimeoutConfig::builder().connect_timeout(config.connect_timeout);
    if !config.operation_timeout.is_zero() {
        timeouts = timeouts.operation_timeout(config.operation_timeout);
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .timeout_config(timeouts.build());
    match (&config.access_key_id, &config.secret_access_key) {
        (Some(id), Some(secret)) => {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.expose_secret().to_owned(),
                None,
                None,
                "coffer-config",
            ));
        }
        (None, None) => {}
        _ => {
            return Err(S3Error::Config(
                "access_key_id and secret_access_key must be given together".to_owned(),
            ));
        }
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    Ok(loader.load().await)
}
