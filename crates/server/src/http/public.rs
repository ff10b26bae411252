//! The public pages (docs/sharing.md): `/s/{token}`, a share link's page
//! for people without an account. Server-rendered HTML (maud escapes every
//! value), no script at all, one stylesheet of our own: the strict
//! Content-Security-Policy below holds. The token in the address never
//! leaves for another site (`Referrer-Policy: no-referrer`), and nothing
//! here is cached.
//!
//! Downloading is a `POST` (a form with the password, when the link has
//! one), answered `303` to a short-lived presigned GET: link previewers
//! that fetch every URL in a chat message open the page, but never spend a
//! download.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use coffer_domain::LinkDead;
use coffer_service::{ErrorKind, LinkRefusal, OpenedLink, PasswordProblem, ServiceError};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;

use super::AppState;
use super::auth::request_meta;

const STYLESHEET: &str = include_str!("../../assets/public.css");
pub(super) const STYLESHEET_PATH: &str = "/assets/public.css";
const ICON: &str = include_str!("../../assets/favicon.svg");
pub(super) const ICON_PATH: &str = "/assets/favicon.svg";

/// Scripts: none. Styles: our stylesheet. Forms post to this server only
/// (their `303` to the store is a navigation the browser follows).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/s/{token}")
            .app_data(
                web::FormConfig::default()
                    .limit(8 * 1024)
                    .error_handler(|err, _| {
                        let page = refusal_page(
                            StatusCode::BAD_REQUEST,
                            "That did not work",
                            "The form could not be read. Go back and try again.",
                        );
                        actix_web::error::InternalError::from_response(err, page).into()
                    }),
            )
            .route(web::get().to(show_link))
            .route(web::post().to(download_link)),
    )
    .service(web::resource(STYLESHEET_PATH).route(web::get().to(stylesheet)))
    .service(web::resource(ICON_PATH).route(web::get().to(icon)))
    // Browsers ask for it whatever the page says.
    .service(web::resource("/favicon.ico").route(web::get().to(icon)));
}

#[derive(Debug, Deserialize)]
struct DownloadForm {
    #[serde(default)]
    password: Option<String>,
}

async fn show_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    if let Some(limited) = over_rate(&req, &state) {
        return limited;
    }
    match state
        .coffer
        .links()
        .open_link(&token, &request_meta(&req))
        .await
    {
        Ok(opened) => link_page(&opened, None, StatusCode::OK),
        Err(refusal) => refused(refusal),
    }
}

async fn download_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<DownloadForm>,
) -> HttpResponse {
    if let Some(limited) = over_rate(&req, &state) {
        return limited;
    }
    let meta = request_meta(&req);
    match state
        .coffer
        .links()
        .download(&token, form.password.as_deref(), &meta)
        .await
    {
        Ok(presigned) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, presigned.url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .finish(),
        Err(refusal) => refused(refusal),
    }
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn icon() -> HttpResponse {
    asset("image/svg+xml", ICON)
}

pub(super) fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// The page a refusal shows. A password problem shows the link's page
/// again, with the problem above the form.
fn refused(refusal: LinkRefusal) -> HttpResponse {
    match refusal {
        LinkRefusal::Password { problem, link } => {
            let problem = match problem {
                PasswordProblem::Missing => "Enter the password to download.".to_owned(),
                PasswordProblem::Wrong { attempts_left } => format!(
                    "That password is not right. {attempts_left} more {} before this link pauses.",
                    if attempts_left == 1 { "try" } else { "tries" }
                ),
            };
            link_page(&link, Some(&problem), StatusCode::FORBIDDEN)
        }
        LinkRefusal::Locked { until } => {
            let left = until - OffsetDateTime::now_utc();
            let mut page = refusal_page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many wrong passwords",
                &format!(
                    "This link takes no password for {} more minutes. Try again later.",
                    left.whole_minutes().max(1)
                ),
            );
            if let Ok(value) = HeaderValue::from_str(&left.whole_seconds().max(1).to_string()) {
                page.headers_mut().insert(header::RETRY_AFTER, value);
            }
            page
        }
        LinkRefusal::Unknown => unknown_page(),
        LinkRefusal::Dead(dead) => {
            let (title, text) = match dead {
                LinkDead::Revoked => (
                    "This link was withdrawn",
                    "The sender no longer shares this file through it.",
                ),
                LinkDead::Expired => (
                    "This link has expired",
                    "Ask the sender for a new link if you still need the file.",
                ),
                LinkDead::UsedUp => (
                    "This link has been used up",
                    "It allowed a set number of downloads, and all were made.",
                ),
            };
            refusal_page(StatusCode::GONE, title, text)
        }
        LinkRefusal::Unavailable => refusal_page(
            StatusCode::NOT_FOUND,
            "This file is not available",
            "The file behind this link cannot be downloaded now.",
        ),
        LinkRefusal::Failed(err) => failed_page(&err, "file", "a share link page"),
    }
}

/// A token no link or request has: the same page for both, so that it
/// tells nothing of which kind was guessed.
pub(super) fn unknown_page() -> HttpResponse {
    refusal_page(
        StatusCode::NOT_FOUND,
        "This link does not exist",
        "Check that the address is complete, or ask the sender for a new link.",
    )
}

/// A public page that failed: `503` while a dependency is down (try
/// again), else `500`, logged as `page`'s failure; `what` names what
/// cannot be reached.
pub(super) fn failed_page(err: &ServiceError, what: &str, page: &str) -> HttpResponse {
    let status = if err.kind == ErrorKind::Unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        tracing::error!(code = %err.code, detail = %err.detail, "{page} failed");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    refusal_page(
        status,
        "Something went wrong",
        &format!("The {what} cannot be reached right now. Try again in a moment."),
    )
}

fn link_page(opened: &OpenedLink, problem: Option<&str>, status: StatusCode) -> HttpResponse {
    let body = html! {
        h1 { (opened.filename.as_str()) }
        dl.facts {
            dt { "Size" } dd { (human_size(opened.size)) " · " (opened.content_type.as_str()) }
            dt { "Available until" } dd { "Available until " (day_and_time(opened.expires_at)) }
            @if let Some(left) = opened.downloads_left {
                dt { "Downloads left" } dd { (left) (if left == 1 { " download left" } else { " downloads left" }) }
            }
        }
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        form method="post" {
            @if opened.password_required {
                label for="password" { "Password" }
                input #password type="password" name="password" required
                    autocomplete="current-password" autofocus;
            }
            button type="submit" { "Download" }
        }
        p.fine { "Shared with you through Coffer. Each use of this link is on record." }
    };
    page(status, opened.filename.as_str(), body)
}

pub(super) fn refusal_page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let body = html! {
        h1 { (title) }
        p { (text) }
    };
    page(status, title, body)
}

pub(super) fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    page_with(status, title, body, CONTENT_SECURITY_POLICY, None)
}

/// A public page under `csp`, with `script` (a path of this server's) when
/// the page has one.
pub(super) fn page_with(
    status: StatusCode,
    title: &str,
    body: Markup,
    csp: &str,
    script: Option<&str>,
) -> HttpResponse {
    let document = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (title) " · Coffer" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                link rel="icon" href=(ICON_PATH) type="image/svg+xml";
                @if let Some(script) = script {
                    script src=(script) defer {}
                }
            }
            body {
                main {
                    p.brand { "Coffer" }
                    (body)
                }
            }
        }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", csp))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-robots-tag", "noindex, nofollow"))
        .body(document.into_string())
}

/// The public pages count against the client address's request limit:
/// guessing tokens is slow as well as hopeless.
pub(super) fn over_rate(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let limited = state
        .rate_limits
        .check_client(req.peer_addr().map(|a| a.ip()))
        .err()?;
    let mut page = refusal_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "Wait a moment, then try again.",
    );
    if let Ok(value) = HeaderValue::from_str(&limited.retry_after_secs().to_string()) {
        page.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(page)
}

/// `1.4 MB`, `512 bytes`: sizes as people read them (decimal units).
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return if bytes == 1 {
            "1 byte".to_owned()
        } else {
            format!("{bytes} bytes")
        };
    }
    #[allow(clippy::cast_precision_loss)] // one decimal shown
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `3 December 2026, 17:40 UTC`.
pub(super) fn day_and_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {} {}, {:02}:{:02} UTC",
        at.day(),
        at.month(),
        at.year(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_000), "1.0 kB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.2 MB");
        assert_eq!(human_size(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn times_are_day_month_year_in_utc() {
        let at = time::macros::datetime!(2026-12-03 17:40:59 +01:00);
        assert_eq!(day_and_time(at), "3 December 2026, 16:40 UTC");
    }
}
