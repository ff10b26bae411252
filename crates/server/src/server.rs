//! Building and running the HTTP server: the one place that assembles the
//! app, used by `coffer serve` and by the end-to-end tests.

use std::net::TcpListener;

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
    });
    let json_limit = config.server.json_limit_bytes;
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
            .app_data(state.clone())
            // Before the Swagger UI service, which would answer the bare path with 404.
            .route("/docs", web::get().to(http::docs_index))
            .service(docs.clone())
            .configure(|cfg| http::configure(cfg, json_limit))
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
