//! Building and running the HTTP server: the one place that assembles the
//! app, used by `coffer serve` and by the end-to-end tests.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{App, HttpServer, web};
use actix_web_prom::PrometheusMetricsBuilder;
use tracing_actix_web::TracingLogger;

use crate::config::{Config, IdentityBackend};
use crate::http::{self, AppState, Metrics};
use crate::telemetry::RequestSpan;
use crate::wiring::Wiring;

/// A server bound to a socket, running until stopped.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    pub server: actix_web::dev::Server,
    /// The registry's Coffer metrics, for the background jobs to publish to.
    pub metrics: Metrics,
    /// Where `/metrics` is served on a listener of its own (`[metrics] listen`).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("metrics: {0}")]
    Metrics(String),
}

/// The `endpoint` label of every request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Rewrite a method outside RFC 9110's set to `OTHER` before metrics and the
/// request log see it: actix-web-prom labels requests with the method as
/// sent and has no option to bound it. No route accepts `OTHER`, so the
/// request is refused as it would have been.
async fn fold_unknown_method(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    if !KNOWN.contains(req.method())
        && let Ok(other) = Method::from_bytes(b"OTHER")
    {
        req.head_mut().method = other;
    }
    next.call(req).await
}

/// On the metrics listener, answer `GET /metrics` with the registry's text
/// and everything else with `404`, never reaching the app (so neither the
/// API is served there, nor are scrapes counted or logged as requests).
/// Requests on the public listener pass through.
async fn metrics_listener(
    metrics_addr: Option<std::net::SocketAddr>,
    registry: prometheus::Registry,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    if metrics_addr.is_none() || Some(req.request().app_config().local_addr()) != metrics_addr {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = if req.path() == "/metrics" && req.method() == Method::GET {
        use prometheus::Encoder as _;
        let encoder = prometheus::TextEncoder::new();
        let mut text = Vec::new();
        match encoder.encode(&registry.gather(), &mut text) {
            Ok(()) => actix_web::HttpResponse::Ok()
                .content_type(encoder.format_type())
                .body(text),
            Err(err) => actix_web::HttpResponse::InternalServerError().body(err.to_string()),
        }
    } else {
        actix_web::HttpResponse::NotFound().body("this listener serves GET /metrics only")
    };
    Ok(req.into_response(response).map_into_right_body())
}

/// Bind `listener` and build the server (not yet polled: await
/// `Running::server`, or spawn it).
///
/// # Errors
/// A listener that cannot be used, metrics that cannot be registered.
pub fn start(
    config: &Config,
    wiring: &Wiring,
    listener: TcpListener,
) -> Result<Running, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind("listener".into(), e))?;
    let mut builder = PrometheusMetricsBuilder::new("coffer")
        // A path no route matches would otherwise be a label value as sent.
        .mask_unmatched_patterns(UNMATCHED);
    if config.metrics.public {
        builder = builder.endpoint("/metrics");
    }
    let prometheus = builder
        .build()
        .map_err(|e| StartError::Metrics(e.to_string()))?;
    let registry = prometheus.registry.clone();
    let metrics =
        register_metrics(&registry, wiring).map_err(|e| StartError::Metrics(e.to_string()))?;
    let metrics_listener_socket = config
        .metrics
        .listen
        .map(|addr| TcpListener::bind(addr).map_err(|e| StartError::Bind(addr.to_string(), e)))
        .transpose()?;
    let metrics_addr = metrics_listener_socket
        .as_ref()
        .map(|l| {
            l.local_addr()
                .map_err(|e| StartError::Bind("metrics listener".into(), e))
        })
        .transpose()?;
    let state = web::Data::new(AppState {
        coffer: wiring.coffer.clone(),
        fs: wiring.fs.clone(),
        metrics: metrics.clone(),
        billing: config
            .billing
            .webhook_secret
            .clone()
            .map(|secret| http::BillingEndpoint {
                secret,
                tolerance_secs: i64::try_from(config.billing.tolerance_secs).unwrap_or(i64::MAX),
            }),
        rate_limits: std::sync::Arc::new(http::rate_limit::RateLimits::new(
            config.plans.clone(),
            config.rate_limits.client_requests_per_minute,
        )),
        public_url: config
            .server
            .public_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .map(|url| url.trim_end_matches('/').to_owned()),
        store_origins: config.browser_store_origins(),
        sign_in: web_sign_in(config, wiring),
    });
    let routes = http::RouteOptions {
        json_limit: config.server.json_limit_bytes,
        api_origins: config.server.cors_origins.clone(),
        storage_origins: config.storage.cors_origins.clone(),
        web_app: config.web.enabled,
    };
    // The UI only points at the document, which `http::openapi` serves
    // from one serialised copy: an embedded document would be cloned into
    // every worker's app (megabytes each, measured in docs/benchmarks.md).
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
        .config(utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"]));
    let request_timeout = config.request_timeout();
    let mut server = HttpServer::new(move || {
        let registry = registry.clone();
        App::new()
            .wrap(actix_web::middleware::from_fn(
                http::method_not_allowed_as_problem,
            ))
            // Innermost but for the 405 body, so that metrics and the request log see its 503.
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                http::deadline(request_timeout, req, next)
            }))
            .wrap(prometheus.clone())
            .wrap(TracingLogger::<RequestSpan>::new())
            // Outermost, so that metrics and the request log see the folded method.
            .wrap(actix_web::middleware::from_fn(fold_unknown_method))
            // Before everything: the metrics listener reaches nothing else.
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                metrics_listener(metrics_addr, registry.clone(), req, next)
            }))
            .app_data(state.clone())
            // Before the Swagger UI service, which would answer the bare path with 404.
            .route("/docs", web::get().to(http::docs_index))
            .service(docs.clone())
            .configure(|cfg| http::configure(cfg, &routes))
    })
    // A client that takes longer than a whole request may to send its
    // request head is cut off too (0 leaves it unbounded, as actix does).
    .client_request_timeout(request_timeout.unwrap_or(std::time::Duration::ZERO))
    .shutdown_timeout(30);
    if let Some(workers) = config.server.workers {
        server = server.workers(workers);
    }
    let mut server = server
        .listen(listener)
        .map_err(|e| StartError::Bind(addr.to_string(), e))?;
    if let (Some(socket), Some(metrics_addr)) = (metrics_listener_socket, metrics_addr) {
        server = server
            .listen(socket)
            .map_err(|e| StartError::Bind(metrics_addr.to_string(), e))?;
    }
    let server = server.run();
    Ok(Running {
        addr,
        handle: server.handle(),
        server,
        metrics,
        metrics_addr,
    })
}

/// Coffer's own metrics, the store calls' histogram and, on PostgreSQL, the
/// shared pool's gauges.
fn register_metrics(
    registry: &prometheus::Registry,
    wiring: &Wiring,
) -> Result<Metrics, prometheus::Error> {
    let metrics = Metrics::register(registry)?;
    registry.register(Box::new(wiring.store_calls.clone()))?;
    if let Some(pools) = &wiring.pool {
        registry.register(Box::new(http::PoolGauges::new(pools.clone())?))?;
    }
    Ok(metrics)
}

/// How the web app signs people in: the dev issuer's form in embedded
/// mode, the issuer's authorization code flow with Keycloak.
fn web_sign_in(config: &Config, wiring: &Wiring) -> Option<std::sync::Arc<http::WebSignIn>> {
    if !config.web.enabled {
        return None;
    }
    let sign_in = match config.identity.backend {
        IdentityBackend::Dev => http::WebSignIn::Dev {
            issuer: wiring.dev_issuer.clone()?,
            lifetime: time::Duration::seconds(
                i64::try_from(config.web.dev_session_secs).unwrap_or(i64::MAX),
            ),
        },
        IdentityBackend::Keycloak => http::WebSignIn::Oidc {
            issuer: config.identity.keycloak.get("issuer")?.as_str()?.to_owned(),
            client_id: config.web.client_id.clone(),
            client_secret: config.web.client_secret.clone(),
            client: Box::default(),
        },
    };
    Some(std::sync::Arc::new(sign_in))
}
