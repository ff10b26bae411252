//! Records rules on files (docs/records.md): `/files/{id}/retention`,
//! `/files/{id}/legal-holds` and `/legal-holds`.

use actix_web::{HttpResponse, web};
use coffer_api::{
    BypassQuery, FileDto, FolderHoldBody, HoldBody, HoldsQuery, LegalHoldDto, LegalHoldsDto,
    Problem, RetentionBody,
};
use coffer_domain::{FileId, Retention};
use coffer_ports::LegalHold;
use coffer_service::{HoldRequest, RetentionChange};
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/files/{id}/retention")
            .route(web::put().to(put_retention))
            .route(web::delete().to(delete_retention)),
    )
    .service(
        web::resource("/files/{id}/legal-holds")
            .route(web::post().to(hold_file))
            .route(web::get().to(file_holds)),
    )
    .service(
        web::resource("/legal-holds")
            .route(web::post().to(hold_folder))
            .route(web::get().to(all_holds)),
    )
    .service(web::resource("/legal-holds/{id}").route(web::delete().to(release)));
}

fn holds_page(holds: Vec<LegalHold>, limit: u32) -> LegalHoldsDto {
    let next_cursor = (holds.len() >= limit as usize)
        .then(|| holds.last().map(|h| h.id))
        .flatten();
    LegalHoldsDto {
        items: holds.into_iter().map(convert::legal_hold).collect(),
        next_cursor,
    }
}

async fn change_retention(
    state: &AppState,
    caller: &Authenticated,
    id: Uuid,
    change: RetentionChange,
) -> Result<HttpResponse> {
    let file = state
        .coffer
        .files()
        .set_retention(&caller.0, FileId::from_uuid(id), change)
        .await?;
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}

/// Set, extend or (governance, with the bypass) shorten a file's retention. Tenant admins.
#[utoipa::path(put, path = "/api/v1/files/{id}/retention", tag = "records", params(("id" = Uuid, Path)),
    request_body = RetentionBody,
    responses((status = 200, body = FileDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_retention(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<RetentionBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let change = RetentionChange {
        retention: Some(Retention {
            mode: body.mode,
            retain_until: body.retain_until,
        }),
        bypass_governance: body.bypass_governance,
    };
    change_retention(&state, &caller, *id, change).await
}

/// Remove a file's retention: an expired one, or governance with the bypass. Tenant admins.
#[utoipa::path(delete, path = "/api/v1/files/{id}/retention", tag = "records",
    params(("id" = Uuid, Path), BypassQuery),
    responses((status = 200, body = FileDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_retention(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<BypassQuery>,
) -> Result<HttpResponse> {
    let change = RetentionChange {
        retention: None,
        bypass_governance: query.bypass_governance,
    };
    change_retention(&state, &caller, *id, change).await
}

/// Place a legal hold on a file. Tenant admins.
#[utoipa::path(post, path = "/api/v1/files/{id}/legal-holds", tag = "records", params(("id" = Uuid, Path)),
    request_body = HoldBody,
    responses((status = 201, body = LegalHoldDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn hold_file(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<HoldBody>,
) -> Result<HttpResponse> {
    let holds = state
        .coffer
        .files()
        .place_hold(
            &caller.0,
            HoldRequest::File(FileId::from_uuid(*id)),
            body.into_inner().reason,
        )
        .await?;
    match holds.into_iter().next() {
        Some(hold) => Ok(HttpResponse::Created().json(convert::legal_hold(hold))),
        None => Err(coffer_service::ServiceError::not_found("file").into()),
    }
}

/// The holds on a file, oldest first. Tenant admins.
#[utoipa::path(get, path = "/api/v1/files/{id}/legal-holds", tag = "records",
    params(("id" = Uuid, Path), HoldsQuery),
    responses((status = 200, body = LegalHoldsDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn file_holds(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<HoldsQuery>,
) -> Result<HttpResponse> {
    let limit = convert::page_limit(query.limit)?;
    let holds = state
        .coffer
        .files()
        .list_holds(&caller.0, Some(FileId::from_uuid(*id)), query.after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(holds_page(holds, limit)))
}

/// Place a legal hold on every file in a folder and below it (as it is now). Tenant admins.
#[utoipa::path(post, path = "/api/v1/legal-holds", tag = "records", request_body = FolderHoldBody,
    responses((status = 201, body = LegalHoldsDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn hold_folder(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<FolderHoldBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let holds = state
        .coffer
        .files()
        .place_hold(&caller.0, HoldRequest::Folder(body.path), body.reason)
        .await?;
    Ok(HttpResponse::Created().json(LegalHoldsDto {
        items: holds.into_iter().map(convert::legal_hold).collect(),
        next_cursor: None,
    }))
}

/// Every hold of the tenant, oldest first. Tenant admins.
#[utoipa::path(get, path = "/api/v1/legal-holds", tag = "records", params(HoldsQuery),
    responses((status = 200, body = LegalHoldsDto), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn all_holds(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<HoldsQuery>,
) -> Result<HttpResponse> {
    let limit = convert::page_limit(query.limit)?;
    let holds = state
        .coffer
        .files()
        .list_holds(&caller.0, None, query.after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(holds_page(holds, limit)))
}

/// Release a hold; the file stays held while another hold remains. Tenant admins.
#[utoipa::path(delete, path = "/api/v1/legal-holds/{id}", tag = "records", params(("id" = Uuid, Path)),
    responses((status = 200, body = LegalHoldDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn release(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let hold = state.coffer.files().release_hold(&caller.0, *id).await?;
    Ok(HttpResponse::Ok().json(convert::legal_hold(hold)))
}
