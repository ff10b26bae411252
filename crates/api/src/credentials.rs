//! `/credentials` and `/upload-sessions`: temporary store credentials for
//! bulk work, and registering what write credentials put (docs/storage.md,
//! "Temporary credentials").

use coffer_domain::{
    Category, ContentType, Filename, LogicalPath, Metadata, Sha256Digest, Visibility,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{FileDto, Problem};

/// `POST /credentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// `write`: put-only under a new upload session's prefix (editors).
    /// `read`: read and list the tenant's objects (tenant admins).
    #[schema(value_type = String, example = "write")]
    pub access: AccessDto,
    /// 900 up to the plan's maximum; default 3600 (or the maximum, if lower).
    #[schema(minimum = 900)]
    pub ttl_secs: Option<u64>,
}

/// What credentials allow: `write` or `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessDto {
    Write,
    Read,
}

/// Temporary credentials, for any S3 client (`aws`, `rclone`, an SDK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CredentialsDto {
    #[schema(example = "write")]
    pub access: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The store's endpoint; `null` for AWS S3 (by region).
    pub endpoint: Option<String>,
    pub region: String,
    /// Whether the store wants `endpoint/bucket/key` (path-style) addressing.
    pub force_path_style: bool,
    /// Write: where to put. Read: the first of `buckets`.
    pub bucket: String,
    /// Every bucket the credentials apply in.
    pub buckets: Vec<String>,
    /// Every key must start with this.
    pub prefix: String,
    /// Write only: the session to complete once the uploads are done.
    pub upload_session: Option<UploadSessionDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadSessionDto {
    pub id: Uuid,
    /// `POST` the manifest here when the uploads are done.
    pub complete_url: String,
    /// Until then what landed can be registered; then it is deleted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub registrable_until: OffsetDateTime,
}

/// `POST /upload-sessions/{id}/complete`: what to register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteSessionBody {
    /// 1 to 1000 objects per call; call again for more.
    #[serde(deserialize_with = "crate::json::objects")]
    pub files: Vec<SessionFileBody>,
}

/// One object of the session, named by its key under the session's prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionFileBody {
    /// The key after `prefix`, e.g. `2026/q1/report.pdf`.
    #[schema(example = "2026/q1/report.pdf")]
    pub key: String,
    /// Default: the key's last segment.
    #[schema(value_type = Option<String>)]
    pub filename: Option<Filename>,
    /// Default: the key's folders, e.g. `/2026/q1`.
    #[schema(value_type = Option<String>)]
    pub path: Option<LogicalPath>,
    /// Default: guessed from the filename; the bytes must agree.
    #[schema(value_type = Option<String>)]
    pub content_type: Option<ContentType>,
    #[schema(value_type = Option<String>)]
    pub category: Option<Category>,
    #[schema(value_type = Option<String>)]
    pub visibility: Option<Visibility>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
    /// Hex or base64; the bytes must hash to it.
    #[schema(value_type = Option<String>)]
    pub checksum_sha256: Option<Sha256Digest>,
}

/// What became a file, and what did not (with the problem it met).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionRegistrationDto {
    pub registered: Vec<FileDto>,
    pub refused: Vec<RefusedDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefusedDto {
    pub key: String,
    pub problem: Problem,
}
