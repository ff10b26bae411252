use std::time::Duration;

use async_trait::async_trait;
use coffer_ports::{IdentityError, IdentityProvider, VerifiedIdentity};
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{IssuerUrl, reqwest};

use crate::jwks::JwksStore;
use crate::verifier::{TokenRules, TokenVerifier};
use crate::{KeycloakConfig, KeycloakError};

/// [`IdentityProvider`] for Keycloak (or any OIDC issuer issuing JWT access
/// tokens): discovery at start, JWKS cached with rate-limited refetches.
#[derive(Debug)]
pub struct KeycloakProvider {
    verifier: TokenVerifier,
    keys: JwksStore,
}

impl KeycloakProvider {
    /// Discovers the issuer (`{issuer}/.well-known/openid-configuration`) and
    /// loads its keys.
    ///
    /// # Errors
    /// [`KeycloakError::Config`] for an unusable configuration;
    /// [`KeycloakError::Discovery`] or [`KeycloakError::Jwks`] when the
    /// issuer cannot be reached or answers nonsense.
    pub async fn connect(config: KeycloakConfig) -> Result<Self, KeycloakError> {
        if config.audience.is_empty() {
            return Err(KeycloakError::Config("`audience` must not be empty".into()));
        }
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| KeycloakError::Config(format!("`issuer` is not a URL: {e}")))?;
        // No redirects: a discovery document or key set must come from where
        // the configuration says (openidconnect's own advice against SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.http_timeout_secs))
            .build()
            .map_err(|e| KeycloakError::Config(format!("HTTP client: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| KeycloakError::Discovery {
                issuer: config.issuer.clone(),
                reason: crate::error_chain(&e),
            })?;
        let keys = JwksStore::load(
            http,
            metadata.jwks_uri().url().to_string(),
            config.refetch_interval(),
            config.max_age(),
        )
        .await?;
        let mapping = config.claim_mapping();
        let rules = TokenRules {
            issuer: config.issuer,
            audience: config.audience,
            use_azp: config.use_azp,
            leeway_secs: config.leeway_secs,
            token_types: config.token_types,
        };
        Ok(Self {
            verifier: TokenVerifier::new(rules, mapping, config.cache_capacity),
            keys,
        })
    }

    /// Like [`IdentityProvider::verify`], with this adapter's own error.
    ///
    /// # Errors
    /// Every reason a token is refused, as a [`KeycloakError`].
    pub async fn verify_token(
        &self,
        token: &str,
        selected_tenant: Option<&str>,
    ) -> Result<VerifiedIdentity, KeycloakError> {
        self.verifier
            .verify(token, selected_tenant, &self.keys)
            .await
    }

    pub fn issuer(&self) -> &str {
        self.verifier.issuer()
    }
}

#[async_trait]
impl IdentityProvider for KeycloakProvider {
    async fn verify(
        &self,
        token: &str,
        selected_tenant: Option<String>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        Ok(self.verify_token(token, selected_tenant.as_deref()).await?)
    }
}
