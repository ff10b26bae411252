//! Logging and tracing: `tracing` with `RUST_LOG`-style filters, text or
//! JSON lines, and — when the standard `OTEL_…` variables ask for it — the
//! same spans exported over OTLP ([`otlp`]).

pub mod otlp;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// What [`init`] started that must be stopped before the process ends: the
/// OTLP exporter, whose last batch [`Telemetry::shutdown`] sends.
#[derive(Debug)]
#[must_use = "shut it down, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Export the spans still buffered (bounded by `OTEL_BSP_EXPORT_TIMEOUT`)
    /// and stop the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "OTLP exporter did not shut down cleanly");
        }
    }
}

/// Install the global subscriber (once; later calls install nothing), with
/// OTLP export when the `OTEL_…` variables ask for it.
///
/// # Errors
/// The `OTEL_…` variables ask for an exporter, protocol or endpoint Coffer
/// cannot use.
pub fn init(json: bool) -> Result<Telemetry, String> {
    let provider = if otlp::wanted(|name| std::env::var(name).ok())? {
        Some(otlp::provider()?)
    } else {
        None
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let text = (!json).then(|| tracing_subscriber::fmt::layer().with_target(false));
    let json = json.then(|| tracing_subscriber::fmt::layer().json().with_target(false));
    let export = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(otlp::tracer(p)));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(export)
        .try_init()
        .is_ok();
    let provider = match provider {
        Some(provider) if !installed => {
            // Another subscriber came first: nothing would reach the exporter.
            let _ = provider.shutdown();
            None
        }
        other => other,
    };
    if provider.is_some() {
        tracing::info!("exporting traces over OTLP");
    }
    Ok(Telemetry { provider })
}

/// The request span: `tracing-actix-web`'s fields, except that the target is
/// the path alone. A query can carry a signature (storage URLs, S3 presigned
/// URLs) that anyone reading the log could replay while it lives; no header is
/// recorded, so `Authorization` never is either.
///
/// It also names the use case (the API operation, see
/// [`crate::http::use_case`]), and the tenant once the caller is
/// authenticated (`crate::http::auth`). With OTLP export on, it continues the
/// caller's trace when the request carries a `traceparent`, and `trace_id`
/// ties the log lines to the exported trace.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let route = route.as_deref().unwrap_or("default");
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let connection = request.connection_info();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.status_code = Empty,
            otel.name = %format_args!("{} {route}", request.method()),
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            use_case = crate::http::use_case(request.method().as_str(), request.path()),
            tenant = Empty,
            tenant_id = Empty,
            trace_id = Empty,
            exception.message = Empty,
            exception.details = Empty,
        );
        if let Some(trace_id) = otlp::continue_trace(&span, request.headers()) {
            span.record("trace_id", trace_id);
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
