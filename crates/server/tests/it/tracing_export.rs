//! Issue 21, tracing: `coffer serve` exports its spans over OTLP/HTTP when
//! the standard `OTEL_…` variables ask for it, continues a caller's
//! `traceparent`, names the request id, the tenant and the use case on the
//! request span, and sends `traceparent` with webhook deliveries.
//!
//! The real binary runs as a child process, configured by its environment
//! as an operator would, against an OTLP receiver and a webhook receiver
//! inside the test; it is stopped with SIGTERM, so what it exports is what
//! its shutdown flushes.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue as Any, KeyValue};
use prost::Message as _;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::events::{FAST_DELIVERY, free_port, header, hook_server};
use crate::support::PDF;

/// One exported span, flattened: ids in lowercase hex, attributes as text.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: BTreeMap<String, String>,
}

impl Exported {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

fn text(value: Option<&Any>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf) on loopback: every
/// span it was sent.
struct OtlpReceiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Exported>>>,
    handle: actix_web::dev::ServerHandle,
}

impl OtlpReceiver {
    fn start() -> Self {
        let spans: Arc<Mutex<Vec<Exported>>> = Arc::default();
        let sink = spans.clone();
        let server = HttpServer::new(move || {
            let sink = sink.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let sink = sink.clone();
                    async move {
                        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                            return HttpResponse::BadRequest().finish();
                        };
                        let mut sink = sink.lock().unwrap();
                        for resource in request.resource_spans {
                            let service = resource
                                .resource
                                .as_ref()
                                .and_then(|r| attributes(&r.attributes).remove("service.name"))
                                .unwrap_or_default();
                            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                                sink.push(Exported {
                                    service: service.clone(),
                                    name: span.name.clone(),
                                    trace_id: hex::encode(&span.trace_id),
                                    span_id: hex::encode(&span.span_id),
                                    parent_span_id: hex::encode(&span.parent_span_id),
                                    attributes: attributes(&span.attributes),
                                });
                            }
                        }
                        // An empty ExportTraceServiceResponse.
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            endpoint: format!("http://{addr}"),
            spans,
            handle,
        }
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }
}

/// Each delivery's `traceparent` (empty when there was none) and event id.
type Deliveries = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on `port` keeping what [`Deliveries`] holds.
fn traceparent_receiver(port: u16) -> (actix_web::dev::ServerHandle, Deliveries) {
    let received: Deliveries = Arc::default();
    let sink = received.clone();
    let handle = hook_server(port, move || {
        let sink = sink.clone();
        web::post().to(move |req: HttpRequest| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push((header(&req, "traceparent"), header(&req, "coffer-event-id")));
                HttpResponse::Ok().finish()
            }
        })
    });
    (handle, received)
}

/// `coffer serve` as a child process on embedded defaults (tenant `acme`).
struct Served {
    child: Child,
    base: String,
    env: Vec<(String, String)>,
    http: Client,
}

impl Served {
    async fn start(dir: &std::path::Path, otel: &[(&str, String)]) -> Self {
        let mut env: Vec<(String, String)> = vec![
            ("COFFER__DATA_DIR".into(), dir.display().to_string()),
            (
                "COFFER__SERVER__LISTEN".into(),
                format!("127.0.0.1:{}", free_port()),
            ),
            ("COFFER__SERVER__WORKERS".into(), "2".into()),
        ];
        env.extend(
            FAST_DELIVERY
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into())),
        );
        env.extend(otel.iter().map(|(k, v)| ((*k).into(), v.clone())));
        let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
        // Only the variables the test sets: none inherited from the shell.
        for (name, _) in std::env::vars() {
            if name.starts_with("OTEL_") || name.starts_with("COFFER__") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://{}", env[1].1);
        let served = Self {
            child,
            base,
            env,
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = served.http.get(served.url("/healthz")).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return served;
            }
            assert!(Instant::now() < deadline, "coffer serve did not come up");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `coffer token` for `sub` in `acme` with `role`, as the server's dev issuer signs it.
    fn token(&self, sub: &str, role: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["token", "--tenant", "acme", "--sub", sub, "--role", role])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A request as `token`, continuing the trace `traceparent` names.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        traceparent: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("traceparent", traceparent);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// SIGTERM, as a service manager stops it, and wait for the exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(40);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "coffer serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The caller's trace, and the span the request continues from.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn caller_traceparent() -> String {
    format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")
}

/// What [`upload_and_deliver`] did: the initiation's request id (from the
/// audit log), the signed URL, the deliveries (`traceparent`, event id) and
/// the tokens it used.
struct Journey {
    request_id: String,
    signed_url: String,
    deliveries: Vec<(String, String)>,
    tokens: Vec<String>,
}

/// Sets the tenant's webhook to a receiver, uploads a file (initiate, PUT
/// to the signed URL, complete) under the caller's trace, and waits for the
/// `file.uploaded` delivery.
async fn upload_and_deliver(served: &Served) -> Journey {
    let admin = served.token("root-admin", "admin");
    let alice = served.token("alice", "editor");
    let traceparent = caller_traceparent();
    let port = free_port();
    let (receiver, received) = traceparent_receiver(port);
    served
        .call(
            Method::PUT,
            "/api/v1/tenant/webhook",
            &admin,
            &traceparent,
            Some(json!({ "url": format!("http://127.0.0.1:{port}/hook") })),
        )
        .await;
    let initiated = served
        .call(
            Method::POST,
            "/api/v1/files",
            &alice,
            &traceparent,
            Some(json!({ "filename": "a.pdf", "size": PDF.len() })),
        )
        .await;
    let upload = &initiated["upload"];
    let signed_url = upload["url"].as_str().unwrap().to_owned();
    let mut put = served.http.put(&signed_url);
    for (name, value) in upload["headers"].as_object().unwrap() {
        if !name.eq_ignore_ascii_case("content-length") {
            put = put.header(name, value.as_str().unwrap());
        }
    }
    let put = put.body(PDF.to_vec()).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let id = initiated["file"]["id"].as_str().unwrap();
    served
        .call(
            Method::POST,
            &format!("/api/v1/files/{id}/complete"),
            &alice,
            &traceparent,
            None,
        )
        .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let deliveries = loop {
        let deliveries = received.lock().unwrap().clone();
        if !deliveries.is_empty() {
            break deliveries;
        }
        assert!(Instant::now() < deadline, "no webhook delivery");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    receiver.stop(true).await;

    let audit = served
        .call(Method::GET, "/api/v1/audit", &admin, &traceparent, None)
        .await;
    let request_id = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "file.upload_initiated")
        .and_then(|e| e["request_id"].as_str())
        .unwrap_or_else(|| panic!("the initiation is on record with its request id: {audit}"))
        .to_owned();
    Journey {
        request_id,
        signed_url,
        deliveries,
        tokens: vec![admin, alice],
    }
}

#[actix_web::test]
async fn request_and_delivery_spans_are_exported_with_the_callers_trace() {
    let otlp = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint.clone()),
            // Nothing is exported before the shutdown: it must flush.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000".to_owned()),
        ],
    )
    .await;
    let Journey {
        request_id,
        signed_url,
        deliveries,
        tokens,
    } = upload_and_deliver(&served).await;
    served.stop();
    let spans = otlp.spans();
    otlp.handle.stop(true).await;
    assert!(
        !spans.is_empty(),
        "nothing exported (the shutdown must flush)"
    );
    assert!(spans.iter().all(|s| s.service == "coffer"), "{spans:#?}");

    // The upload's initiation continues the caller's trace and names its
    // request id, route, use case and tenant.
    let initiate = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/files")
        .unwrap_or_else(|| panic!("no span of the initiation: {spans:#?}"));
    assert_eq!(initiate.trace_id, CALLER_TRACE, "{initiate:#?}");
    assert_eq!(initiate.parent_span_id, CALLER_SPAN, "{initiate:#?}");
    assert_eq!(initiate.attr("request_id"), Some(request_id.as_str()));
    assert_eq!(initiate.attr("http.route"), Some("/api/v1/files"));
    assert_eq!(initiate.attr("http.method"), Some("POST"));
    assert_eq!(initiate.attr("http.status_code"), Some("201"));
    assert_eq!(initiate.attr("use_case"), Some("files.initiate"));
    assert_eq!(initiate.attr("tenant"), Some("acme"));
    assert!(initiate.attr("tenant_id").is_some_and(|id| id.len() == 36));
    let complete = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/files/{id}/complete")
        .unwrap_or_else(|| panic!("no span of the completion: {spans:#?}"));
    assert_eq!(complete.trace_id, CALLER_TRACE);
    assert_eq!(complete.attr("use_case"), Some("files.complete"));

    // The delivery sent a valid traceparent naming its exported client
    // span, whose parent names the tenant and the event.
    let (traceparent, event_id) = &deliveries[0];
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert!(
        parts.len() == 4
            && parts[0] == "00"
            && parts[1].len() == 32
            && parts[2].len() == 16
            && parts[1]
                .chars()
                .chain(parts[2].chars())
                .all(|c| c.is_ascii_hexdigit())
            && parts[1] != "0".repeat(32),
        "not a W3C traceparent: {traceparent:?}"
    );
    assert_ne!(parts[1], CALLER_TRACE, "a delivery is a trace of its own");
    let client = spans
        .iter()
        .find(|s| s.trace_id == parts[1] && s.span_id == parts[2])
        .unwrap_or_else(|| panic!("the traceparent's span was not exported: {spans:#?}"));
    assert_eq!(client.name, "POST webhook");
    assert_eq!(client.attr("server.address"), Some("127.0.0.1"));
    assert_eq!(client.attr("http.response.status_code"), Some("200"));
    let delivery = spans
        .iter()
        .find(|s| s.span_id == client.parent_span_id)
        .unwrap_or_else(|| panic!("the client span's parent was not exported: {spans:#?}"));
    assert_eq!(delivery.name, "event delivery");
    assert_eq!(delivery.attr("tenant"), Some("acme"));
    assert_eq!(delivery.attr("event.id"), Some(event_id.as_str()));
    assert_eq!(delivery.attr("event.type"), Some("file.uploaded"));

    // No token, no signed URL or its query, in any exported attribute.
    let query = signed_url.split_once('?').map(|(_, q)| q).unwrap();
    for span in &spans {
        for value in span.attributes.values() {
            assert!(
                !value.contains(query) && tokens.iter().all(|t| !value.contains(t.as_str())),
                "a secret in {span:#?}"
            );
        }
    }
    let storage = spans
        .iter()
        .find(|s| s.name.starts_with("PUT /storage"))
        .unwrap_or_else(|| panic!("no span of the signed PUT: {spans:#?}"));
    assert!(storage.attr("use_case").is_none() && storage.attr("tenant").is_none());
}

#[actix_web::test]
async fn with_the_sdk_disabled_nothing_is_exported_and_no_traceparent_is_sent() {
    let otlp = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "10".to_owned()),
            ("OTEL_SDK_DISABLED", "true".to_owned()),
        ],
    )
    .await;
    let deliveries = upload_and_deliver(&served).await.deliveries;
    served.stop();
    assert_eq!(
        deliveries[0].0, "",
        "a traceparent without export: {deliveries:?}"
    );
    assert!(otlp.spans().is_empty(), "{:#?}", otlp.spans());
    otlp.handle.stop(true).await;
}
