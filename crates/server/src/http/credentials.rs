//! `/api/v1/credentials` and `/api/v1/upload-sessions`: temporary store
//! credentials for bulk work, and registering what write credentials put
//! (docs/storage.md, "Temporary credentials").

use actix_web::{HttpResponse, web};
use coffer_api::{
    AccessDto, CompleteSessionBody, CredentialsBody, CredentialsDto, Problem,
    SessionRegistrationDto,
};
use coffer_domain::UploadSessionId;
use coffer_service::{CredentialAccess, CredentialsRequest, SessionEntry};
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/credentials").route(web::post().to(issue)))
        .service(
            web::resource("/upload-sessions/{id}/complete").route(web::post().to(complete_session)),
        );
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
        .json(convert::credentials(issued)))
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
    Ok(HttpResponse::Ok().json(convert::session_registration(outcome)))
}
