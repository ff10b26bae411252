//! Upload requests for people outside the tenant: `/upload-requests`, and
//! the JSON the public page `/u/{token}` sends and receives.

use coffer_domain::{ContentType, FileRecord, Filename, LogicalPath, RequestTerms, UploadRequest};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{MultipartDto, PresignedDto};

/// An upload request. Its `url` carries the request's secret token and is
/// in the answer to its creation only: Coffer keeps just the token's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadRequestDto {
    pub id: Uuid,
    /// The public page (`…/u/{token}`): only when the request was just made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The folder the files go to.
    #[schema(value_type = String, example = "/clients/acme/receipts")]
    pub path: LogicalPath,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub max_files: u32,
    /// The largest file, in bytes.
    pub max_size: u64,
    /// Empty: any type the tenant allows.
    #[schema(value_type = Vec<String>)]
    pub allowed_types: Vec<ContentType>,
    pub message: Option<String>,
    /// Uploads begun through it (each takes a place when it starts).
    pub files_received: u32,
    /// `open`, `closed`, `expired` or `full`.
    #[schema(example = "open")]
    pub state: String,
    /// The member who asked: the files are theirs.
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<OffsetDateTime>,
}

impl UploadRequestDto {
    /// `request` as seen at `now`, with its URL when it was just made.
    pub fn new(request: UploadRequest, url: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            id: *request.id.as_uuid(),
            url,
            state: request
                .closed(now)
                .map_or("open", coffer_domain::RequestClosed::as_str)
                .to_owned(),
            path: request.terms.path,
            expires_at: request.terms.expires_at,
            max_files: request.terms.max_files,
            max_size: request.terms.max_size,
            allowed_types: request.terms.allowed_types,
            message: request.terms.message,
            files_received: request.files_received,
            created_by: request.created_by.as_str().to_owned(),
            created_at: request.created_at,
            closed_at: request.closed_at,
        }
    }
}

/// A new upload request: which folder, until when, how many files of what
/// size and types, and a message for the people asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequestBody {
    #[schema(value_type = String, example = "/clients/acme/receipts")]
    pub path: LogicalPath,
    /// At most 365 days ahead.
    #[serde(with = "crate::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_files: u32,
    /// The largest file, in bytes (1 byte to 5 TiB).
    #[schema(minimum = 1)]
    pub max_size: u64,
    /// Content types taken (at most 50); absent or empty: any the tenant allows.
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["application/pdf"]))]
    pub allowed_types: Vec<ContentType>,
    /// Shown on the public page; at most 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub message: Option<String>,
}

impl UploadRequestBody {
    /// The terms as the use case checks them.
    pub fn into_terms(self) -> RequestTerms {
        RequestTerms {
            path: self.path,
            expires_at: self.expires_at,
            max_files: self.max_files,
            max_size: self.max_size,
            allowed_types: self.allowed_types,
            message: self.message,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UploadRequestsDto {
    pub items: Vec<UploadRequestDto>,
}

/// `POST /u/{token}/uploads`: a file the visitor is about to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorUploadBody {
    #[schema(value_type = String, example = "receipt.pdf")]
    pub name: Filename,
    /// Exact size in bytes.
    pub size: u64,
    /// Guessed from the name when absent or empty.
    #[serde(default, deserialize_with = "empty_as_none")]
    #[schema(value_type = Option<String>, example = "application/pdf")]
    pub content_type: Option<ContentType>,
}

/// A browser sends `""` for a file of a type it does not know.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ContentType>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    match raw.filter(|r| !r.is_empty()) {
        Some(raw) => ContentType::new(raw)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// A visitor's file, as the public page sees it: nothing of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisitorFileDto {
    pub id: Uuid,
    pub name: String,
    pub size: u64,
    /// `pending`, `scanning` (waits for its malware scan) or `available`.
    pub status: String,
}

impl From<FileRecord> for VisitorFileDto {
    fn from(file: FileRecord) -> Self {
        Self {
            id: *file.id.as_uuid(),
            name: file.filename.as_str().to_owned(),
            size: file.size_bytes,
            status: file.status.to_string(),
        }
    }
}

/// A visitor's upload under way: PUT the bytes per `upload` (or presign
/// parts per `multipart`), then complete — the shapes of `POST /files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisitorInitiatedDto {
    pub file: VisitorFileDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<PresignedDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartDto>,
}
