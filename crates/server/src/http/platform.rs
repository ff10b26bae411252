//! `/api/v1/platform/metrics`: platform administrators' view across
//! tenants (the only read across tenants; no file names, no contents).

use actix_web::{HttpResponse, web};
use coffer_api::{PlatformMetricsDto, Problem, TenantUsageDto};

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/platform/metrics").route(web::get().to(metrics)));
}

/// Tenants by status and plan, files, bytes and users, and each tenant's
/// usage (platform admins).
#[utoipa::path(get, path = "/api/v1/platform/metrics", tag = "platform",
    responses((status = 200, body = PlatformMetricsDto), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn metrics(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let m = state.coffer.platform().platform_metrics(&caller.0).await?;
    Ok(HttpResponse::Ok().json(PlatformMetricsDto {
        tenants: m.tenants,
        tenants_by_status: m.by_status,
        tenants_by_plan: m.by_plan,
        files: m.files,
        bytes: m.bytes,
        users: m.users,
        usage: m
            .usage
            .into_iter()
            .map(|t| TenantUsageDto {
                id: *t.tenant.as_uuid(),
                slug: t.slug.to_string(),
                plan: t.plan.to_string(),
                status: t.status.to_string(),
                used_bytes: t.usage.used_bytes,
                file_count: t.usage.file_count,
                reserved_bytes: t.usage.reserved_bytes,
                users: t.users,
            })
            .collect(),
    }))
}
