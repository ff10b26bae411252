//! A file's versions (docs/records.md): `/files/{id}/versions…`.

use coffer_domain::{ContentType, FileVersion, Sha256Digest};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /files/{id}/versions`: new bytes for an existing file. Its name,
/// folder, category, visibility and metadata stay the file's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiateVersionBody {
    /// Exact size in bytes.
    pub size: u64,
    /// The file's current type when absent.
    #[schema(value_type = Option<String>, example = "application/pdf")]
    pub content_type: Option<ContentType>,
    /// Hex or base64; the store then refuses other bytes.
    #[schema(value_type = Option<String>)]
    pub checksum_sha256: Option<Sha256Digest>,
    /// Upload in presigned parts (large files).
    #[serde(default)]
    pub multipart: bool,
}

/// One version of a file's bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionDto {
    #[schema(minimum = 1)]
    pub version: u32,
    pub size: u64,
    /// Hex SHA-256.
    pub checksum_sha256: Option<String>,
    pub content_type: String,
    /// Who uploaded (or restored) it.
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: OffsetDateTime,
    /// It is the file's current version.
    pub current: bool,
}

/// A file's versions, newest (current) first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionsDto {
    pub items: Vec<VersionDto>,
}

/// The versions as the store lists them, newest first: the first is the
/// current one.
impl From<Vec<FileVersion>> for VersionsDto {
    fn from(versions: Vec<FileVersion>) -> Self {
        let current = versions.first().map(|v| v.version);
        Self {
            items: versions
                .into_iter()
                .map(|v| VersionDto {
                    current: Some(v.version) == current,
                    version: v.version,
                    size: v.size_bytes,
                    checksum_sha256: v.checksum_sha256.map(|c| c.to_hex()),
                    content_type: v.content_type.into(),
                    uploaded_by: v.uploaded_by.into(),
                    uploaded_at: v.uploaded_at,
                })
                .collect(),
        }
    }
}
