use coffer_ports::{IdentityError, IdentityErrorKind};

/// Why a token was refused or could not be checked. Every variant says what
/// went wrong in words an operator can act on; [`IdentityError`] carries the
/// kind that decides the HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum KeycloakError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm `{0}` is not allowed (asymmetric signatures only)")]
    AlgorithmNotAllowed(String),
    #[error("unknown signing key `{kid}` (not in the issuer's JWKS{after})")]
    UnknownKey { kid: String, after: &'static str },
    #[error("key `{kid}` cannot verify {alg} tokens")]
    KeyMismatch { kid: String, alg: String },
    #[error("bad signature")]
    BadSignature,
    #[error("wrong issuer `{found}` (expected `{expected}`)")]
    WrongIssuer { found: String, expected: String },
    #[error("wrong audience: the token is not meant for `{0}`")]
    WrongAudience(String),
    #[error("wrong token type `{0}` (an access token is needed)")]
    WrongTokenType(String),
    #[error("missing claim `{0}`")]
    MissingClaim(String),
    #[error("invalid claim `{claim}`: {reason}")]
    InvalidClaim { claim: String, reason: String },
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("{0}")]
    TenantMissing(String),
    #[error("X-Tenant `{0}` is not one of the token's tenants")]
    TenantNotAllowed(String),
    #[error("OIDC discovery of `{issuer}` failed: {reason}")]
    Discovery { issuer: String, reason: String },
    #[error("fetching the JWKS from `{url}` failed: {reason}")]
    Jwks { url: String, reason: String },
    #[error("invalid identity configuration: {0}")]
    Config(String),
    #[error("dev issuer key `{path}`: {reason}")]
    DevKey { path: String, reason: String },
    #[error("signing failed: {0}")]
    Signing(String),
}

impl KeycloakError {
    pub fn kind(&self) -> IdentityErrorKind {
        use KeycloakError as E;
        match self {
            E::Malformed(_)
            | E::AlgorithmNotAllowed(_)
            | E::UnknownKey { .. }
            | E::KeyMismatch { .. }
            | E::BadSignature
            | E::WrongIssuer { .. }
            | E::WrongAudience(_)
            | E::WrongTokenType(_)
            | E::MissingClaim(_)
            | E::InvalidClaim { .. } => IdentityErrorKind::Invalid,
            E::Expired | E::NotYetValid => IdentityErrorKind::Expired,
            E::TenantMissing(_) => IdentityErrorKind::TenantMissing,
            E::TenantNotAllowed(_) => IdentityErrorKind::TenantNotAllowed,
            E::Discovery { .. } | E::Jwks { .. } => IdentityErrorKind::Unavailable,
            E::Config(_) | E::DevKey { .. } | E::Signing(_) => IdentityErrorKind::Internal,
        }
    }

    pub(crate) fn invalid_claim(claim: &str, reason: impl Into<String>) -> Self {
        Self::InvalidClaim {
            claim: claim.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<KeycloakError> for IdentityError {
    fn from(err: KeycloakError) -> Self {
        IdentityError::new(err.kind(), err.to_string())
    }
}
