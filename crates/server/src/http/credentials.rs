//! `/api/v1/credentials` and `/api/v1/upload-sessions`: temporary store
//! credentials for bulk work, and registering what write credentials put
//! (docs/storage.md, "Temporary credentials").

use actix_web::{HttpResponse, web};
use coffer_domain::{
    Category, ContentType, Filename, LogicalPath, Metadata, Sha256Digest, UploadSessionId,
    Visibility,
};
use coffer_service::{
    CredentialAccess, CredentialsRequest, IssuedCredentials, SessionEntry, SessionRegistration,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::dto::FileDto;
use super::error::{ApiError, Problem, status_of};
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/credentials").route(web::post().to(issue)))
        .service(
            web::resource("/upload-sessions/{id}/complete").route(web::post().to(complete_session)),
        );
}

/// `POST /credentials`.
#[derive(Debug, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessDto {
    Write,
    Read,
}

/// Temporary credentials, for any S3 client (`aws`, `rclone`, an SDK).
#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadSessionDto {
    pub id: Uuid,
    /// `POST` the manifest here when the uploads are done.
    pub complete_url: String,
    /// Until then what landed can be registered; then it is deleted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub registrable_until: OffsetDateTime,
}

impl From<IssuedCredentials> for CredentialsDto {
    fn from(issued: IssuedCredentials) -> Self {
        let c = issued.credentials;
        Self {
            access: match issued.access {
                CredentialAccess::Write => "write",
                CredentialAccess::Read => "read",
            }
            .to_owned(),
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expires_at: c.expires_at,
            endpoint: c.endpoint,
            region: c.region,
            force_path_style: c.force_path_style,
            bucket: issued.bucket.to_string(),
            buckets: issued.buckets.iter().map(ToString::to_string).collect(),
            prefix: issued.prefix,
            upload_session: issued.upload_session.map(|s| UploadSessionDto {
                id: *s.id.as_uuid(),
                complete_url: format!("/api/v1/upload-sessions/{}/complete", s.id),
                registrable_until: s.registrable_until,
            }),
        }
    }
}

/// Obtain temporary store credentials confined to the tenant (the store enforces it).
#[utoipa::path(post, path = "/api/v1/credentials", tag = "files", request_body = CredentialsBody,
    responses((status = 201, body = CredentialsDto), (status = 402, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 501, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn issue(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<CredentialsBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let request = CredentialsRequest {
        access: match body.access {
            AccessDto::Write => CredentialAccess::Write,
            AccessDto::Read => CredentialAccess::Read,
        },
        ttl: body.ttl_secs.map(std::time::Duration::from_secs),
    };
    let issued = state.coffer.credentials().issue(&caller.0, request).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CredentialsDto::from(issued)))
}

/// `POST /upload-sessions/{id}/complete`: what to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteSessionBody {
    /// 1 to 1000 objects per call; call again for more.
    #[serde(deserialize_with = "super::json_body::objects")]
    pub files: Vec<SessionFileBody>,
}

/// One object of the session, named by its key under the session's prefix.
#[derive(Debug, Deserialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionRegistrationDto {
    pub registered: Vec<FileDto>,
    pub refused: Vec<RefusedDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedDto {
    pub key: String,
    pub problem: Problem,
}

impl From<SessionRegistration> for SessionRegistrationDto {
    fn from(outcome: SessionRegistration) -> Self {
        Self {
            registered: outcome.registered.into_iter().map(FileDto::from).collect(),
            refused: outcome
                .refused
                .into_iter()
                .map(|r| {
                    let status = status_of(&r.error);
                    RefusedDto {
                        key: r.key,
                        problem: Problem::of(status, &r.error),
                    }
                })
                .collect(),
        }
    }
}

/// Register what landed in an upload session: each object is verified like
/// any upload and becomes a file, or is refused (and removed when its bytes
/// are refused). 200 with both lists, whatever each entry's outcome.
#[utoipa::path(post, path = "/api/v1/upload-sessions/{id}/complete", tag = "files", params(("id" = Uuid, Path)),
    request_body = CompleteSessionBody,
    responses((status = 200, body = SessionRegistrationDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn complete_session(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<CompleteSessionBody>,
) -> Result<HttpResponse> {
    let entries = body
        .into_inner()
        .files
        .into_iter()
        .map(|f| SessionEntry {
            key: f.key,
            filename: f.filename,
            path: f.path,
            content_type: f.content_type,
            category: f.category,
            visibility: f.visibility,
            metadata: f.metadata,
            checksum_sha256: f.checksum_sha256,
        })
        .collect();
    let outcome = state
        .coffer
        .files()
        .register_session(&caller.0, UploadSessionId::from_uuid(*id), entries)
        .await?;
    for file in &outcome.registered {
        state.metrics.upload_completed(file.size_bytes);
    }
    Ok(HttpResponse::Ok().json(SessionRegistrationDto::from(outcome)))
}
