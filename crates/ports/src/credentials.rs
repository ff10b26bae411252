//! Temporary store credentials confined by the store itself (docs/storage.md,
//! "Temporary credentials"): for bulk work a client gets keys of its own,
//! and the store — not Coffer — refuses everything outside the prefixes they
//! name.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{ObjectPrefix, StoreError};

/// What a credential may do, on which prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialScope {
    /// Put objects (single or multipart) under one upload session's prefix;
    /// nothing else — no read, list or delete, not even there.
    PutUnder(ObjectPrefix),
    /// Read and list under each prefix (a tenant's, in every bucket it has
    /// objects in); no write.
    ReadUnder(Vec<ObjectPrefix>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    pub scope: CredentialScope,
    /// Shows up in the store's logs and in the assumed identity's name
    /// (`[\w+=,.@-]{2,64}`).
    pub session_name: String,
    /// Within what the store allows (STS: 15 minutes to 12 hours).
    pub duration: Duration,
}

/// Keys a client signs its own requests with, until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_at: OffsetDateTime,
    /// Where to send requests: the store's endpoint (`None`: AWS, by region).
    pub endpoint: Option<String>,
    pub region: String,
    /// Whether the store needs `endpoint/bucket/key` addressing.
    pub force_path_style: bool,
}

// Written by hand so that no secret reaches a log.
impl fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("expires_at", &self.expires_at)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Issues temporary credentials for a store, confined by a session policy
/// the store enforces (S3: STS `AssumeRole` with an inline policy).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CredentialIssuer: Send + Sync + 'static {
    /// Credentials for exactly `request.scope`, valid for `request.duration`.
    ///
    /// # Errors
    /// `Refused` for a duration the store does not allow; `Unavailable`
    /// when the store's STS cannot be reached; `Internal` on a refusal
    /// (the role or trust is misconfigured).
    async fn issue(&self, request: CredentialRequest) -> Result<TemporaryCredentials, StoreError>;

    /// The longest lifetime this issuer can grant.
    fn max_duration(&self) -> Duration;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_keys() {
        let credentials = TemporaryCredentials {
            access_key_id: "ASIAEXAMPLEKEY".into(),
            secret_access_key: "very-secret".into(),
            session_token: "session-token-value".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            endpoint: None,
            region: "us-east-1".into(),
            force_path_style: false,
        };
        let printed = format!("{credentials:?}");
        for secret in ["ASIAEXAMPLEKEY", "very-secret", "session-token-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
