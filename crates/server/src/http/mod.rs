//! The HTTP API: routes, extractors and the error mapping.

mod app;
mod auth;
mod billing;
mod convert;
pub(crate) mod cors;
mod credentials;
mod deadline;
mod error;
mod events;
mod files;
mod json_body;
mod links;
mod openapi;
mod openapi_conformance;
mod openapi_constraints;
mod openapi_shapes;
mod ops;
mod platform;
mod public;
pub mod rate_limit;
mod records;
mod session;
mod storage;
mod tenants;
mod upload_page;
mod upload_requests;
mod versions;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use coffer_domain::ErrorCode;
use coffer_fs::FsStore;
use coffer_service::Coffer;

pub use billing::BillingEndpoint;
pub use deadline::deadline;
pub use error::ApiError;
pub use openapi::{ApiDoc, use_case};
pub use ops::{Job, JobOutcome, Metrics, PoolGauges, docs_index};
pub use session::WebSignIn;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub coffer: Coffer,
    /// Present when objects live on the local disk: the storage route serves
    /// its signed URLs.
    pub fs: Option<Arc<FsStore>>,
    pub metrics: Metrics,
    /// The billing endpoint, when a signing secret is configured.
    pub billing: Option<BillingEndpoint>,
    /// Requests per tenant, user and client address.
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// `server.public_url`, when configured: the base of share links.
    pub public_url: Option<String>,
    /// Where browsers send bytes on presigned URLs
    /// ([`crate::config::Config::browser_store_origins`]).
    pub store_origins: Vec<String>,
    /// How people sign in to the web app; `None`: no app (`web.enabled`).
    pub sign_in: Option<Arc<WebSignIn>>,
}

/// What [`configure`] needs from the configuration.
#[derive(Clone, Debug, Default)]
pub struct RouteOptions {
    /// The largest JSON request body.
    pub json_limit: usize,
    /// Web origins allowed on `/api/v1` (`server.cors_origins`).
    pub api_origins: Vec<String>,
    /// Web origins allowed on the storage route (`storage.cors_origins`).
    pub storage_origins: Vec<String>,
    /// Serve the web app at `/` and its sign-in (`web.enabled`).
    pub web_app: bool,
}

/// Register every route and the request-parsing error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, options: &RouteOptions) {
    let json_limit = options.json_limit;
    cfg.app_data(
        web::JsonConfig::default()
            .limit(json_limit)
            .error_handler(|err, _| json_error(err).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::malformed(ErrorCode::MalformedQuery, err.to_string()).into()
    }))
    .app_data(web::PathConfig::default().error_handler(|err, _| {
        ApiError::malformed(ErrorCode::MalformedId, format!("not a valid id: {err}")).into()
    }))
    .service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(refuse_nul_in_query))
            .wrap(cors::api(&options.api_origins))
            .wrap(actix_web::middleware::from_fn(cors::refusals_as_problems))
            .configure(files::routes)
            .configure(links::routes)
            .configure(upload_requests::routes)
            .configure(credentials::routes)
            .configure(records::routes)
            .configure(versions::routes)
            .configure(tenants::routes)
            .configure(events::routes)
            .configure(platform::routes)
            .service(web::resource("/openapi.json").route(web::get().to(openapi::document))),
    )
    .configure(billing::routes)
    .configure(ops::routes)
    .configure(public::routes)
    .configure(upload_page::routes)
    .configure(|cfg| {
        if options.web_app {
            app::routes(cfg);
            session::routes(cfg);
        }
    })
    .service(
        web::scope("/storage")
            .wrap(cors::storage(&options.storage_origins))
            .wrap(actix_web::middleware::from_fn(cors::refusals_as_problems))
            .configure(storage::routes),
    )
    .default_service(web::to(not_found));
}

fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    use coffer_service::ErrorKind;
    match err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::new(
            ErrorKind::PayloadTooLarge,
            ErrorCode::BodyTooLarge,
            err.to_string(),
        ),
        E::ContentType => ApiError::new(
            ErrorKind::UnsupportedMediaType,
            ErrorCode::UnsupportedMediaType,
            "send application/json (or multipart/form-data to stream a file)",
        ),
        E::Deserialize(e) if e.is_data() => {
            ApiError::new(ErrorKind::Invalid, ErrorCode::InvalidBody, e.to_string())
        }
        other => ApiError::malformed(ErrorCode::MalformedJson, other.to_string()),
    }
}

/// A token-less error: counted against the client address.
async fn not_found(req: HttpRequest) -> HttpResponse {
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Err(limited) = state
            .rate_limits
            .check_client(req.peer_addr().map(|a| a.ip()))
    {
        return actix_web::ResponseError::error_response(&limited);
    }
    error::problem_response(
        actix_web::http::StatusCode::NOT_FOUND,
        ErrorCode::RouteNotFound.as_str(),
        &format!("no route for {} {}", req.method(), req.path()),
        None,
    )
}

/// Answers actix's bare `405` (a path that has routes, none for this method)
/// as problem+json, with `Allow` naming each method once.
pub async fn method_not_allowed_as_problem(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::{StatusCode, header};
    let response = next.call(req).await?;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(response);
    }
    let mut allowed: Vec<String> = Vec::new();
    for value in response.headers().get_all(header::ALLOW) {
        for method in value.to_str().unwrap_or_default().split(',') {
            let method = method.trim().to_owned();
            if !method.is_empty() && !allowed.contains(&method) {
                allowed.push(method);
            }
        }
    }
    let allowed = allowed.join(", ");
    let (req, _) = response.into_parts();
    let mut problem = error::problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed.as_str(),
        &format!(
            "{} is not allowed on {}; it allows {allowed}",
            req.method(),
            req.path()
        ),
        None,
    );
    if let Ok(value) = header::HeaderValue::from_str(&allowed) {
        problem.headers_mut().insert(header::ALLOW, value);
    }
    Ok(actix_web::dev::ServiceResponse::new(req, problem))
}

/// A query holding U+0000 (`%00`) is `400 malformed_query`: no text column
/// of PostgreSQL stores it, and no parameter of the API means it.
pub async fn refuse_nul_in_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if req.query_string().contains("%00") {
        let (req, _) = req.into_parts();
        let problem = error::problem_response(
            actix_web::http::StatusCode::BAD_REQUEST,
            ErrorCode::MalformedQuery.as_str(),
            "the query must not contain U+0000 (NUL)",
            None,
        );
        return Ok(actix_web::dev::ServiceResponse::new(req, problem));
    }
    next.call(req).await
}
