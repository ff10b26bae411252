//! Files: their metadata, uploads (single and multipart), listing and
//! downloads — `/files…`.

use std::collections::BTreeMap;

use coffer_domain::{
    Category, ContentType, FileRecord, FileStatus, Filename, LogicalPath, Metadata, ScanVerdict,
    Sha256Digest, Visibility,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A file's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileDto {
    pub id: Uuid,
    pub filename: String,
    /// Folder, `/`-separated.
    pub path: String,
    pub category: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256, when known.
    pub checksum_sha256: Option<String>,
    #[schema(value_type = String, example = "private")]
    pub visibility: Visibility,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// `pending` (uploading), `scanning` (waiting for the malware scan),
    /// `available`, `quarantined` (refused by the scan; never readable),
    /// `deleted` (in the trash).
    #[schema(value_type = String, example = "available")]
    pub status: FileStatus,
    /// The malware scan's verdict, once scanned:
    /// `{"verdict": "clean"}`, `{"verdict": "infected", "signature": "…"}`
    /// or `{"verdict": "unscannable", "reason": "…"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub scan: Option<ScanVerdict>,
    /// The owner's subject.
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<OffsetDateTime>,
    /// The records retention, when one is set (docs/records.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionDto>,
    /// Whether a legal hold keeps the file.
    pub legal_hold: bool,
    /// Which version of the file's bytes this is: 1 for the first upload,
    /// one more per version added (`GET /files/{id}/versions`).
    pub version: u32,
    /// On the pending upload of a new version: the file it becomes a
    /// version of when it completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_of: Option<Uuid>,
}

/// A file's records retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetentionDto {
    /// `governance` or `compliance`.
    #[schema(example = "compliance")]
    pub mode: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub retain_until: OffsetDateTime,
}

impl From<FileRecord> for FileDto {
    fn from(f: FileRecord) -> Self {
        Self {
            id: *f.id.as_uuid(),
            filename: f.filename.into(),
            path: f.path.into(),
            category: f.category.into(),
            content_type: f.content_type.into(),
            size: f.size_bytes,
            checksum_sha256: f.checksum_sha256.map(|c| c.to_hex()),
            visibility: f.visibility,
            metadata: f.metadata.into(),
            status: f.status,
            scan: f.scan_verdict,
            owner: f.owner.into(),
            created_at: f.created_at,
            updated_at: f.updated_at,
            deleted_at: f.deleted_at,
            retention: f.retention.map(|r| RetentionDto {
                mode: r.mode.as_str().to_owned(),
                retain_until: r.retain_until,
            }),
            legal_hold: f.legal_hold,
            version: f.version,
            version_of: f.version_of.map(|v| *v.as_uuid()),
        }
    }
}

/// A request to make directly to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PresignedDto {
    pub method: String,
    pub url: String,
    /// Send exactly these headers.
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MultipartDto {
    /// Every part but the last has exactly this size.
    pub part_size: u64,
    pub part_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// An initiated upload: PUT the bytes per `upload` (or presign parts per
/// `multipart`), then `POST /files/{id}/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InitiatedDto {
    pub file: FileDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<PresignedDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartDto>,
}

/// `POST /files` with JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiateBody {
    #[schema(value_type = String, example = "contract.pdf")]
    pub filename: Filename,
    /// Exact size in bytes.
    pub size: u64,
    /// Guessed from the filename when absent.
    #[schema(value_type = Option<String>, example = "application/pdf")]
    pub content_type: Option<ContentType>,
    #[schema(value_type = Option<String>, example = "documents")]
    pub category: Option<Category>,
    #[schema(value_type = Option<String>, example = "/contracts/2026")]
    pub path: Option<LogicalPath>,
    #[schema(value_type = Option<String>, example = "private")]
    pub visibility: Option<Visibility>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
    /// Hex or base64; the store then refuses other bytes.
    #[schema(value_type = Option<String>)]
    pub checksum_sha256: Option<Sha256Digest>,
    /// Upload in presigned parts (large files).
    #[serde(default)]
    pub multipart: bool,
}

/// `PATCH /files/{id}`: rename, move, visibility, metadata merge patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[schema(value_type = Option<String>)]
    pub filename: Option<Filename>,
    #[schema(value_type = Option<String>)]
    pub path: Option<LogicalPath>,
    #[schema(value_type = Option<String>)]
    pub visibility: Option<Visibility>,
    /// RFC 7396 merge patch: `null` removes a key.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartsBody {
    /// 1-based part numbers, at most 1000 at a time.
    pub part_numbers: Vec<u16>,
    /// SHA-256 of some of those parts (hex or base64), by part number: the
    /// store then refuses any other bytes for that part.
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub checksums_sha256: BTreeMap<u16, Sha256Digest>,
}

/// A part the store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReceivedPartDto {
    pub part_number: u16,
    pub size: u64,
    pub etag: String,
}

/// `GET /files/{id}/parts`: what a resuming client still has to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReceivedPartsDto {
    /// Every part but the last has exactly this size.
    pub part_size: u64,
    pub part_count: u64,
    /// The parts received so far, by number.
    pub parts: Vec<ReceivedPartDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartDto {
    pub part_number: u16,
    #[serde(flatten)]
    pub request: PresignedDto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PartsDto {
    pub parts: Vec<PartDto>,
}

/// `GET /files` filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<String>)]
    pub category: Option<Category>,
    /// Files directly in this folder.
    #[param(value_type = Option<String>)]
    pub path: Option<LogicalPath>,
    /// Files in this folder or below.
    #[param(value_type = Option<String>)]
    pub prefix: Option<LogicalPath>,
    /// Filename contains (case-insensitive).
    pub q: Option<String>,
    /// Exactly this filename (compared in NFC, as stored); with `path`,
    /// the one file at that place.
    #[param(value_type = Option<String>)]
    pub filename: Option<Filename>,
    /// JSON object the metadata must contain, e.g. `{"case":"A-1"}`.
    pub metadata: Option<String>,
    /// `available` (default), `pending`, `scanning`, `quarantined` or `deleted`
    /// (the trash).
    #[param(value_type = Option<String>)]
    pub status: Option<FileStatus>,
    /// Owner's subject.
    pub owner: Option<String>,
    pub cursor: Option<String>,
    /// 1–1000, default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `false` answers `200 {url, expires_at}` instead of a `302`.
    pub redirect: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Erase now instead of moving to the trash (needs manage access).
    pub permanent: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DownloadDto {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}
