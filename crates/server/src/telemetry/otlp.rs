//! OTLP export of spans, on only when the standard `OTEL_…` variables ask
//! for it, and W3C trace context in and out (`traceparent`).
//!
//! The SDK reads the variables itself (endpoint, headers, timeout, sampler,
//! batch settings, resource attributes); this module only decides whether to
//! build it at all, so that with none of them set nothing is built, no
//! thread is started and no header is read or written.

use actix_web::http::header::HeaderMap;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::{
    EnvResourceDetector, ResourceDetector, TelemetryResourceDetector,
};
use opentelemetry_sdk::runtime::TokioCurrentThread;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The service name when neither `OTEL_SERVICE_NAME` nor a `service.name`
/// in `OTEL_RESOURCE_ATTRIBUTES` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "coffer";

/// Whether the variables (read through `var`) ask for OTLP trace export: an
/// endpoint is set, or `OTEL_TRACES_EXPORTER=otlp` asks for the default one
/// (`http://localhost:4318`); `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none` turn it off whatever else is set.
pub fn wanted(var: impl Fn(&str) -> Option<String>) -> Result<bool, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    match set("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase()) {
        Some(exporter) if exporter == "none" => Ok(false),
        Some(exporter) if exporter == "otlp" => Ok(true),
        Some(other) => Err(format!(
            "OTEL_TRACES_EXPORTER={other}: only `otlp` and `none` are supported"
        )),
        None => Ok(set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
            || set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()),
    }
}

/// The tracer provider: the OTLP/HTTP (protobuf) exporter behind a batch
/// processor on a Tokio runtime of its own thread, so that exporting never
/// runs on a request's worker and shutting down can wait for the last
/// batch from any thread. The trace-context propagator becomes the global one.
///
/// # Errors
/// The variables name an endpoint or protocol the exporter cannot use.
pub fn provider() -> Result<SdkTracerProvider, String> {
    if let Some(protocol) = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .ok()
        .filter(|p| p.trim() != "http/protobuf")
    {
        return Err(format!(
            "OTLP protocol {protocol}: only http/protobuf is supported"
        ));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| format!("OTLP exporter: {e}"))?;
    let processor = BatchSpanProcessor::builder(exporter, TokioCurrentThread).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource(std::env::var("OTEL_SERVICE_NAME").ok()))
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(provider)
}

/// `service.name` from `OTEL_SERVICE_NAME`, else `OTEL_RESOURCE_ATTRIBUTES`,
/// else [`DEFAULT_SERVICE_NAME`]; the other resource attributes as the SDK
/// reads them, and Coffer's version.
fn resource(service_name: Option<String>) -> Resource {
    let detectors: [Box<dyn ResourceDetector>; 2] = [
        Box::new(TelemetryResourceDetector),
        Box::new(EnvResourceDetector::new()),
    ];
    let builder = Resource::builder_empty()
        .with_service_name(DEFAULT_SERVICE_NAME)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_detectors(&detectors);
    match service_name.filter(|name| !name.trim().is_empty()) {
        Some(name) => builder.with_service_name(name),
        None => builder,
    }
    .build()
}

/// The tracer the `tracing` layer creates spans with.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::SdkTracer {
    provider.tracer("coffer")
}

/// Reads a request's headers for the propagator.
struct RequestHeaders<'a>(&'a HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Make `span` continue the caller's trace when the request carries a
/// valid `traceparent` (the global propagator decides; with export off it
/// reads nothing). Returns the span's trace id when it has one, for the logs.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) -> Option<String> {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&RequestHeaders(headers))
    });
    if parent.span().span_context().is_valid() {
        // Only fails when no OpenTelemetry layer is installed: nothing to continue then.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The trace-context headers (`traceparent`, and `tracestate` when there is
/// one) naming `span` as the parent of what a peer does with the request;
/// none when `span` is not exported.
pub fn trace_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let mut headers = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&span.context(), &mut headers);
    });
    headers.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_with(vars: &[(&str, &str)]) -> Result<bool, String> {
        wanted(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn export_is_on_only_when_the_variables_ask_for_it() {
        assert_eq!(wanted_with(&[]), Ok(false));
        assert_eq!(wanted_with(&[("OTEL_SERVICE_NAME", "x")]), Ok(false));
        assert_eq!(
            wanted_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            Ok(false)
        );
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(wanted_with(&[endpoint]), Ok(true));
        assert_eq!(
            wanted_with(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/v1/traces")]),
            Ok(true)
        );
        assert_eq!(wanted_with(&[("OTEL_TRACES_EXPORTER", "otlp")]), Ok(true));
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]),
            Ok(false)
        );
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_SDK_DISABLED", "false")]),
            Ok(true)
        );
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]),
            Ok(false)
        );
        assert!(wanted_with(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]).is_err());
    }

    #[test]
    fn the_service_name_defaults_to_coffer() {
        let name = |resource: &Resource| {
            resource
                .get(&opentelemetry::Key::new("service.name"))
                .map(|v| v.to_string())
        };
        assert_eq!(name(&resource(None)).as_deref(), Some("coffer"));
        assert_eq!(
            name(&resource(Some("files-eu".to_owned()))).as_deref(),
            Some("files-eu")
        );
    }
}
