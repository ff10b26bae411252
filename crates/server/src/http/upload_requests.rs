//! Upload requests (docs/sharing.md): `/upload-requests…`. Their public
//! page is [`crate::http::upload_page`]'s.

use actix_web::{HttpRequest, HttpResponse, web};
use coffer_api::{Problem, UploadRequestBody, UploadRequestDto, UploadRequestsDto};
use coffer_domain::{UploadRequest, UploadRequestId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::links::public_base;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/upload-requests")
            .route(web::post().to(create_request))
            .route(web::get().to(list_requests)),
    )
    .service(
        web::resource("/upload-requests/{id}")
            .route(web::get().to(get_request))
            .route(web::delete().to(close_request)),
    );
}

/// Ask people outside the tenant for files into a folder: anyone with the
/// request's URL can upload there until it expires, is full or is closed.
/// The URL is in this answer only.
#[utoipa::path(post, path = "/api/v1/upload-requests", tag = "upload-requests",
    request_body = UploadRequestBody,
    responses((status = 201, body = UploadRequestDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<UploadRequestBody>,
) -> Result<HttpResponse> {
    let created = state
        .coffer
        .upload_requests()
        .create_request(&caller.0, body.into_inner().into_terms())
        .await?;
    let url = format!("{}/u/{}", public_base(&req, &state), created.token.as_str());
    Ok(HttpResponse::Created().json(UploadRequestDto::new(
        created.request,
        Some(url),
        OffsetDateTime::now_utc(),
    )))
}

/// The tenant's upload requests for an admin, the caller's own for anyone
/// else; newest first, closed ones too (without URLs).
#[utoipa::path(get, path = "/api/v1/upload-requests", tag = "upload-requests",
    responses((status = 200, body = UploadRequestsDto), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_requests(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse> {
    let requests = state
        .coffer
        .upload_requests()
        .list_requests(&caller.0)
        .await?;
    let now = OffsetDateTime::now_utc();
    Ok(HttpResponse::Ok().json(UploadRequestsDto {
        items: requests
            .into_iter()
            .map(|r| UploadRequestDto::new(r, None, now))
            .collect(),
    }))
}

/// One upload request (its creator's, or any for an admin).
#[utoipa::path(get, path = "/api/v1/upload-requests/{id}", tag = "upload-requests",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UploadRequestDto), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_request(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let request = state
        .coffer
        .upload_requests()
        .get_request(&caller.0, UploadRequestId::from_uuid(*id))
        .await?;
    Ok(one(request))
}

/// Close an upload request at once (its creator or an admin); again: the
/// same answer. Uploads under way are refused from now on.
#[utoipa::path(delete, path = "/api/v1/upload-requests/{id}", tag = "upload-requests",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UploadRequestDto), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn close_request(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let request = state
        .coffer
        .upload_requests()
        .close_request(&caller.0, UploadRequestId::from_uuid(*id))
        .await?;
    Ok(one(request))
}

/// One request as the API shows it after creation (without its URL).
fn one(request: UploadRequest) -> HttpResponse {
    HttpResponse::Ok().json(UploadRequestDto::new(
        request,
        None,
        OffsetDateTime::now_utc(),
    ))
}
