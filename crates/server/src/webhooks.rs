//! The `WebhookSender` port over HTTP (reqwest): one POST per delivery,
//! bounded by a timeout, success only for a `2xx`. Redirects are not
//! followed, so a receiver cannot bounce a signed delivery elsewhere.

use std::time::Duration;

use async_trait::async_trait;
use coffer_ports::{WebhookRequest, WebhookSender};

#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
}

impl HttpWebhookSender {
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coffer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, request: WebhookRequest) -> Result<(), String> {
        let mut post = self.client.post(&request.url).body(request.body);
        for (name, value) in &request.headers {
            post = post.header(name, value);
        }
        let response = post.send().await.map_err(|e| {
            // reqwest's Display omits the cause (refused, reset, timeout).
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}
