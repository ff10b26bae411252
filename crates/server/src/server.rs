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

use crate::config::Config;
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
    let prometheus = PrometheusMetricsBuilder::new("coffer")
        .endpoint("/metrics")
        // A path no route matches would otherwise be a label value as sent.
        .mask_unmatched_patterns(UNMATCHED)
        .build()
        .map_err(|e| StartError::Metrics(e.to_string()))?;
    let metrics =
        Metrics::register(&prometheus.registry).map_err(|e| StartError::Metrics(e.to_string()))?;
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
    });
    let routes = http::RouteOptions {
        json_limit: config.server.json_limit_bytes,
        api_origins: config.server.cors_origins.clone(),
        storage_origins: config.storage.cors_origins.clone(),
    };
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url(
        "/api/v1/openapi.json",
        <http::ApiDoc as utoipa::OpenApi>::openapi(),
    );
    let request_timeout = config.request_timeout();
    let mut server = HttpServer::new(move || {
        App::new()
            // Innermost, so that metrics and the request log see its 503.
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                http::deadline(request_timeout, req, next)
            }))
            .wrap(prometheus.clone())
            .wrap(TracingLogger::<RequestSpan>::new())
            // Outermost, so that metrics and the request log see the folded method.
            .wrap(actix_web::middleware::from_fn(fold_unknown_method))
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
    let server = server
        .listen(listener)
        .map_err(|e| StartError::Bind(addr.to_string(), e))?
        .run();
    Ok(Running {
        addr,
        handle: server.handle(),
        server,
        metrics,
    })
}
