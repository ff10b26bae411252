//! `/api/v1/tenants…`: the platform administrators' path.

use actix_web::{HttpResponse, web};
use coffer_api::{
    CreateTenantBody, EffectiveConfigDto, FeatureBody, FeatureDto, MoveDto, MoveTenantBody,
    PageDto, PageQuery, Problem, SettingBody, SettingDto, TenantDto, TenantViewDto,
    UpdateTenantBody,
};
use coffer_domain::TenantId;
use coffer_service::{CreateTenant, MoveTenant, SetFeature, TenantUpdate};
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::json_body::JsonBody;

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
    .service(
        web::resource("/tenants/{id}/settings/{key}")
            .route(web::get().to(get_setting))
            .route(web::put().to(put_setting)),
    )
    .service(
        web::resource("/tenants/{id}/features/{key}")
            .route(web::get().to(get_feature))
            .route(web::put().to(put_feature)),
    )
    .route(
        "/tenants/{id}/effective-config",
        web::get().to(effective_config),
    )
    .service(web::resource("/tenants/{id}/retry").route(web::post().to(retry)))
    .service(web::resource("/tenants/{id}/move").route(web::post().to(move_tenant)));
}

/// Onboard a tenant: recorded as `provisioning`, onboarded by a worker
/// (`GET /tenants/{id}` shows the progress).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "platform", request_body = CreateTenantBody,
    responses((status = 202, body = TenantDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<CreateTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let request = CreateTenant {
        slug: b.slug,
        display_name: b.display_name,
        plan: b.plan,
        region: b.region,
        limit_overrides: b.limit_overrides,
        dedicated_bucket: b.dedicated_bucket,
        dedicated_database: b.dedicated_database,
        dedicated_schema: b.dedicated_schema,
        admin_subject: b.admin_subject,
    };
    let tenant = state
        .coffer
        .onboarder()
        .create_tenant(&caller.0, request)
        .await?;
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
        .tenants()
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
    let id = TenantId::from_uuid(*id);
    let view = state.coffer.tenants().get_tenant(&caller.0, id).await?;
    let last_move = state.coffer.mover().move_of(id).await?;
    let mut dto = convert::tenant_view(view);
    if let Some(last_move) = last_move {
        dto.placement_status = last_move.placement_status();
        dto.last_move = Some(last_move.into());
    }
    Ok(HttpResponse::Ok().json(dto))
}

/// Change plan, limits or status (suspend, reactivate, cancel).
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", tag = "platform", params(("id" = Uuid, Path)), request_body = UpdateTenantBody,
    responses((status = 200, body = TenantDto), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let update = TenantUpdate {
        display_name: b.display_name,
        plan: b.plan,
        status: b.status,
        limit_overrides: b.limit_overrides,
    };
    let plan_changed = update.plan.is_some();
    let tenant = state
        .coffer
        .tenants()
        .update_tenant(&caller.0, TenantId::from_uuid(*id), update)
        .await?;
    if plan_changed {
        // The new plan's placement, where it differs (docs/tenants-placement.md).
        state
            .coffer
            .mover()
            .follow_plan(Some(&caller.0), &tenant)
            .await?;
    }
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
        .onboarder()
        .retry_onboarding(&caller.0, TenantId::from_uuid(*id))
        .await?;
    Ok(HttpResponse::Accepted().json(TenantDto::from(tenant)))
}

fn setting_dto(view: coffer_service::SettingView) -> SettingDto {
    SettingDto {
        key: view.key,
        value: view.value,
        effective: view.effective,
        source: view.source.to_string(),
    }
}

fn feature_dto(view: coffer_service::FeatureView) -> FeatureDto {
    FeatureDto {
        key: view.key,
        enabled: view.enabled,
        source: view.source.to_string(),
        expires_at: view.expires_at,
        stored: view.stored.and_then(|f| serde_json::to_value(f).ok()),
    }
}

/// One setting of a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/settings/{key}", tag = "platform",
    params(("id" = Uuid, Path), ("key" = String, Path, description = "max_file_size, url_ttl_secs, allowed_content_types, retention_days")),
    responses((status = 200, body = SettingDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_setting(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let view = state
        .coffer
        .settings()
        .tenant_setting(&caller.0, TenantId::from_uuid(id), &key)
        .await?;
    Ok(HttpResponse::Ok().json(setting_dto(view)))
}

/// Set or clear (`{"value": null}`) a setting; every instance applies it at once.
#[utoipa::path(put, path = "/api/v1/tenants/{id}/settings/{key}", tag = "platform",
    params(("id" = Uuid, Path), ("key" = String, Path)), request_body = SettingBody,
    responses((status = 200, body = SettingDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_setting(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
    body: JsonBody<SettingBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let view = state
        .coffer
        .settings()
        .set_tenant_setting(
            &caller.0,
            TenantId::from_uuid(id),
            &key,
            Some(body.into_inner().value),
        )
        .await?;
    Ok(HttpResponse::Ok().json(setting_dto(view)))
}

/// One feature flag of a tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/features/{key}", tag = "platform",
    params(("id" = Uuid, Path), ("key" = String, Path, description = "streamed_uploads, multipart_uploads, content_streaming")),
    responses((status = 200, body = FeatureDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_feature(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let view = state
        .coffer
        .settings()
        .tenant_feature(&caller.0, TenantId::from_uuid(id), &key)
        .await?;
    Ok(HttpResponse::Ok().json(feature_dto(view)))
}

/// Set a feature flag, optionally until `expires_at`; every instance applies it at once.
#[utoipa::path(put, path = "/api/v1/tenants/{id}/features/{key}", tag = "platform",
    params(("id" = Uuid, Path), ("key" = String, Path)), request_body = FeatureBody,
    responses((status = 200, body = FeatureDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_feature(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
    body: JsonBody<FeatureBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let b = body.into_inner();
    let set = SetFeature {
        enabled: b.enabled,
        expires_at: b.expires_at,
    };
    let view = state
        .coffer
        .settings()
        .set_tenant_feature(&caller.0, TenantId::from_uuid(id), &key, set)
        .await?;
    Ok(HttpResponse::Ok().json(feature_dto(view)))
}

/// The tenant's effective configuration and where each value came from.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/effective-config", tag = "platform",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EffectiveConfigDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn effective_config(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .coffer
        .settings()
        .tenant_effective_config(&caller.0, TenantId::from_uuid(*id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Move a tenant to another placement (a database, schema or bucket of its
/// own, or another region), as a job: `GET /tenants/{id}` shows its progress.
#[utoipa::path(post, path = "/api/v1/tenants/{id}/move", tag = "platform", params(("id" = Uuid, Path)), request_body = MoveTenantBody,
    responses((status = 202, body = MoveDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn move_tenant(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<MoveTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let request = MoveTenant {
        dedicated_database: b.dedicated_database,
        dedicated_schema: b.dedicated_schema,
        dedicated_bucket: b.dedicated_bucket,
        region: b.region,
        confirm_region_change: b.confirm_region_change,
    };
    let queued = state
        .coffer
        .mover()
        .request_move(&caller.0, TenantId::from_uuid(*id), request)
        .await?;
    Ok(HttpResponse::Accepted().json(MoveDto::from(queued)))
}
