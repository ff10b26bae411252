//! Share links of a file (docs/sharing.md): `/files/{id}/links…`. Their
//! public page is [`crate::http::public`]'s.

use actix_web::{HttpRequest, HttpResponse, web};
use coffer_api::{LinkBody, LinkDto, LinksDto, Problem};
use coffer_domain::{FileId, ShareLinkId};
use coffer_service::CreateLink;
use time::OffsetDateTime;
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/files/{id}/links")
            .route(web::post().to(create_link))
            .route(web::get().to(list_links)),
    )
    .service(web::resource("/files/{id}/links/{link_id}").route(web::delete().to(revoke_link)));
}

/// Make a share link: anyone with its URL can download the file until it
/// expires, is used up or is revoked. The URL is in this answer only.
#[utoipa::path(post, path = "/api/v1/files/{id}/links", tag = "links", params(("id" = Uuid, Path)),
    request_body = LinkBody,
    responses((status = 201, body = LinkDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<LinkBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let request = CreateLink {
        expires_at: body.expires_at,
        password: body.password,
        max_downloads: body.max_downloads,
    };
    let created = state
        .coffer
        .links()
        .create_link(&caller.0, FileId::from_uuid(*id), request)
        .await?;
    let url = format!("{}/s/{}", public_base(&req, &state), created.token.as_str());
    Ok(HttpResponse::Created().json(LinkDto::new(
        created.link,
        Some(url),
        OffsetDateTime::now_utc(),
    )))
}

/// A file's share links, revoked and expired ones too (without URLs).
#[utoipa::path(get, path = "/api/v1/files/{id}/links", tag = "links", params(("id" = Uuid, Path)),
    responses((status = 200, body = LinksDto), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_links(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let links = state
        .coffer
        .links()
        .list_links(&caller.0, FileId::from_uuid(*id))
        .await?;
    let now = OffsetDateTime::now_utc();
    Ok(HttpResponse::Ok().json(LinksDto {
        items: links
            .into_iter()
            .map(|link| LinkDto::new(link, None, now))
            .collect(),
    }))
}

/// Revoke a share link at once (again: no change).
#[utoipa::path(delete, path = "/api/v1/files/{id}/links/{link_id}", tag = "links",
    params(("id" = Uuid, Path), ("link_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_link(
    state: web::Data<AppState>,
    caller: Authenticated,
    ids: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse> {
    let (file, link) = ids.into_inner();
    state
        .coffer
        .links()
        .revoke_link(
            &caller.0,
            FileId::from_uuid(file),
            ShareLinkId::from_uuid(link),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Where outside parties reach this server: `server.public_url`, or else
/// the address the caller used (the URL goes back to that caller only).
pub(super) fn public_base(req: &HttpRequest, state: &AppState) -> String {
    match &state.public_url {
        Some(url) => url.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}
