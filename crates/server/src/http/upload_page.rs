//! An upload request's public page (docs/sharing.md): `/u/{token}`, where
//! someone without an account sends files into the requester's folder, and
//! the JSON endpoints its one script (`/assets/upload.js`) calls:
//!
//! - `POST /u/{token}/uploads` `{name, size, content_type}` → `201` with
//!   the presigned PUT (or the parts' layout), shaped as `POST /files`'s;
//! - `POST /u/{token}/uploads/{file_id}/parts` `{part_numbers}` → `200`;
//! - `POST /u/{token}/uploads/{file_id}/complete` → `200`, the verified file.
//!
//! The bytes go from the browser straight to the store: the page's
//! `connect-src` names this server and the store's origins, nothing else.
//! Refusals are problem+json (`410 request_closed|request_expired|
//! request_full`, `404 not_found|request_unavailable`, and the upload's own
//! `413`/`415`/`422`). Like `/s/`, everything here counts against the
//! client address's rate limit, is never cached and sends no referrer.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use coffer_api::{
    PartDto, PartsBody, PartsDto, VisitorFileDto, VisitorInitiatedDto, VisitorUploadBody,
};
use coffer_domain::{ErrorCode, FileId, RequestClosed};
use coffer_service::{OpenedRequest, RequestRefusal, UploadTarget, VisitorUpload};
use maud::html;
use uuid::Uuid;

use super::auth::request_meta;
use super::error::{ApiError, problem_response};
use super::public::{
    asset, day_and_time, failed_page, human_size, over_rate, page_with, refusal_page, unknown_page,
};
use super::{AppState, convert};

const SCRIPT: &str = include_str!("../../assets/upload.js");
const SCRIPT_PATH: &str = "/assets/upload.js";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/u/{token}").route(web::get().to(show_request)))
        .service(web::resource("/u/{token}/uploads").route(web::post().to(start_upload)))
        .service(web::resource("/u/{token}/uploads/{file_id}/parts").route(web::post().to(parts)))
        .service(
            web::resource("/u/{token}/uploads/{file_id}/complete").route(web::post().to(complete)),
        )
        .service(web::resource(SCRIPT_PATH).route(web::get().to(script)));
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// Our script, our stylesheet; the page talks to this server and to the
/// store (presigned PUTs), to nothing else.
fn content_security_policy(store_origins: &[String]) -> String {
    let mut connect = String::from("'self'");
    for origin in store_origins {
        connect.push(' ');
        connect.push_str(origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

async fn show_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    if let Some(limited) = over_rate(&req, &state) {
        return limited;
    }
    match state.coffer.upload_requests().open_request(&token).await {
        Ok(opened) => request_page(&opened, &state.store_origins),
        Err(refusal) => refused_page(refusal),
    }
}

fn request_page(opened: &OpenedRequest, store_origins: &[String]) -> HttpResponse {
    let types: Vec<&str> = opened.allowed_types.iter().map(|t| t.as_str()).collect();
    let accept = types.join(",");
    let body = html! {
        h1 { "Send files" }
        @if let Some(message) = &opened.message {
            p.message { (message) }
        }
        dl.facts {
            dt { "Folder" } dd { "Into the folder " strong { (opened.folder) } }
            dt { "Files" } dd { (opened.files_left) (if opened.files_left == 1 { " more file" } else { " more files" }) ", each up to " (human_size(opened.max_size)) }
            @if !types.is_empty() {
                dt { "Types" } dd { "Types: " (types.join(", ")) }
            }
            dt { "Open until" } dd { "Open until " (day_and_time(opened.expires_at)) }
        }
        form #upload method="post" {
            label for="files" { "Files to send" }
            @if accept.is_empty() {
                input #files type="file" name="files" multiple required;
            } @else {
                input #files type="file" name="files" multiple required accept=(accept);
            }
            button type="submit" { "Upload" }
        }
        noscript { p.problem { "This page needs JavaScript to send files." } }
        ul #progress .progress aria-live="polite" {}
        p #outcome role="status" {}
        p.fine { "Files you send go to the person who asked for them, through Coffer. Each upload is on record." }
    };
    page_with(
        StatusCode::OK,
        "Send files",
        body,
        &content_security_policy(store_origins),
        Some(SCRIPT_PATH),
    )
}

fn refused_page(refusal: RequestRefusal) -> HttpResponse {
    match refusal {
        RequestRefusal::Unknown => unknown_page(),
        RequestRefusal::Closed(closed) => {
            let (title, text) = closed_text(closed);
            refusal_page(StatusCode::GONE, title, text)
        }
        RequestRefusal::Unavailable => refusal_page(
            StatusCode::NOT_FOUND,
            "This request is not available",
            "It takes no files right now. Ask the sender if you still need to send them.",
        ),
        RequestRefusal::Failed(err) => failed_page(&err, "request", "an upload request page"),
    }
}

fn closed_text(closed: RequestClosed) -> (&'static str, &'static str) {
    match closed {
        RequestClosed::Closed => (
            "This request was closed",
            "The sender no longer takes files through it.",
        ),
        RequestClosed::Expired => (
            "This request has expired",
            "Ask the sender for a new link if you still need to send files.",
        ),
        RequestClosed::Full => ("This request is full", "It took every file it asked for."),
    }
}

/// A refusal of the JSON endpoints, as problem+json.
fn refused(refusal: RequestRefusal) -> HttpResponse {
    let (status, code, detail) = match refusal {
        RequestRefusal::Unknown => (
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no upload request has this address".to_owned(),
        ),
        RequestRefusal::Closed(closed) => {
            let code = match closed {
                RequestClosed::Closed => ErrorCode::RequestClosed,
                RequestClosed::Expired => ErrorCode::RequestExpired,
                RequestClosed::Full => ErrorCode::RequestFull,
            };
            let (title, text) = closed_text(closed);
            (StatusCode::GONE, code, format!("{title}. {text}"))
        }
        RequestRefusal::Unavailable => (
            StatusCode::NOT_FOUND,
            ErrorCode::RequestUnavailable,
            "this request is not available: it takes no files right now".to_owned(),
        ),
        RequestRefusal::Failed(err) => {
            return actix_web::ResponseError::error_response(&ApiError::from(err));
        }
    };
    problem_response(status, code.as_str(), &detail, None)
}

/// The client address's rate limit, for the JSON endpoints: `429`
/// problem+json with `Retry-After`, as the API answers.
fn over_rate_json(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let limited = state
        .rate_limits
        .check_client(req.peer_addr().map(|a| a.ip()))
        .err()?;
    Some(actix_web::ResponseError::error_response(&limited))
}

/// A JSON answer that no cache keeps and that sends no referrer.
fn answer(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .json(body)
}

async fn start_upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Json<VisitorUploadBody>,
) -> HttpResponse {
    if let Some(limited) = over_rate_json(&req, &state) {
        return limited;
    }
    let body = body.into_inner();
    let upload = VisitorUpload {
        filename: body.name,
        size: body.size,
        content_type: body.content_type,
    };
    match state
        .coffer
        .upload_requests()
        .start_upload(&token, upload, &request_meta(&req))
        .await
    {
        Ok(initiated) => {
            state.metrics.upload_started();
            let (upload, multipart) = match initiated.upload {
                UploadTarget::Single(r) => (Some(convert::presigned(r)), None),
                UploadTarget::Multipart(m) => (
                    None,
                    Some(coffer_api::MultipartDto {
                        part_size: m.part_size,
                        part_count: m.part_count,
                        expires_at: m.expires_at,
                    }),
                ),
            };
            answer(
                StatusCode::CREATED,
                &VisitorInitiatedDto {
                    file: initiated.file.into(),
                    upload,
                    multipart,
                },
            )
        }
        Err(refusal) => refused(refusal),
    }
}

async fn parts(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<PartsBody>,
) -> HttpResponse {
    if let Some(limited) = over_rate_json(&req, &state) {
        return limited;
    }
    let (token, file) = path.into_inner();
    let requests = match convert::part_requests(body.into_inner()) {
        Ok(requests) => requests,
        Err(err) => return refused(RequestRefusal::Failed(err)),
    };
    match state
        .coffer
        .upload_requests()
        .presign_parts(
            &token,
            FileId::from_uuid(file),
            requests,
            &request_meta(&req),
        )
        .await
    {
        Ok(parts) => answer(
            StatusCode::OK,
            &PartsDto {
                parts: parts
                    .into_iter()
                    .map(|p| PartDto {
                        part_number: p.part_number,
                        request: convert::presigned(p.request),
                    })
                    .collect(),
            },
        ),
        Err(refusal) => refused(refusal),
    }
}

async fn complete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
) -> HttpResponse {
    if let Some(limited) = over_rate_json(&req, &state) {
        return limited;
    }
    let (token, file) = path.into_inner();
    match state
        .coffer
        .upload_requests()
        .complete_upload(&token, FileId::from_uuid(file), &request_meta(&req))
        .await
    {
        Ok(file) => {
            state.metrics.upload_completed(file.size_bytes);
            answer(StatusCode::OK, &VisitorFileDto::from(file))
        }
        Err(refusal) => refused(refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_connects_to_this_server_and_the_stores_only() {
        assert!(content_security_policy(&[]).contains("connect-src 'self'; form-action 'self'"));
        let csp = content_security_policy(&[
            "http://127.0.0.1:8333".to_owned(),
            "https://*.s3.example.com".to_owned(),
        ]);
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:8333 https://*.s3.example.com;"),
            "{csp}"
        );
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self';"),
            "{csp}"
        );
    }
}
