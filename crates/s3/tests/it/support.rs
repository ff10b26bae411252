use std::sync::Arc;

use coffer_contract::object_store::Harness;
use coffer_domain::BucketName;
use coffer_ports::ObjectStore;
use coffer_s3::{S3Config, S3Store};

/// The bucket every contract case shares; each case has its own tenant prefix.
const CONTRACT_BUCKET: &str = "coffer-contract";
/// The same for the suite run again with `object_lock` on: a bucket
/// created with Object Lock, so versioned.
pub const LOCKED_CONTRACT_BUCKET: &str = "coffer-contract-locked";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test S3 server with \
             `scripts/services/seaweedfs.sh start && source .test-services/seaweedfs.env`"
        )
    })
}

pub fn config() -> S3Config {
    S3Config {
        endpoint: Some(var("COFFER_TEST_S3_ENDPOINT")),
        region: var("COFFER_TEST_S3_REGION"),
        access_key_id: Some(var("COFFER_TEST_S3_ACCESS_KEY_ID")),
        secret_access_key: Some(var("COFFER_TEST_S3_SECRET_ACCESS_KEY").into()),
        force_path_style: true,
        ..S3Config::default()
    }
}

/// [`config`] with `object_lock` on.
pub fn locked_config() -> S3Config {
    S3Config {
        object_lock: true,
        ..config()
    }
}

pub fn endpoint() -> String {
    var("COFFER_TEST_S3_ENDPOINT")
}

pub fn allowed_origin() -> String {
    var("COFFER_TEST_S3_ALLOWED_ORIGIN")
}

pub async fn store_with(config: S3Config) -> S3Store {
    S3Store::new(config).await.expect("S3 store")
}

/// A fresh bucket name, for tests that change bucket settings.
pub fn fresh_bucket(prefix: &str) -> BucketName {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    BucketName::new(format!("{prefix}-{}", &suffix[..12])).expect("bucket name")
}

/// The contract suite's factory: the shared bucket, set up, and a fresh tenant.
pub async fn contract_store() -> (Arc<dyn ObjectStore>, Harness) {
    shared_bucket_store(config(), CONTRACT_BUCKET).await
}

/// The contract suite's factory with `object_lock` on, in a bucket with
/// Object Lock: every port call must work there as anywhere else.
pub async fn locked_contract_store() -> (Arc<dyn ObjectStore>, Harness) {
    shared_bucket_store(locked_config(), LOCKED_CONTRACT_BUCKET).await
}

async fn shared_bucket_store(config: S3Config, bucket: &str) -> (Arc<dyn ObjectStore>, Harness) {
    let store = store_with(config).await;
    let harness = Harness::new(
        BucketName::new(bucket).expect("bucket name"),
        Some(allowed_origin()),
    );
    store
        .ensure_bucket(&harness.bucket_spec())
        .await
        .expect("ensure_bucket");
    (Arc::new(store), harness)
}

/// A plain SDK client on the test server, to look at what the adapter did
/// through calls the port does not offer.
pub fn raw_client() -> aws_sdk_s3::Client {
    let credentials = aws_sdk_s3::config::Credentials::new(
        var("COFFER_TEST_S3_ACCESS_KEY_ID"),
        var("COFFER_TEST_S3_SECRET_ACCESS_KEY"),
        None,
        None,
        "coffer-test",
    );
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(var(
            "COFFER_TEST_S3_REGION",
        )))
        .endpoint_url(endpoint())
        .credentials_provider(credentials)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
