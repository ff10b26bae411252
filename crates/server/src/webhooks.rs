//! The `WebhookSender` port over HTTP (reqwest): one POST per delivery,
//! bounded by a timeout, success only for a `2xx`. Redirects are not
//! followed, so a receiver cannot bounce a signed delivery elsewhere.
//!
//! Every address connected to passes the [`OutboundPolicy`]: names are
//! resolved by [`GuardedResolver`], which keeps only the addresses the
//! policy allows, so a name that resolved to a public address when the
//! webhook was registered and to 127.0.0.1 now (DNS rebinding) reaches
//! nothing; an IP-literal host, which reqwest connects to without resolving,
//! is checked before the request is made. No proxy is used: through one, the
//! address checked would be the proxy's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::outbound::OutboundPolicy;
use coffer_ports::{WebhookRequest, WebhookSender};
use futures::future::BoxFuture;
use tracing::Instrument as _;

/// Resolves a name to socket addresses (port 0); the system resolver in
/// production, a fixed table in tests.
pub type Lookup =
    Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// The system resolver (`getaddrinfo`, through tokio).
pub fn system_lookup() -> Lookup {
    Arc::new(|name: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((name, 0)).await?.collect()) })
    })
}

/// A reqwest resolver that hands out only the addresses `policy` allows for
/// the name; none left is an error, and the connection is never made.
struct GuardedResolver {
    lookup: Lookup,
    policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let policy = self.policy.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = lookup(name.clone()).await?;
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_address(Some(&name), addr.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusal = Some(refused);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refused)) => Err(refused.into()),
                (true, None) => Err(format!("{name} resolves to no address").into()),
                (false, _) => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

pub struct HttpWebhookSender {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    lookup: Lookup,
}

impl std::fmt::Debug for HttpWebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWebhookSender")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpWebhookSender {
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(timeout: Duration, policy: OutboundPolicy) -> Result<Self, reqwest::Error> {
        Self::with_lookup(timeout, policy, system_lookup())
    }

    /// With names resolved by `lookup` (tests map names to local listeners).
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn with_lookup(
        timeout: Duration,
        policy: OutboundPolicy,
        lookup: Lookup,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                lookup: lookup.clone(),
                policy: policy.clone(),
            }))
            .user_agent(concat!("coffer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            policy,
            lookup,
        })
    }

    /// What the URL alone decides: an IP-literal host (reqwest connects to it
    /// without the resolver) or an internal name.
    fn check_url(&self, url: &str) -> Result<(), String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
        let host = url.host().ok_or("the URL has no host")?;
        self.policy.check_host(&host).map_err(|e| e.to_string())
    }
}

fn describe(e: &reqwest::Error) -> String {
    // reqwest's Display omits the cause (refused, reset, timeout).
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The client span of one delivery: the receiver's host (never the URL,
/// whose query may hold the tenant's own credentials), its answer, and the
/// outcome (`OK` or `ERROR`). Its `traceparent` goes with the request when
/// traces are exported.
fn delivery_span(url: &str) -> tracing::Span {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    tracing::info_span!(
        "webhook POST",
        otel.name = "POST webhook",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = "POST",
        server.address = %host,
        http.response.status_code = tracing::field::Empty,
    )
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: WebhookRequest) -> Result<(), String> {
        let span = delivery_span(&request.url);
        let sent = async {
            self.check_url(&request.url)?;
            let mut post = self.client.post(&request.url).body(request.body);
            let trace = crate::telemetry::otlp::trace_headers(&tracing::Span::current());
            for (name, value) in request.headers.iter().chain(&trace) {
                post = post.header(name, value);
            }
            let response = post.send().await.map_err(|e| describe(&e))?;
            let status = response.status();
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("the receiver answered {status}"))
            }
        }
        .instrument(span.clone())
        .await;
        // Not the error's text: reqwest's names the URL.
        span.record(
            "otel.status_code",
            if sent.is_ok() { "OK" } else { "ERROR" },
        );
        sent
    }

    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let addresses = (self.lookup)(host.to_owned())
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        Ok(addresses.iter().map(SocketAddr::ip).collect())
    }
}
