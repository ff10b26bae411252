//! The web app's sign-in: the OpenID Connect authorization code flow with
//! PKCE (S256), run by Coffer's server for the browser (docs/web-app.md).
//! The browser only ever holds an HttpOnly session cookie; the code, the
//! PKCE verifier and the tokens are exchanged here, server to issuer.
//!
//! Keycloak specifics (the `coffer-web` client, its redirect URI, the
//! end-session endpoint with `client_id` instead of an ID token hint) stay
//! in this module and docs/identity.md.

use std::fmt;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndSessionUrl, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout,
    RedirectUrl, RefreshToken, Scope, TokenResponse as _, reqwest,
};

use crate::error_chain;

type Metadata = ProviderMetadataWithLogout;

/// Why a web sign-in step failed.
#[derive(Debug, thiserror::Error)]
pub enum WebSignInError {
    /// The issuer could not be reached or described itself wrongly.
    #[error("OIDC discovery of `{issuer}` failed: {reason}")]
    Discovery { issuer: String, reason: String },
    /// The issuer refused the code or the refresh token (expired, used,
    /// revoked) — the person signs in again.
    #[error("the issuer refused: {0}")]
    Refused(String),
    /// The issuer's answer was not what the request asked for (no ID
    /// token, a nonce of another sign-in, a bad signature).
    #[error("the issuer's answer is not valid: {0}")]
    Invalid(String),
    #[error("invalid web sign-in configuration: {0}")]
    Config(String),
}

/// What one sign-in must remember until the browser comes back: kept by
/// the caller (in an HttpOnly cookie bound to the callback path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInStart {
    /// Where to send the browser.
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The tokens of a finished sign-in or a refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct WebTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<Duration>,
}

impl fmt::Debug for WebTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A discovered issuer and the web app's OAuth client on it.
pub struct WebClient {
    metadata: Metadata,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    http: reqwest::Client,
}

impl fmt::Debug for WebClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebClient")
            .field("issuer", &self.metadata.issuer().as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

impl WebClient {
    /// Reads the issuer's discovery document and its keys (to check ID
    /// tokens). `client_secret` only when the client is confidential.
    ///
    /// # Errors
    /// [`WebSignInError::Discovery`].
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<Self, WebSignInError> {
        let discovery = |reason: String| WebSignInError::Discovery {
            issuer: issuer.to_owned(),
            reason,
        };
        let http = reqwest::Client::builder()
            // openidconnect's advice: an issuer's redirects are not followed (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| discovery(error_chain(&e)))?;
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| discovery(e.to_string()))?;
        let metadata = Metadata::discover_async(url, &http)
            .await
            .map_err(|e| discovery(error_chain(&e)))?;
        Ok(Self {
            metadata,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: client_secret.map(|s| ClientSecret::new(s.to_owned())),
            http,
        })
    }

    fn client(
        &self,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        WebSignInError,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| WebSignInError::Config(format!("redirect URI {redirect_uri:?}: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            self.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(redirect))
    }

    /// A new sign-in: the issuer's authorization URL with a fresh state,
    /// nonce and S256 PKCE challenge, and what to remember of them.
    ///
    /// # Errors
    /// [`WebSignInError::Config`] for a redirect URI that is not a URL.
    pub fn begin(&self, redirect_uri: &str) -> Result<SignInStart, WebSignInError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client(redirect_uri)?
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("openid".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(SignInStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Trades the code the browser brought back for tokens, proving the
    /// PKCE verifier, and checks the ID token (signature, issuer, audience,
    /// expiry and this sign-in's nonce).
    ///
    /// # Errors
    /// [`WebSignInError::Refused`] when the issuer refuses the code;
    /// [`WebSignInError::Invalid`] for an answer without a valid ID token.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<WebTokens, WebSignInError> {
        let client = self.client(redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| WebSignInError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| WebSignInError::Refused(error_chain(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| WebSignInError::Invalid("no ID token".to_owned()))?;
        id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| WebSignInError::Invalid(error_chain(&e)))?;
        Ok(tokens(&response))
    }

    /// New tokens for a refresh token.
    ///
    /// # Errors
    /// [`WebSignInError::Refused`] when it expired or was revoked.
    pub async fn refresh(
        &self,
        redirect_uri: &str,
        refresh_token: &str,
    ) -> Result<WebTokens, WebSignInError> {
        let response = self
            .client(redirect_uri)?
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .map_err(|e| WebSignInError::Config(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| WebSignInError::Refused(error_chain(&e)))?;
        Ok(tokens(&response))
    }

    /// The issuer's end-session URL that signs the person out there too and
    /// comes back to `after` (Keycloak accepts `client_id` in place of an ID
    /// token hint); `None` when the issuer has no end-session endpoint.
    pub fn sign_out_url(&self, after: &str) -> Option<String> {
        let endpoint: &EndSessionUrl = self
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        url.query_pairs_mut()
            .append_pair("client_id", self.client_id.as_str())
            .append_pair("post_logout_redirect_uri", after);
        Some(url.to_string())
    }
}

fn tokens(response: &CoreTokenResponse) -> WebTokens {
    WebTokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_in: response.expires_in(),
    }
}
