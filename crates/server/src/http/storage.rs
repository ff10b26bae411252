//! `/storage/{bucket}/{key}`: the signed URLs of the local-disk store,
//! checked and served by `coffer-fs`; this route only translates HTTP.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use coffer_domain::ErrorCode;
use coffer_fs::{StorageAccess, TransferError};

use super::AppState;
use super::error::problem_response;

/// Under the `/storage` scope, which adds CORS (`storage.cors_origins`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{tail:.*}")
            .route(web::put().to(serve))
            .route(web::get().to(serve)),
    );
}

fn refuse(status: u16, code: &str, detail: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    problem_response(status, code, detail, None)
}

async fn serve(state: web::Data<AppState>, req: HttpRequest, body: web::Payload) -> HttpResponse {
    // A public route: limited per client address.
    if let Err(limited) = state
        .rate_limits
        .check_client(req.peer_addr().map(|a| a.ip()))
    {
        return actix_web::ResponseError::error_response(&limited);
    }
    let Some(fs) = state.fs.clone() else {
        return refuse(
            404,
            ErrorCode::RouteNotFound.as_str(),
            "this server does not serve storage URLs",
        );
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let access = match fs.authorize(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        header,
    ) {
        Ok(access) => access,
        Err(refused) => return refuse(refused.status(), refused.code(), &refused.to_string()),
    };
    match access {
        StorageAccess::Put(access) => match fs.serve_put(access, body).await {
            Ok(put) => HttpResponse::Ok()
                .insert_header(("etag", put.etag))
                .finish(),
            Err(failed) => transfer_refused(&failed),
        },
        StorageAccess::Get(access) => {
            let range = header("range").and_then(coffer_fs::parse_range);
            match fs.serve_get(access, range).await {
                Ok(object) => {
                    let status = StatusCode::from_u16(object.status).unwrap_or(StatusCode::OK);
                    let mut response = HttpResponse::build(status);
                    for (name, value) in object.headers {
                        response.insert_header((name, value));
                    }
                    response
                        .no_chunking(object.content_length)
                        .streaming(object.body)
                }
                Err(failed) => transfer_refused(&failed),
            }
        }
    }
}

fn transfer_refused(failed: &TransferError) -> HttpResponse {
    let mut response = refuse(failed.status(), failed.code(), &failed.to_string());
    if let TransferError::RangeNotSatisfiable { size } = failed
        && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}
