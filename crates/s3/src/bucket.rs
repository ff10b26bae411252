//! Bucket set-up (`ensure_bucket`) and the readiness probe.
//!
//! Each setting is applied on every call, so changing the configured CORS
//! origins or lifecycle days takes effect at the next start. Settings a store
//! does not implement (SeaweedFS, MinIO and R2 have no public-access
//! block…) are skipped with a warning instead of failing start-up: such
//! stores are private by default, and the docs list what to check by hand.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CorsConfiguration, CorsRule, CreateBucketConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Transition, TransitionStorageClass,
};
use coffer_ports::{BucketSpec, StorageTransition};

use crate::S3Error;
use crate::lock::{self, LockedBuckets};

const LIFECYCLE_RULE_ID: &str = "coffer-abort-incomplete-multipart";
const TRANSITION_RULE_ID: &str = "coffer-transitions";
/// Browsers must read the part ETags to complete a multipart upload.
const CORS_EXPOSED_HEADERS: &[&str] = &["ETag", "x-amz-checksum-sha256", "x-amz-request-id"];
const CORS_MAX_AGE_SECONDS: i32 = 3600;

pub(crate) async fn ensure(
    client: &aws_sdk_s3::Client,
    region: &str,
    sse: bool,
    object_lock: Option<&LockedBuckets>,
    spec: &BucketSpec,
) -> Result<(), S3Error> {
    let created = create_if_missing(client, region, object_lock.is_some(), spec).await?;
    if let Some(locked) = object_lock {
        record_lock(client, locked, spec, created).await?;
    }
    optional(
        "public access block",
        spec,
        block_public_access(client, spec).await,
    )?;
    if sse {
        optional(
            "default encryption",
            spec,
            default_encryption(client, spec).await,
        )?;
    }
    optional("CORS", spec, cors(client, spec).await)?;
    optional("lifecycle", spec, lifecycle(client, spec).await)?;
    Ok(())
}

/// Turns "the store does not implement this" into a warning.
fn optional(what: &str, spec: &BucketSpec, result: Result<(), S3Error>) -> Result<(), S3Error> {
    match result {
        Err(err) if err.is_not_implemented() => {
            tracing::warn!(s3.bucket = %spec.bucket, error = %err, "store does not support {what}; skipped");
            Ok(())
        }
        other => other,
    }
}

/// Whether the bucket has Object Lock, remembered for `apply_lock` and
/// `delete`. A bucket that existed without it keeps working without it
/// (Coffer does not turn versioning on under objects it already holds):
/// logged, so the operator knows the store will not refuse deletions there.
async fn record_lock(
    client: &aws_sdk_s3::Client,
    locked: &LockedBuckets,
    spec: &BucketSpec,
    created: bool,
) -> Result<(), S3Error> {
    let bucket = spec.bucket.as_str();
    let enabled = lock::lock_enabled(client, bucket).await?;
    if !enabled {
        tracing::warn!(
            s3.bucket = %spec.bucket,
            s3.created = created,
            "object_lock is on but the bucket has no Object Lock; only Coffer refuses deleting retained files there"
        );
    }
    locked.remember(bucket, enabled);
    Ok(())
}

/// Creates the bucket (with Object Lock, and so versioning, when asked)
/// unless it exists; whether it was created.
async fn create_if_missing(
    client: &aws_sdk_s3::Client,
    region: &str,
    object_lock: bool,
    spec: &BucketSpec,
) -> Result<bool, S3Error> {
    let bucket = spec.bucket.as_str();
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(false),
        Err(e) => {
            let err = S3Error::sdk("HeadBucket", e);
            if !err.is_not_found() {
                return Err(err);
            }
        }
    }
    // us-east-1 is the one region that must not be named as a constraint.
    let configuration = (region != "us-east-1").then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region))
            .build()
    });
    match client
        .create_bucket()
        .bucket(bucket)
        .set_create_bucket_configuration(configuration)
        .set_object_lock_enabled_for_bucket(object_lock.then_some(true))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => match S3Error::sdk("CreateBucket", e) {
            // Another instance created it in the meantime.
            err if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(false),
            err => Err(err),
        },
    }
}

async fn block_public_access(
    client: &aws_sdk_s3::Client,
    spec: &BucketSpec,
) -> Result<(), S3Error> {
    client
        .put_public_access_block()
        .bucket(spec.bucket.as_str())
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutPublicAccessBlock", e))?;
    Ok(())
}

async fn default_encryption(client: &aws_sdk_s3::Client, spec: &BucketSpec) -> Result<(), S3Error> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| build_error("PutBucketEncryption", e))?;
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|e| build_error("PutBucketEncryption", e))?;
    client
        .put_bucket_encryption()
        .bucket(spec.bucket.as_str())
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutBucketEncryption", e))?;
    Ok(())
}

async fn cors(client: &aws_sdk_s3::Client, spec: &BucketSpec) -> Result<(), S3Error> {
    let bucket = spec.bucket.as_str();
    if spec.cors_origins.is_empty() {
        return match client.delete_bucket_cors().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => match S3Error::sdk("DeleteBucketCors", e) {
                err if err.is_not_found() || err.code() == Some("NoSuchCORSConfiguration") => {
                    Ok(())
                }
                err => Err(err),
            },
        };
    }
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(spec.cors_origins.clone()))
        .allowed_methods("GET")
        .allowed_methods("HEAD")
        .allowed_methods("PUT")
        // Presigned PUTs carry content-type, checksum and SSE headers.
        .allowed_headers("*")
        .set_expose_headers(Some(
            CORS_EXPOSED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        ))
        .max_age_seconds(CORS_MAX_AGE_SECONDS)
        .build()
        .map_err(|e| build_error("PutBucketCors", e))?;
    let configuration = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .map_err(|e| build_error("PutBucketCors", e))?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(configuration)
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutBucketCors", e))?;
    Ok(())
}

/// The lifecycle rules: abort abandoned multipart uploads and, when asked,
/// move aging objects to cheaper classes. A store that refuses transitions
/// (many S3-compatible ones have a single class) still gets the abort rule.
async fn lifecycle(client: &aws_sdk_s3::Client, spec: &BucketSpec) -> Result<(), S3Error> {
    if spec.transitions.is_empty() {
        return put_lifecycle(client, spec, &[]).await;
    }
    match put_lifecycle(client, spec, &spec.transitions).await {
        Err(err) if err.is_not_implemented() || err.status() == Some(400) => {
            tracing::warn!(s3.bucket = %spec.bucket, error = %err, "store refuses lifecycle transitions; keeping the other rules");
            put_lifecycle(client, spec, &[]).await
        }
        other => other,
    }
}

async fn put_lifecycle(
    client: &aws_sdk_s3::Client,
    spec: &BucketSpec,
    transitions: &[StorageTransition],
) -> Result<(), S3Error> {
    let days = i32::try_from(spec.abort_incomplete_multipart_days.max(1)).unwrap_or(i32::MAX);
    let abort = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(days)
                .build(),
        )
        .build()
        .map_err(|e| build_error("PutBucketLifecycleConfiguration", e))?;
    let mut configuration = BucketLifecycleConfiguration::builder().rules(abort);
    if !transitions.is_empty() {
        let mut rule = LifecycleRule::builder()
            .id(TRANSITION_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build());
        for t in transitions {
            rule = rule.transitions(
                Transition::builder()
                    .days(i32::try_from(t.after_days).unwrap_or(i32::MAX))
                    .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                    .build(),
            );
        }
        let rule = rule
            .build()
            .map_err(|e| build_error("PutBucketLifecycleConfiguration", e))?;
        configuration = configuration.rules(rule);
    }
    let configuration = configuration
        .build()
        .map_err(|e| build_error("PutBucketLifecycleConfiguration", e))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(spec.bucket.as_str())
        .lifecycle_configuration(configuration)
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutBucketLifecycleConfiguration", e))?;
    Ok(())
}

fn build_error(operation: &'static str, err: aws_sdk_s3::error::BuildError) -> S3Error {
    S3Error::Build {
        operation,
        source: Box::new(err),
    }
}

/// Whether the store answers with these credentials. `ListBuckets` needs no
/// bucket name; an `AccessDenied` still proves the store is up and the
/// signature valid (least-privilege policies rarely grant
/// `s3:ListAllMyBuckets`), while a bad key or signature is a real failure.
pub(crate) async fn check_ready(client: &aws_sdk_s3::Client) -> Result<(), S3Error> {
    match client.list_buckets().max_buckets(1).send().await {
        Ok(_) => Ok(()),
        Err(e) => match S3Error::sdk("ListBuckets", e) {
            err if err.code() == Some("AccessDenied") => Ok(()),
            err => Err(err),
        },
    }
}

/// Whether the bucket exists (`HeadBucket`).
pub(crate) async fn exists(client: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, S3Error> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => match S3Error::sdk("HeadBucket", e) {
            err if err.is_not_found() => Ok(false),
            err => Err(err),
        },
    }
}

/// Delete the bucket if it holds no object and no unfinished multipart
/// upload. Stores differ on deleting a non-empty bucket (SeaweedFS deletes
/// it with its contents), so emptiness is checked first rather than left
/// to `BucketNotEmpty`. A missing bucket is success.
pub(crate) async fn remove_if_empty(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<(), S3Error> {
    let listed = match client
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            return match S3Error::sdk("ListObjectsV2", e) {
                err if err.is_not_found() => Ok(()),
                err => Err(err),
            };
        }
    };
    let uploads = match client
        .list_multipart_uploads()
        .bucket(bucket)
        .max_uploads(1)
        .send()
        .await
    {
        Ok(out) => !out.uploads().is_empty(),
        Err(e) => match S3Error::sdk("ListMultipartUploads", e) {
            err if err.is_not_implemented() => false,
            err => return Err(err),
        },
    };
    if !listed.contents().is_empty() || uploads {
        return Err(S3Error::NotEmpty(bucket.to_owned()));
    }
    match client.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => match S3Error::sdk("DeleteBucket", e) {
            err if err.is_not_found() => Ok(()),
            err => Err(err),
        },
    }
}
