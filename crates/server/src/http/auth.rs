//! The bearer-token extractor: every `/api/v1` handler that takes an
//! [`Authenticated`] caller is authenticated by the IdentityProvider.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use coffer_domain::ErrorCode;
use coffer_service::{Caller, ErrorKind, RequestMeta};
use tracing_actix_web::{RequestId, RootSpan};

use super::AppState;
use super::error::ApiError;
use super::session::{SESSION_COOKIE, cross_site, same_origin};

/// The authenticated caller of this request, within its tenant's and its
/// own rate limits. A request refused for want of a valid token counts
/// against its client address's.
#[derive(Debug)]
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = state
            .as_deref()
            .map_or_else(|| bearer(req), |s| credentials(req, s));
        let tenant = req
            .headers()
            .get("x-tenant")
            .map(|v| v.to_str().map(str::to_owned));
        let meta = request_meta(req);
        let writes = !matches!(
            *req.method(),
            actix_web::http::Method::GET
                | actix_web::http::Method::HEAD
                | actix_web::http::Method::OPTIONS
        );
        let client = req.peer_addr().map(|a| a.ip());
        let span = req.extensions().get::<RootSpan>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Internal,
                    ErrorCode::Internal,
                    "no application state",
                )
            })?;
            let caller = authenticate(&state, token, tenant, meta).await;
            let caller = match caller {
                Err(refused) if refused.0.kind == ErrorKind::Unauthenticated => {
                    state.rate_limits.check_client(client)?;
                    return Err(refused.into());
                }
                other => other?,
            };
            if let (Some(span), Some(tenant)) = (span, &caller.tenant) {
                // The request span names the tenant from here on (logs and traces).
                span.record("tenant", tenant.slug.as_str());
                span.record("tenant_id", tracing::field::display(tenant.id));
            }
            state.rate_limits.check_caller(&caller)?;
            if writes {
                caller.writable().map_err(ApiError::from)?;
            }
            Ok(Authenticated(caller))
        })
    }
}

async fn authenticate(
    state: &AppState,
    token: Result<String, ApiError>,
    tenant: Option<Result<String, actix_web::http::header::ToStrError>>,
    meta: RequestMeta,
) -> Result<Caller, ApiError> {
    let token = token?;
    let tenant = tenant.transpose().map_err(|_| {
        ApiError::malformed(ErrorCode::MalformedHeader, "X-Tenant must be visible ASCII")
    })?;
    Ok(state
        .coffer
        .authentication()
        .authenticate(&token, tenant, meta)
        .await?)
}

/// The request's facts the audit log keeps.
pub(crate) fn request_meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        request_id: req.extensions().get::<RequestId>().map(ToString::to_string),
        client_addr: req.peer_addr().map(|a| a.ip().to_string()),
    }
}

/// The bearer token, or else the web app's session cookie — which a
/// request that changes something may use only from the app's own pages.
fn credentials(req: &HttpRequest, state: &AppState) -> Result<String, ApiError> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return bearer(req);
    }
    match req.cookie(SESSION_COOKIE) {
        Some(cookie) if !cookie.value().is_empty() => {
            if !req.method().is_safe() && !same_origin(req, state) {
                return Err(cross_site());
            }
            Ok(cookie.value().to_owned())
        }
        _ => bearer(req),
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::MissingToken,
            "send Authorization: Bearer <token>",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token.to_owned())
}
