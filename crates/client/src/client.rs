//! The client itself: how requests reach `/api/v1`, how problem documents
//! become typed errors, which requests are retried.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt as _, TryStreamExt as _, stream};
use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Code, Error, Result};
use crate::token::TokenSource;

/// Parts sent at once by default.
pub const DEFAULT_PARALLELISM: usize = 4;
/// Files from this size on go up in parts (S3's minimum part is 5 MiB).
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;

/// A client of one Coffer server. Cheap to clone; clones share connections
/// and tokens.
///
/// ```no_run
/// # async fn run() -> coffer_client::Result<()> {
/// use std::sync::Arc;
/// use coffer_client::{Client, StaticToken};
///
/// let client = Client::builder("https://files.example.com")
///     .token_source(Arc::new(StaticToken::new("eyJ…")))
///     .build()?;
/// let tenant = client.tenant().await?;
/// println!("{} uses {} bytes", tenant.tenant.slug, tenant.usage.used_bytes);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    api: Url,
    tokens: Arc<dyn TokenSource>,
    pub(crate) retry: Retry,
    pub(crate) parallelism: usize,
    pub(crate) multipart_threshold: u64,
}

/// How idempotent requests are retried on `502`/`503`/`504`/`429` and
/// connection errors: exponential backoff from `initial`, at most
/// `attempts` tries, a server's `Retry-After` honoured up to `max_delay`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub initial: Duration,
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl Retry {
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.initial.saturating_mul(2u32.saturating_pow(attempt));
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    server: String,
    tokens: Option<Arc<dyn TokenSource>>,
    retry: Retry,
    parallelism: usize,
    multipart_threshold: u64,
}

impl ClientBuilder {
    /// Where tokens come from (required).
    #[must_use]
    pub fn token_source(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    #[must_use]
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Parts in flight at once (at least 1).
    #[must_use]
    pub fn parallelism(mut self, parts: usize) -> Self {
        self.parallelism = parts.max(1);
        self
    }

    /// Files of at least this many bytes go up in parts.
    #[must_use]
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// # Errors
    /// [`Error::Protocol`] for a server URL that does not parse or a
    /// missing token source.
    pub fn build(self) -> Result<Client> {
        let mut api = Url::parse(&self.server)
            .map_err(|e| Error::Protocol(format!("server URL {:?}: {e}", self.server)))?;
        let base = api.path().trim_end_matches('/').to_owned();
        api.set_path(&format!("{base}/api/v1/"));
        let tokens = self
            .tokens
            .ok_or_else(|| Error::Protocol("no token source".into()))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("coffer-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Protocol(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api,
                tokens,
                retry: self.retry,
                parallelism: self.parallelism,
                multipart_threshold: self.multipart_threshold,
            }),
        })
    }
}

/// One call of the API.
pub(crate) struct Call {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    idempotent: bool,
    /// A `404` after a retried attempt means an earlier attempt did it
    /// (a delete that answered `503` after marking the file).
    absent_is_done: bool,
}

impl Call {
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path, true)
    }

    pub(crate) fn new(method: Method, path: impl Into<String>, idempotent: bool) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent,
            absent_is_done: false,
        }
    }

    pub(crate) fn absent_is_done(mut self) -> Self {
        self.absent_is_done = true;
        self
    }

    /// Query parameters from a flat struct (`None` fields left out).
    pub(crate) fn query(mut self, params: &impl Serialize) -> Result<Self> {
        let value = serde_json::to_value(params).map_err(|e| Error::Protocol(e.to_string()))?;
        if let serde_json::Value::Object(fields) = value {
            for (name, value) in fields {
                match value {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(s) => self.query.push((name, s)),
                    other => self.query.push((name, other.to_string())),
                }
            }
        }
        Ok(self)
    }

    pub(crate) fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn into_query(self) -> Vec<(String, String)> {
        self.query
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self> {
        self.body = Some(serde_json::to_value(body).map_err(|e| Error::Protocol(e.to_string()))?);
        Ok(self)
    }
}

impl Client {
    /// A builder for the server at `server` (e.g. `https://files.example.com`;
    /// the API is under its `/api/v1`).
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            tokens: None,
            retry: Retry::default(),
            parallelism: DEFAULT_PARALLELISM,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
        }
    }

    /// The same client (connections, tokens) sending `parts` parts at once.
    #[must_use]
    pub fn with_parallelism(&self, parts: usize) -> Self {
        let mut inner = (*self.inner).clone();
        inner.parallelism = parts.max(1);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Sends `call`, retrying if it is idempotent, and reads the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let response = self
            .send(&call)
            .await?
            .ok_or_else(|| Error::Protocol(format!("{} {}: gone", call.method, call.path)))?;
        response
            .json()
            .await
            .map_err(|e| Error::Protocol(format!("{} {}: {e}", call.method, call.path)))
    }

    /// Sends `call` for its status only.
    pub(crate) async fn call_empty(&self, call: Call) -> Result<()> {
        self.send(&call).await.map(drop)
    }

    /// The successful response; `None` when a retried call found its work
    /// done ([`Call::absent_is_done`]).
    async fn send(&self, call: &Call) -> Result<Option<Response>> {
        let mut attempt = 0;
        loop {
            match self.send_once(call).await {
                Err((error, _))
                    if attempt > 0 && call.absent_is_done && error.status() == Some(404) =>
                {
                    return Ok(None);
                }
                Err((error, retry_after))
                    if call.idempotent
                        && error.is_transient()
                        && attempt + 1 < self.inner.retry.attempts =>
                {
                    let delay = self.inner.retry.delay(attempt, retry_after);
                    tracing::debug!(%error, ?delay, "retrying {} {}", call.method, call.path);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
                Ok(response) => return Ok(Some(response)),
            }
        }
    }

    async fn send_once(&self, call: &Call) -> Result<Response, (Error, Option<Duration>)> {
        let url = self
            .inner
            .api
            .join(&call.path)
            .map_err(|e| (Error::Protocol(format!("{}: {e}", call.path)), None))?;
        let token = self.inner.tokens.token().await.map_err(|e| (e, None))?;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url.clone())
            .bearer_auth(token);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| (Error::connect(url.as_str(), e), None))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(&response);
        Err((problem(response).await, retry_after))
    }

    /// Every item of a paged listing, fetching pages as the stream is read.
    pub(crate) fn pages<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &'static str,
        cursor_param: &'static str,
        query: Vec<(String, String)>,
        start: Option<String>,
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        #[derive(serde::Deserialize)]
        struct Page<T> {
            items: Vec<T>,
            next_cursor: Option<String>,
        }
        let client = self.clone();
        stream::try_unfold(Some(start), move |cursor| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let Some(cursor) = cursor else {
                    return Ok::<_, Error>(None);
                };
                let mut call = Call::get(path);
                call.query = query;
                if let Some(cursor) = cursor {
                    call = call.param(cursor_param, cursor);
                }
                let page: Page<T> = client.call(call).await?;
                let next = page.next_cursor.map(Some);
                Ok(Some((stream::iter(page.items.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
        .boxed()
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A non-2xx answer of Coffer as an error: its problem document when it
/// has one, else the status.
pub(crate) async fn problem(response: Response) -> Error {
    #[derive(serde::Deserialize)]
    struct Problem {
        code: String,
        detail: String,
        #[serde(default)]
        field: Option<String>,
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<Problem>(&text) {
        Ok(p) => Error::Api {
            status: status.as_u16(),
            code: Code::parse(&p.code),
            detail: p.detail,
            field: p.field,
        },
        Err(_) => Error::Api {
            status: status.as_u16(),
            code: Code::Other(String::new()),
            detail: status
                .canonical_reason()
                .unwrap_or("unexpected status")
                .to_owned(),
            field: None,
        },
    }
}

/// A store's non-2xx answer as an error (its body is S3's XML, short).
pub(crate) async fn store_error(response: Response, method: &'static str, what: String) -> Error {
    let status = response.status();
    let mut body = response.text().await.unwrap_or_default();
    body.truncate(body.floor_char_boundary(300));
    Error::Store {
        status: status.as_u16(),
        method,
        what,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_a_retry_after_wins_up_to_the_cap() {
        let retry = Retry::default();
        assert_eq!(retry.delay(0, None), Duration::from_millis(200));
        assert_eq!(retry.delay(2, None), Duration::from_millis(800));
        assert_eq!(retry.delay(10, None), Duration::from_secs(10));
        assert_eq!(
            retry.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry.delay(0, Some(Duration::from_secs(600))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn the_api_lives_under_the_servers_path() {
        let client = Client::builder("http://127.0.0.1:8080/coffer/")
            .token_source(Arc::new(crate::StaticToken::new("t")))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            client.inner.api.join("files/x").map(String::from).ok(),
            Some("http://127.0.0.1:8080/coffer/api/v1/files/x".to_owned())
        );
    }
}
