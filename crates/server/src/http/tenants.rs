//! `/api/v1/tenants…`: the platform administrators' path.

use actix_web::{HttpResponse, web};
use coffer_domain::TenantId;
use coffer_service::{CreateTenant, TenantUpdate};
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::dto::*;
use super::error::{ApiError, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tenants")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/tenants/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update)),
    )
    .service(web::resource("/tenants/{id}/retry").route(web::post().to(retry)));
}

/// Onboard a tenant: recorded as `provisioning`, onboarded by a worker
/// (`GET /tenants/{id}` shows the progress).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "platform", request_body = CreateTenantBody,
    responses((status = 202, body = TenantDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<CreateTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let request = CreateTenant {
        slug: b.slug,
        display_name: b.display_name,
        plan: b.plan,
        region: b.region,
        limit_overrides: b.limit_overrides,
        dedicated_bucket: b.dedicated_bucket,
        admin_subject: b.admin_subject,
    };
    let tenant = state.coffer.create_tenant(&caller.0, request).await?;
    Ok(HttpResponse::Accepted().json(TenantDto::from(tenant)))
}

/// All tenants.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "platform", params(PageQuery),
    responses((status = 200, body = PageDto<TenantDto>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = state
        .coffer
        .list_tenants(&caller.0, q.cursor, q.limit)
        .await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.into_iter().map(TenantDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One tenant with limits and usage.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "platform", params(("id" = Uuid, Path)),
    responses((status = 200, body = TenantViewDto), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .coffer
        .get_tenant(&caller.0, TenantId::from_uuid(*id))
        .await?;
    Ok(HttpResponse::Ok().json(TenantViewDto::from(view)))
}

/// Change plan, limits or status (suspend, reactivate, cancel).
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", tag = "platform", params(("id" = Uuid, Path)), request_body = UpdateTenantBody,
    responses((status = 200, body = TenantDto), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: web::Json<UpdateTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let update = TenantUpdate {
        display_name: b.display_name,
        plan: b.plan,
        status: b.status,
        limit_overrides: b.limit_overrides,
    };
    let tenant = state
        .coffer
        .update_tenant(&caller.0, TenantId::from_uuid(*id), update)
        .await?;
    Ok(HttpResponse::Ok().json(TenantDto::from(tenant)))
}

/// Queue a failed onboarding again.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/retry", tag = "platform", params(("id" = Uuid, Path)),
    responses((status = 202, body = TenantDto), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state
        .coffer
        .retry_onboarding(&caller.0, TenantId::from_uuid(*id))
        .await?;
    Ok(HttpResponse::Accepted().json(TenantDto::from(tenant)))
}
