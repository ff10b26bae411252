//! The embedded dev issuer: Coffer's own tokens, signed with an Ed25519 key
//! kept in the data directory, for `coffer serve` without a Keycloak and for
//! `coffer token`. Verification is the same pipeline and claim mapping as the
//! Keycloak adapter; tokens look like Keycloak's (`tenant`,
//! `realm_access.roles`), with issuer [`DEV_ISSUER`] and audience [`DEV_AUDIENCE`].

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_domain::{Role, Subject};
use coffer_ports::{IdentityError, IdentityProvider, TenantClaim, VerifiedIdentity};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::header::TokenHeader;
use crate::keys::VerifyingKey;
use crate::verifier::{KeyResolver, TokenRules, TokenVerifier};
use crate::{ClaimMapping, KeycloakConfig, KeycloakError};

/// `iss` of every dev token.
pub const DEV_ISSUER: &str = "coffer-dev";
/// `aud` of every dev token.
pub const DEV_AUDIENCE: &str = "coffer";
/// The key's file name inside the data directory (PKCS#8 PEM, mode 0600).
pub const KEY_FILE: &str = "dev-issuer.key";

const PEM_LABEL: &str = "PRIVATE KEY";

/// Mints and verifies dev tokens. See the module documentation.
pub struct DevIssuer {
    signing: EncodingKey,
    key: Arc<VerifyingKey>,
    kid: String,
    verifier: TokenVerifier,
    path: PathBuf,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Opens the key in `data_dir`, generating it on first use.
    ///
    /// # Errors
    /// [`KeycloakError::DevKey`] when the key cannot be read or written, is
    /// not an Ed25519 PKCS#8 key, or is readable by group or others.
    pub fn open(data_dir: &Path) -> Result<Self, KeycloakError> {
        let path = data_dir.join(KEY_FILE);
        let fail = |reason: String| KeycloakError::DevKey {
            path: path.display().to_string(),
            reason,
        };
        let der = load_or_create(data_dir, &path).map_err(fail)?;
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|e| fail(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = hex::encode(&Sha256::digest(&public)[..8]);
        // The Keycloak adapter's defaults (leeway, token types, cache size).
        let defaults = KeycloakConfig::new(DEV_ISSUER);
        let rules = TokenRules {
            issuer: DEV_ISSUER.into(),
            audience: DEV_AUDIENCE.into(),
            use_azp: false,
            leeway_secs: defaults.leeway_secs,
            token_types: defaults.token_types,
        };
        Ok(Self {
            signing: EncodingKey::from_ed_der(&der),
            key: Arc::new(VerifyingKey::ed25519(kid.clone(), &public)),
            kid,
            verifier: TokenVerifier::new(rules, ClaimMapping::default(), defaults.cache_capacity),
            path,
        })
    }

    /// Where the private key lives.
    pub fn key_path(&self) -> &Path {
        &self.path
    }

    /// A token for `subject` in `tenant` with `roles`, valid for `ttl`
    /// (what `coffer token --tenant acme --sub alice --role editor` prints).
    ///
    /// # Errors
    /// [`KeycloakError::Config`] for a non-positive `ttl` or a token without
    /// tenant that is not for a platform administrator (it would be refused).
    pub fn mint(
        &self,
        tenant: Option<&TenantClaim>,
        subject: &Subject,
        roles: &[Role],
        ttl: time::Duration,
    ) -> Result<String, KeycloakError> {
        if !ttl.is_positive() {
            return Err(KeycloakError::Config(
                "the token's lifetime must be positive".into(),
            ));
        }
        if tenant.is_none() && !roles.contains(&Role::PlatformAdmin) {
            return Err(KeycloakError::Config(
                "a token without a tenant needs the platform-admin role".into(),
            ));
        }
        let now = OffsetDateTime::now_utc();
        let mut claims = json!({
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": subject.as_str(),
            "typ": "Bearer",
            "iat": now.unix_timestamp(),
            "exp": (now + ttl).unix_timestamp(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "realm_access": {"roles": roles.iter().map(Role::as_str).collect::<Vec<_>>()},
        });
        if let Some(tenant) = tenant {
            claims["tenant"] = json!(match tenant {
                TenantClaim::Slug(slug) => slug.to_string(),
                TenantClaim::Id(id) => id.to_string(),
            });
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| KeycloakError::Signing(e.to_string()))
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
        self.verifier.verify(token, selected_tenant, self).await
    }
}

impl KeyResolver for DevIssuer {
    async fn resolve(&self, header: &TokenHeader) -> Result<Arc<VerifyingKey>, KeycloakError> {
        match &header.kid {
            Some(kid) if *kid != self.kid => Err(KeycloakError::UnknownKey {
                kid: kid.clone(),
                after: "; the dev issuer has one key",
            }),
            _ => Ok(Arc::clone(&self.key)),
        }
    }
}

#[async_trait]
impl IdentityProvider for DevIssuer {
    async fn verify(
        &self,
        token: &str,
        selected_tenant: Option<String>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        Ok(self.verify_token(token, selected_tenant.as_deref()).await?)
    }
}

/// Reads the PKCS#8 key, or creates it with mode 0600. Creation writes a
/// temporary file and hard-links it into place, so two processes starting
/// at once end up sharing one key instead of overwriting each other's.
fn load_or_create(dir: &Path, path: &Path) -> Result<Vec<u8>, String> {
    match fs::read(path) {
        Ok(pem) => {
            let mode = fs::metadata(path)
                .map_err(|e| e.to_string())?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "readable by group or others (mode {:o}); run `chmod 600` on it",
                    mode & 0o777
                ));
            }
            from_pem(&pem)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => create(dir, path),
        Err(e) => Err(e.to_string()),
    }
}

fn create(dir: &Path, path: &Path) -> Result<Vec<u8>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating the data directory: {e}"))?;
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| "generating an Ed25519 key failed".to_owned())?
        .as_ref()
        .to_vec();
    let tmp = dir.join(format!(".{KEY_FILE}.{}.tmp", uuid::Uuid::new_v4()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(to_pem(&der).as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "identity.dev_issuer.key_created");
            Ok(der)
        }
        // Another process won the race: use its key.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            from_pem(&fs::read(path).map_err(|e| e.to_string())?)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    pem
}

fn from_pem(pem: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM file".to_owned())?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != format!("-----BEGIN {PEM_LABEL}-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err(format!("no `{PEM_LABEL}` PEM block"));
    }
    STANDARD
        .decode(body)
        .map_err(|_| "PEM body is not base64".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let der: Vec<u8> = (0..=200).collect();
        assert_eq!(from_pem(to_pem(&der).as_bytes()).unwrap(), der);
        assert!(from_pem(b"garbage").is_err());
    }
}
