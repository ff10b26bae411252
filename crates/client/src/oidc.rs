//! The OpenID Connect issuer (Keycloak in production): discovery, the
//! device authorization grant (RFC 8628) for people at a terminal, refresh
//! tokens, and the client credentials grant for service accounts.

use std::fmt;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, DeviceAuthorizationUrl, IssuerUrl,
    OAuth2TokenResponse as _, ProviderMetadata, RefreshToken, Scope,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::token::Tokens;

/// The one field of discovery the core metadata lacks.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct DeviceEndpoint {
    #[serde(default)]
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}

impl AdditionalProviderMetadata for DeviceEndpoint {}

type Metadata = ProviderMetadata<
    DeviceEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A discovered issuer and the OAuth client Coffer's tools sign in as.
pub struct Issuer {
    metadata: Metadata,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    http: reqwest::Client,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.metadata.issuer().as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

/// What to show the person signing in: where to go and the code to enter.
#[derive(Debug)]
pub struct DeviceAuthorization {
    response: CoreDeviceAuthorizationResponse,
}

impl DeviceAuthorization {
    /// The page to open.
    pub fn verification_uri(&self) -> &str {
        self.response.verification_uri().as_str()
    }

    /// The page with the code filled in, when the issuer offers one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.response
            .verification_uri_complete()
            .map(|uri| uri.secret().as_str())
    }

    /// The code to enter on that page.
    pub fn user_code(&self) -> &str {
        self.response.user_code().secret()
    }

    /// How long the code stays valid.
    pub fn expires_in(&self) -> Duration {
        self.response.expires_in()
    }
}

impl Issuer {
    /// Reads the issuer's discovery document
    /// (`{issuer}/.well-known/openid-configuration`). `client_secret` only
    /// for confidential clients (service accounts).
    ///
    /// # Errors
    /// [`Error::Auth`] when discovery fails.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            // openidconnect's advice: an issuer's redirects are not followed (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Auth(format!("HTTP client: {e}")))?;
        let url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| Error::Auth(format!("issuer URL {issuer:?}: {e}")))?;
        let metadata = Metadata::discover_async(url, &http)
            .await
            .map_err(|e| Error::Auth(format!("discovery of {issuer}: {}", chain(&e))))?;
        Ok(Self {
            metadata,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: client_secret.map(|s| ClientSecret::new(s.to_owned())),
            http,
        })
    }

    /// The issuer's identifier.
    pub fn url(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    /// The OAuth client signing in.
    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    fn client(
        &self,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
    }

    /// Starts the device authorization grant: show the result to the
    /// person, then [`Issuer::wait_for_device`].
    ///
    /// # Errors
    /// [`Error::Auth`] when the issuer offers no device grant or refuses.
    pub async fn device_authorization(&self, scopes: &[&str]) -> Result<DeviceAuthorization> {
        let endpoint = self
            .metadata
            .additional_metadata()
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| {
                Error::Auth(format!(
                    "{} offers no device authorization endpoint",
                    self.url()
                ))
            })?;
        let response = self
            .client()
            .set_device_authorization_url(endpoint)
            .exchange_device_code()
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&self.http)
            .await
            .map_err(|e| Error::Auth(format!("device authorization: {}", chain(&e))))?;
        Ok(DeviceAuthorization { response })
    }

    /// Polls until the person approved (or refused, or the code expired).
    ///
    /// # Errors
    /// [`Error::Auth`] when the grant is refused or expires.
    pub async fn wait_for_device(&self, authorization: &DeviceAuthorization) -> Result<Tokens> {
        let client = self.client();
        let response = client
            .exchange_device_access_token(&authorization.response)
            .map_err(|e| Error::Auth(format!("device grant: {e}")))?
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(|e| Error::Auth(format!("device grant: {}", chain(&e))))?;
        // Issued when the last poll was answered, not when polling began.
        Ok(tokens(&response, OffsetDateTime::now_utc()))
    }

    /// Renews tokens with a refresh token.
    ///
    /// # Errors
    /// [`Error::Auth`] when the issuer refuses it (expired, revoked).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let issued_at = OffsetDateTime::now_utc();
        let refresh_token = RefreshToken::new(refresh_token.to_owned());
        let client = self.client();
        let response = client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| Error::Auth(format!("refresh: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| Error::Auth(format!("refresh: {}", chain(&e))))?;
        Ok(tokens(&response, issued_at))
    }

    /// A token for the client itself (its service account).
    ///
    /// # Errors
    /// [`Error::Auth`] when the issuer refuses the client's credentials.
    pub async fn client_credentials(&self) -> Result<Tokens> {
        let issued_at = OffsetDateTime::now_utc();
        let client = self.client();
        let response = client
            .exchange_client_credentials()
            .map_err(|e| Error::Auth(format!("client credentials: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| Error::Auth(format!("client credentials: {}", chain(&e))))?;
        Ok(tokens(&response, issued_at))
    }
}

fn tokens(response: &CoreTokenResponse, issued_at: OffsetDateTime) -> Tokens {
    Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        issued_at,
        expires_at: response
            .expires_in()
            .and_then(|d| time::Duration::try_from(d).ok())
            .map(|d| issued_at + d),
    }
}

/// An error with its causes, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
