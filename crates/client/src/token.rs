//! Where a client's bearer tokens come from: a fixed token, OAuth client
//! credentials (a Keycloak service account), or tokens from the device
//! authorization grant kept fresh with their refresh token. Tokens are
//! refreshed *before* they expire, so a long transfer never meets a `401`
//! half-way.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tokio::sync::{Mutex, OnceCell};

use crate::error::{Error, Result};
use crate::oidc::Issuer;

/// Gives the bearer token for the next request.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token valid for at least the next few seconds.
    async fn token(&self) -> Result<String>;
}

/// A token that never changes (`COFFER_TOKEN`, `coffer token`, tests).
pub struct StaticToken(String);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(…)")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<String> {
        Ok(self.0.clone())
    }
}

/// Tokens from an issuer: the access token, when it expires, and the
/// refresh token that renews it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// `None` when the issuer did not say (the token is then used until
    /// the server refuses it).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("refreshable", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Renew when less than this is left, or less than half the lifetime for
/// short-lived tokens.
const REFRESH_MARGIN: Duration = Duration::seconds(30);

impl Tokens {
    /// Whether the access token should be renewed before use at `now`.
    pub fn needs_refresh(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|expires_at| {
            let margin = REFRESH_MARGIN.min((expires_at - self.issued_at) / 2);
            expires_at - now <= margin
        })
    }
}

type OnRefresh = Box<dyn Fn(&Tokens) + Send + Sync>;

/// Tokens of a person (from [`Issuer::device_authorization`]) renewed with
/// their refresh token; `on_refresh` sees every new pair (the CLI stores it).
pub struct RefreshingToken {
    issuer: OnceCell<Arc<Issuer>>,
    issuer_url: String,
    client_id: String,
    tokens: Mutex<Tokens>,
    on_refresh: Option<OnRefresh>,
}

impl RefreshingToken {
    pub fn new(issuer: Arc<Issuer>, tokens: Tokens) -> Self {
        Self {
            issuer_url: issuer.url().to_owned(),
            client_id: issuer.client_id().to_owned(),
            issuer: OnceCell::new_with(Some(issuer)),
            tokens: Mutex::new(tokens),
            on_refresh: None,
        }
    }

    /// Stored tokens of the public client `client_id`; the issuer is
    /// discovered only when they need renewing (most commands never do).
    pub fn lazy(
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        tokens: Tokens,
    ) -> Self {
        Self {
            issuer: OnceCell::new(),
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            tokens: Mutex::new(tokens),
            on_refresh: None,
        }
    }

    /// Calls `f` with each renewed pair of tokens.
    #[must_use]
    pub fn on_refresh(mut self, f: impl Fn(&Tokens) + Send + Sync + 'static) -> Self {
        self.on_refresh = Some(Box::new(f));
        self
    }
}

impl fmt::Debug for RefreshingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshingToken")
            .field("issuer", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for RefreshingToken {
    async fn token(&self) -> Result<String> {
        // Held across the refresh: parallel parts wait for one renewal
        // instead of each spending the (possibly rotating) refresh token.
        let mut tokens = self.tokens.lock().await;
        if tokens.needs_refresh(OffsetDateTime::now_utc()) {
            let refresh_token = tokens.refresh_token.clone().ok_or_else(|| {
                Error::Auth("the session has expired and cannot be renewed; sign in again".into())
            })?;
            let issuer = self
                .issuer
                .get_or_try_init(|| async {
                    Issuer::discover(&self.issuer_url, &self.client_id, None)
                        .await
                        .map(Arc::new)
                })
                .await?;
            let mut renewed = issuer.refresh(&refresh_token).await?;
            // An issuer that does not rotate keeps the old refresh token valid.
            renewed.refresh_token.get_or_insert(refresh_token);
            if let Some(on_refresh) = &self.on_refresh {
                on_refresh(&renewed);
            }
            *tokens = renewed;
        }
        Ok(tokens.access_token.clone())
    }
}

/// A service account: the OAuth client credentials grant, a new token
/// fetched before the current one expires.
pub struct ClientCredentials {
    issuer: Arc<Issuer>,
    tokens: Mutex<Option<Tokens>>,
}

impl ClientCredentials {
    /// `issuer` must have been discovered with the client's secret.
    pub fn new(issuer: Arc<Issuer>) -> Self {
        Self {
            issuer,
            tokens: Mutex::new(None),
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<String> {
        let mut tokens = self.tokens.lock().await;
        let now = OffsetDateTime::now_utc();
        match tokens.as_ref() {
            Some(current) if !current.needs_refresh(now) => Ok(current.access_token.clone()),
            _ => {
                let fresh = self.issuer.client_credentials().await?;
                let token = fresh.access_token.clone();
                *tokens = Some(fresh);
                Ok(token)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn tokens(lifetime: Duration) -> Tokens {
        let issued_at = datetime!(2026-12-03 10:00 UTC);
        Tokens {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            issued_at,
            expires_at: Some(issued_at + lifetime),
        }
    }

    #[test]
    fn long_lived_tokens_are_renewed_thirty_seconds_early() {
        let t = tokens(Duration::minutes(10));
        let expires_at = t.expires_at.unwrap_or_else(|| panic!("set above"));
        assert!(!t.needs_refresh(expires_at - Duration::seconds(31)));
        assert!(t.needs_refresh(expires_at - Duration::seconds(30)));
    }

    #[test]
    fn short_lived_tokens_are_renewed_at_half_their_lifetime() {
        let t = tokens(Duration::seconds(4));
        assert!(!t.needs_refresh(t.issued_at + Duration::seconds(1)));
        assert!(t.needs_refresh(t.issued_at + Duration::seconds(2)));
    }

    #[test]
    fn tokens_without_an_expiry_are_used_as_they_are() {
        let mut t = tokens(Duration::seconds(4));
        t.expires_at = None;
        assert!(!t.needs_refresh(t.issued_at + Duration::days(365)));
    }

    #[test]
    fn debug_output_holds_no_token() {
        let shown = format!("{:?}", tokens(Duration::seconds(4)));
        assert!(
            !shown.contains("\"a\"") && !shown.contains("\"r\""),
            "{shown}"
        );
    }
}
