//! Coffer's identity adapters, both implementing
//! [`coffer_ports::IdentityProvider`]:
//!
//! - [`KeycloakProvider`]: production. Discovers an OIDC issuer (a Keycloak
//!   realm), caches its JWKS, verifies JWT access tokens (asymmetric
//!   algorithms only) and maps Keycloak's claims — tenant claim or
//!   Organizations, realm and client roles — to a [`coffer_ports::VerifiedIdentity`].
//! - [`dev::DevIssuer`]: the embedded default. Mints and verifies tokens with
//!   an Ed25519 key kept in the data directory.
//!
//! [`web::WebClient`] runs the web app's authorization code flow (PKCE).
//!
//! Both share one pipeline (header allowlist, key, signature and standard
//! claims, claim mapping, a verified-token cache keyed by the token's
//! SHA-256), so a rule fixed once holds for both. Everything Keycloak-specific
//! lives in this crate. See `docs/identity.md`.

mod claims;
mod config;
pub mod dev;
mod error;
mod header;
mod jwks;
mod keys;
mod provider;
mod verifier;
pub mod web;

pub use config::{ClaimMapping, KeycloakConfig, RoleNames};
pub use error::KeycloakError;
pub use provider::KeycloakProvider;

/// An error and its sources on one line, for messages that reach logs.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
