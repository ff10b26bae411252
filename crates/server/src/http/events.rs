//! `/api/v1/tenant/webhook` and `/api/v1/events`: how other systems hear
//! of a tenant's changes — pushed to a webhook, or polled.

use actix_web::{HttpResponse, web};
use coffer_api::{EventDto, EventsQuery, PageDto, Problem, WebhookBody, WebhookDto};
use coffer_domain::webhook::WebhookUrl;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tenant/webhook")
            .route(web::get().to(get_webhook))
            .route(web::put().to(put_webhook))
            .route(web::delete().to(delete_webhook)),
    )
    .service(web::resource("/events").route(web::get().to(list_events)));
}

/// The tenant's webhook (tenant admins); `404` when none is set.
#[utoipa::path(get, path = "/api/v1/tenant/webhook", tag = "events",
    responses((status = 200, body = WebhookDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse> {
    let hook = state
        .coffer
        .events()
        .webhook(&caller.0)
        .await?
        .ok_or_else(|| ApiError(coffer_service::ServiceError::not_found("webhook")))?;
    Ok(HttpResponse::Ok().json(WebhookDto {
        url: hook.url,
        secret: None,
        since: hook.since,
    }))
}

/// Deliver the tenant's events to a URL from now on (tenant admins). Each
/// `PUT` makes a new signing secret, returned once.
#[utoipa::path(put, path = "/api/v1/tenant/webhook", tag = "events", request_body = WebhookBody,
    responses((status = 200, body = WebhookDto), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_webhook(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<WebhookBody>,
) -> Result<HttpResponse> {
    let url = WebhookUrl::new(body.into_inner().url).map_err(|e| ApiError(e.into()))?;
    let hook = state.coffer.events().set_webhook(&caller.0, url).await?;
    Ok(HttpResponse::Ok().json(WebhookDto {
        url: hook.url,
        secret: Some(hook.secret),
        since: hook.since,
    }))
}

/// Stop delivering (tenant admins); events stay available for polling.
#[utoipa::path(delete, path = "/api/v1/tenant/webhook", tag = "events",
    responses((status = 204), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse> {
    state.coffer.events().remove_webhook(&caller.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's events, oldest first (tenant admins): for clients that
/// poll instead of receiving a webhook. Events appear a moment after they
/// happen (`events.settle_ms`), so paging with `after` never skips one.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = PageDto<EventDto>), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let page = state
        .coffer
        .events()
        .list_events(&caller.0, q.after.as_deref(), convert::page_limit(q.limit)?)
        .await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page
            .items
            .into_iter()
            .map(|e| EventDto {
                id: e.id,
                kind: e.kind,
                data: e.data,
                created_at: e.created_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
