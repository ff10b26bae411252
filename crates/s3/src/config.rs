use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// How to reach an S3-compatible store. Which bucket an object goes to is not
/// configured here: callers pass it in every `ObjectLocation`, as
/// `coffer_domain::Placement` chose it.
///
/// Every field has a default, so a `[storage.s3]` table with only the keys an
/// operator cares about deserializes. Unknown keys are refused, so a
/// misplaced `bucket` (chosen by placement, not here) fails loudly instead of
/// being ignored. See `docs/storage.md` for each key.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// `http(s)://host:port` of a non-AWS store (SeaweedFS, MinIO, Garage,
    /// R2); `None` for AWS S3, whose endpoint follows from the region.
    pub endpoint: Option<String>,
    pub region: String,
    /// Static credentials. Without them the AWS default chain applies
    /// (environment, profile, web identity, ECS/EC2 instance role).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key`: needed by most
    /// self-hosted stores, which have no per-bucket DNS names.
    pub force_path_style: bool,
    /// Ask for SSE-S3 (`AES256`) on every upload and as the bucket default.
    /// Turn off for stores that refuse the header (some Garage versions).
    pub server_side_encryption: bool,
    /// Streamed uploads larger than this go as multipart, in parts of this
    /// size. S3 requires at least 5 MiB per part (except the last).
    pub part_size_bytes: u64,
    /// Parts of one streamed upload in flight at once. Memory held by one
    /// upload is about `part_size_bytes * (upload_concurrency + 1)`.
    pub upload_concurrency: usize,
    /// Server-side copies (an upload's staging object to its verified key)
    /// of objects up to this size are one `CopyObject`; larger ones are
    /// copied in parts of `copy_part_size_bytes`. S3 allows at most 5 GiB per
    /// copy call; smaller calls also stay well inside `operation_timeout`.
    pub single_copy_limit_bytes: u64,
    pub copy_part_size_bytes: u64,
    #[serde(with = "seconds")]
    pub connect_timeout: Duration,
    /// Bound on one SDK call, retries included, until the store's answer
    /// begins (a streamed body is not cut off). A store that accepts
    /// connections but never answers then fails the call as `Unavailable`
    /// instead of holding the request. Zero: no bound.
    #[serde(with = "seconds")]
    pub operation_timeout: Duration,
    /// Bound on `check_ready`, so `/readyz` answers quickly when the store hangs.
    #[serde(with = "seconds")]
    pub ready_timeout: Duration,
    /// Temporary credentials (`POST /api/v1/credentials`) through the
    /// store's STS; `None`: the store issues none.
    pub sts: Option<StsConfig>,
    /// S3 Object Lock: `ensure_bucket` creates buckets with it (and so
    /// versioned), `apply_lock` sets an object's retention and legal hold
    /// in buckets that have it, and `delete` removes every version of an
    /// object there. Off: `apply_lock` answers `NotSupported` and nothing
    /// else changes. See docs/storage.md, "Object Lock".
    pub object_lock: bool,
}

/// How Coffer obtains temporary credentials: `AssumeRole` of `role_arn`,
/// with the store's own credentials, narrowed by a session policy per
/// request (docs/storage.md, "Temporary credentials").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsConfig {
    /// The role Coffer assumes; its trust policy must name Coffer's identity.
    pub role_arn: String,
    /// The STS endpoint; `None`: the S3 `endpoint` (SeaweedFS, MinIO), or
    /// AWS's regional STS when that is `None` too.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The longest credential lifetime asked for (900–43200; the role's
    /// maximum session duration must allow it). Plans may allow less.
    #[serde(default = "StsConfig::default_max_duration")]
    pub max_duration_secs: u64,
}

impl StsConfig {
    fn default_max_duration() -> u64 {
        3600
    }
}

impl S3Config {
    pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
    /// S3's limit on a presigned URL's lifetime.
    pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
            force_path_style: false,
            server_side_encryption: true,
            part_size_bytes: 8 * 1024 * 1024,
            upload_concurrency: 2,
            single_copy_limit_bytes: 512 * 1024 * 1024,
            copy_part_size_bytes: 512 * 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(20),
            ready_timeout: Duration::from_secs(5),
            sts: None,
            object_lock: false,
        }
    }
}

// Written by hand so that neither the key id nor the secret ever reaches a log.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), Some(_)) => "static",
            (None, None) => "default chain",
            _ => "incomplete",
        };
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &credentials)
            .field("force_path_style", &self.force_path_style)
            .field("server_side_encryption", &self.server_side_encryption)
            .field("part_size_bytes", &self.part_size_bytes)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("single_copy_limit_bytes", &self.single_copy_limit_bytes)
            .field("copy_part_size_bytes", &self.copy_part_size_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("ready_timeout", &self.ready_timeout)
            .field("sts", &self.sts)
            .field("object_lock", &self.object_lock)
            .finish()
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_credentials() {
        let config = S3Config {
            access_key_id: Some("AKIAEXAMPLEKEYID".to_owned()),
            secret_access_key: Some(SecretString::from("very-secret-value")),
            ..S3Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("AKIAEXAMPLEKEYID"), "{printed}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(printed.contains("static"), "{printed}");
    }

    #[test]
    fn a_partial_section_deserializes_with_defaults() {
        let config: S3Config = serde_json::from_value(serde_json::json!({
            "endpoint": "http://127.0.0.1:27400",
            "access_key_id": "id",
            "secret_access_key": "secret",
            "force_path_style": true,
            "ready_timeout": 2,
            "operation_timeout": 7
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:27400"));
        assert!(config.force_path_style && config.server_side_encryption);
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.ready_timeout, Duration::from_secs(2));
        assert_eq!(config.operation_timeout, Duration::from_secs(7));
        assert_eq!(config.part_size_bytes, 8 * 1024 * 1024);
        assert!(!config.object_lock, "object lock is off unless asked for");
        let misplaced = serde_json::from_value::<S3Config>(serde_json::json!({"bucket": "b"}));
        assert!(
            misplaced.is_err(),
            "a bucket key must not be silently ignored"
        );
    }
}
