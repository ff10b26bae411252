//! A file's versions (docs/records.md): `/files/{id}/versions…`.

use actix_web::{HttpRequest, HttpResponse, web};
use coffer_api::{
    DownloadDto, DownloadQuery, FileDto, InitiateVersionBody, InitiatedDto, Problem, VersionsDto,
};
use coffer_domain::FileId;
use coffer_service::InitiateVersion;
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::files::{presigned_download, streamed_content};
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/files/{id}/versions")
            .route(web::post().to(initiate_version))
            .route(web::get().to(list_versions)),
    )
    .route(
        "/files/{id}/versions/{version}/download",
        web::get().to(download_version),
    )
    .route(
        "/files/{id}/versions/{version}/content",
        web::get().to(version_content),
    )
    .route(
        "/files/{id}/versions/{version}/restore",
        web::post().to(restore_version),
    );
}

/// Upload a new version: reserve it and presign its PUT (or parts), like
/// `POST /files`; `POST /files/{upload id}/complete` then makes it current.
#[utoipa::path(post, path = "/api/v1/files/{id}/versions", tag = "versions", params(("id" = Uuid, Path)),
    request_body = InitiateVersionBody,
    responses((status = 201, body = InitiatedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn initiate_version(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<InitiateVersionBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let request = InitiateVersion {
        size: body.size,
        checksum_sha256: body.checksum_sha256,
        content_type: body.content_type,
        multipart: body.multipart,
    };
    let up = state
        .coffer
        .files()
        .initiate_version(&caller.0, FileId::from_uuid(*id), request)
        .await?;
    state.metrics.upload_started();
    Ok(HttpResponse::Created().json(convert::initiated(up)))
}

/// The file's versions, newest first.
#[utoipa::path(get, path = "/api/v1/files/{id}/versions", tag = "versions", params(("id" = Uuid, Path)),
    responses((status = 200, body = VersionsDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let versions = state
        .coffer
        .files()
        .list_versions(&caller.0, FileId::from_uuid(*id))
        .await?;
    Ok(HttpResponse::Ok().json(VersionsDto::from(versions)))
}

/// A presigned download of one version.
#[utoipa::path(get, path = "/api/v1/files/{id}/versions/{version}/download", tag = "versions",
    params(("id" = Uuid, Path), ("version" = u32, Path, minimum = 1), DownloadQuery),
    responses((status = 302), (status = 200, body = DownloadDto), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn download_version(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, u32)>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse> {
    let (id, version) = path.into_inner();
    presigned_download(
        &state,
        &caller,
        FileId::from_uuid(id),
        Some(version),
        &query,
    )
    .await
}

/// One version's bytes, streamed through Coffer, with `Range` support.
#[utoipa::path(get, path = "/api/v1/files/{id}/versions/{version}/content", tag = "versions",
    params(("id" = Uuid, Path), ("version" = u32, Path, minimum = 1)),
    responses((status = 200), (status = 206), (status = 404, body = Problem), (status = 416, body = Problem)),
    security(("bearer" = [])))]
pub async fn version_content(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, u32)>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let (id, version) = path.into_inner();
    streamed_content(&state, &caller, FileId::from_uuid(id), Some(version), &req).await
}

/// Make an earlier version current again, as a new version (the history
/// keeps every step).
#[utoipa::path(post, path = "/api/v1/files/{id}/versions/{version}/restore", tag = "versions",
    params(("id" = Uuid, Path), ("version" = u32, Path, minimum = 1)),
    responses((status = 200, body = FileDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn restore_version(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, u32)>,
) -> Result<HttpResponse> {
    let (id, version) = path.into_inner();
    let file = state
        .coffer
        .files()
        .restore_version(&caller.0, FileId::from_uuid(id), version)
        .await?;
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}
