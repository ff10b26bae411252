//! The whole-request deadline: the backstop behind the dependency timeouts
//! (pool checkout and connect, `statement_timeout`, the S3 operation
//! timeout). Those cover a dependency that refuses, is slow, or stalls
//! while connecting; this covers what they cannot see, such as a database
//! that froze with a query in flight on an established connection, where
//! no server-side timeout can fire and TCP keeps the socket open for many
//! minutes. Such a request ends as `503 request_timeout`, not as a hang.

use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use coffer_domain::ErrorCode;
use coffer_service::ErrorKind;

use super::error::ApiError;

/// Runs the rest of the chain, answering `503 request_timeout` when it has
/// not produced a response head within `limit`. Dropping the handler's
/// future is safe for the stores: a PostgreSQL transaction cut short is
/// discarded with its connection (never returned to the pool open), and
/// each use case orders its writes so that an interruption leaves at worst
/// what a crash would (docs/operations.md).
///
/// The answer is an `Err` rendered by [`ApiError`] rather than a response
/// built here: building one needs the `HttpRequest`, and holding a clone of
/// it while the router runs makes the router panic (it needs the request
/// unshared to record the matched path).
pub async fn deadline(
    limit: Option<Duration>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limit) = limit.filter(|_| !is_transfer(&req)) else {
        return next.call(req).await;
    };
    let (method, path) = (req.method().clone(), req.path().to_owned());
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, path, ?limit, "request did not complete in time");
            Err(ApiError::new(
                ErrorKind::Unavailable,
                ErrorCode::RequestTimeout,
                format!(
                    "the request did not complete within {} s (a dependency is slow or down); retry later",
                    limit.as_secs()
                ),
            )
            .into())
        }
    }
}

/// Requests whose handling is a transfer of the client's bytes, whose
/// length depends on the client and the file, not on a dependency: the
/// streamed upload (a form POST) and the local store's signed transfers.
/// Their dependency calls stay bounded by the dependency timeouts.
fn is_transfer(req: &ServiceRequest) -> bool {
    if req.path().starts_with("/storage/") {
        return true;
    }
    req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}
