//! CORS (actix-cors) for browser clients on other origins: `/api/v1` for
//! `server.cors_origins`, the storage route for `storage.cors_origins` (the
//! local store's counterpart of an S3 bucket's CORS). A preflight from an
//! origin, or for a method or header, not allowed is `403 cors_refused`
//! (problem+json); any other request from such an origin is served without
//! CORS headers, so the browser keeps the answer from the page.

use actix_cors::{Cors, CorsError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use coffer_domain::ErrorCode;

use super::error::problem_response;

/// How long a browser may cache a preflight's answer (as the S3 buckets).
const MAX_AGE_SECS: usize = 3600;

/// `*` allows every origin; anything else is an exact origin
/// (`https://app.example.com`), checked at start-up ([`check_origins`]).
fn with_origins(cors: Cors, origins: &[String]) -> Cors {
    if origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin().send_wildcard();
    }
    origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}

/// The API's CORS: every method the API has, any request header (tokens
/// are bearer headers, never cookies, so no credentials mode), and the
/// response headers a client reads.
pub fn api(origins: &[String]) -> Cors {
    with_origins(Cors::default(), origins)
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allow_any_header()
        .expose_headers([
            "location",
            "retry-after",
            "etag",
            "content-disposition",
            "www-authenticate",
        ])
        .max_age(MAX_AGE_SECS)
}

/// The storage route's CORS, as an S3 bucket's: presigned `GET`, `HEAD` and
/// `PUT`, whatever headers the URL binds (content type, checksum).
pub fn storage(origins: &[String]) -> Cors {
    with_origins(Cors::default(), origins)
        .allowed_methods(["GET", "HEAD", "PUT"])
        .allow_any_header()
        .expose_headers([
            "etag",
            "content-range",
            "content-length",
            "accept-ranges",
            "content-disposition",
        ])
        .max_age(MAX_AGE_SECS)
}

/// Why an origin list cannot be used: each entry must be `*` or an origin
/// as browsers send it (scheme, host, optional port; no path).
pub fn check_origins(key: &str, origins: &[String]) -> Result<(), String> {
    for origin in origins.iter().filter(|o| *o != "*") {
        let serialized = reqwest::Url::parse(origin)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            // The URL parser takes `*.example.com` as a name; browsers never
            // send one, and Coffer matches origins exactly.
            .filter(|url| url.host_str().is_some_and(|host| !host.contains('*')))
            .map(|url| url.origin().ascii_serialization());
        if serialized.as_deref() != Some(origin.as_str()) {
            return Err(format!(
                "{key}: {origin:?} is not an origin (scheme://host[:port], no path or trailing slash) or \"*\""
            ));
        }
    }
    Ok(())
}

/// Answers actix-cors's refusals (plain text `400`) as `403 cors_refused`
/// problem+json; wraps the CORS middleware.
pub async fn refusals_as_problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let response = next.call(req).await?;
    let refusal = response
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
        .map(ToString::to_string);
    Ok(match refusal {
        Some(why) => {
            let (req, _) = response.into_parts();
            let problem = problem_response(
                StatusCode::FORBIDDEN,
                ErrorCode::CorsRefused.as_str(),
                &format!("CORS: {why}"),
                None,
            );
            ServiceResponse::new(req, problem).map_into_right_body()
        }
        None => response.map_into_left_body(),
    })
}
