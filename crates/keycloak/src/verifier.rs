//! The verification pipeline both identity providers share: header and
//! algorithm allowlist → issuer pre-check → key → signature and standard
//! claims → claim mapping → cache → `X-Tenant` selection.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use moka::Expiry;
use moka::sync::Cache;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::claims::MappedToken;
use crate::header::{self, TokenHeader};
use crate::keys::VerifyingKey;
use crate::{ClaimMapping, KeycloakError};
use coffer_ports::VerifiedIdentity;

/// Finds the key a token's header asks for.
pub(crate) trait KeyResolver: Send + Sync {
    fn resolve(
        &self,
        header: &TokenHeader,
    ) -> impl Future<Output = Result<Arc<VerifyingKey>, KeycloakError>> + Send;
}

/// The checks on the token itself, beyond its signature.
#[derive(Debug, Clone)]
pub(crate) struct TokenRules {
    pub issuer: String,
    pub audience: String,
    pub use_azp: bool,
    pub leeway_secs: u64,
    pub token_types: Vec<String>,
}

impl TokenRules {
    fn check(
        &self,
        token: &str,
        header: &TokenHeader,
        key: &VerifyingKey,
    ) -> Result<Map<String, Value>, KeycloakError> {
        let decoding_key = key.for_alg(header.alg)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        // audience (or azp) is checked below, with its own error
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, decoding_key, &validation)
            .map_err(|e| self.jwt_error(e))?;
        self.check_audience(&data.claims)?;
        self.check_type(header.typ.as_deref(), &data.claims)?;
        Ok(data.claims)
    }

    fn jwt_error(&self, err: jsonwebtoken::errors::Error) -> KeycloakError {
        match err.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey => KeycloakError::BadSignature,
            ErrorKind::ExpiredSignature => KeycloakError::Expired,
            ErrorKind::ImmatureSignature => KeycloakError::NotYetValid,
            ErrorKind::InvalidIssuer => KeycloakError::WrongIssuer {
                found: "(several or other)".into(),
                expected: self.issuer.clone(),
            },
            ErrorKind::MissingRequiredClaim(c) => KeycloakError::MissingClaim(c.clone()),
            ErrorKind::InvalidClaimFormat(c) => KeycloakError::invalid_claim(c, "wrong format"),
            _ => KeycloakError::Malformed(err.to_string()),
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), KeycloakError> {
        let in_aud = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        let by_azp = self.use_azp
            && claims.get("azp").and_then(Value::as_str) == Some(self.audience.as_str());
        if in_aud || by_azp {
            Ok(())
        } else {
            Err(KeycloakError::WrongAudience(self.audience.clone()))
        }
    }

    /// Refuses ID and refresh tokens: a declared type — Keycloak's `typ`
    /// claim (`Bearer`, `ID`, `Refresh`) or an RFC 9068 header type
    /// (`at+jwt`) — must be an accepted one. The generic header `JWT` says
    /// nothing and is ignored.
    fn check_type(
        &self,
        header_typ: Option<&str>,
        claims: &Map<String, Value>,
    ) -> Result<(), KeycloakError> {
        if self.token_types.is_empty() {
            return Ok(());
        }
        let normal = |t: &str| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_owned)
                .unwrap_or(t)
        };
        let accepted = |t: &str| self.token_types.iter().any(|a| normal(a) == normal(t));
        let header_typ = header_typ.filter(|t| normal(t) != "jwt");
        let claim_typ = match claims.get("typ") {
            None => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => return Err(KeycloakError::invalid_claim("typ", "not a string")),
        };
        match [header_typ, claim_typ]
            .into_iter()
            .flatten()
            .find(|t| !accepted(t))
        {
            Some(bad) => Err(KeycloakError::WrongTokenType(bad.to_owned())),
            None => Ok(()),
        }
    }
}

type TokenDigest = [u8; 32];

/// Keeps each cached token until its own expiry.
struct UntilExpiry;

impl Expiry<TokenDigest, Arc<MappedToken>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenDigest,
        value: &Arc<MappedToken>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(remaining(value))
    }
}

fn remaining(token: &MappedToken) -> Duration {
    (token.expires_at - OffsetDateTime::now_utc())
        .try_into()
        .unwrap_or(Duration::ZERO)
}

/// Verifies tokens and remembers verified ones until they expire, keyed by
/// the SHA-256 of the token, so the hot path costs a hash instead of an RSA
/// verification. The `X-Tenant` selection is applied after the cache.
pub(crate) struct TokenVerifier {
    rules: TokenRules,
    mapping: ClaimMapping,
    cache: Cache<TokenDigest, Arc<MappedToken>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("rules", &self.rules)
            .field("mapping", &self.mapping)
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

impl TokenVerifier {
    pub fn new(rules: TokenRules, mapping: ClaimMapping, capacity: u64) -> Self {
        Self {
            rules,
            mapping,
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.rules.issuer
    }

    pub async fn verify<R: KeyResolver>(
        &self,
        token: &str,
        selected_tenant: Option<&str>,
        keys: &R,
    ) -> Result<VerifiedIdentity, KeycloakError> {
        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.cache.get(&digest)
            && !remaining(&hit).is_zero()
        {
            return hit.select(selected_tenant);
        }
        let header = header::parse(token)?;
        header::precheck_issuer(token, &self.rules.issuer)?;
        let key = keys.resolve(&header).await?;
        let claims = self.rules.check(token, &header, &key)?;
        let mapped = Arc::new(self.mapping.map(&claims)?);
        self.cache.insert(digest, Arc::clone(&mapped));
        mapped.select(selected_tenant)
    }
}
