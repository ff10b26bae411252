//! Bulk upload sessions (docs/storage.md, "Temporary credentials"): the
//! prefix write credentials confine a client to, kept with the registry
//! (platform path) so that one sweep finds every tenant's expired sessions
//! wherever the tenant's data is.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected.

use async_trait::async_trait;
use coffer_domain::{BucketName, Subject, TenantId, UploadSessionId};
use time::OffsetDateTime;

use crate::MetadataError;

/// An open upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    pub id: UploadSessionId,
    pub tenant_id: TenantId,
    /// Who obtained the credentials; only they register what landed.
    pub created_by: Subject,
    /// The bucket the session's prefix is in.
    pub bucket: BucketName,
    /// When the credentials expire: nothing can be written after it.
    pub expires_at: OffsetDateTime,
    /// Until when what landed can be registered; after it the sweep removes
    /// what is left, and the session.
    pub registrable_until: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// Upload sessions of every tenant.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UploadSessions: Send + Sync + 'static {
    /// Record a new session.
    ///
    /// # Errors
    /// `Conflict` when its id exists.
    async fn open_session(&self, session: UploadSession) -> Result<(), MetadataError>;

    /// The session `id` of `tenant` (`None` when unknown, reaped, or
    /// another tenant's).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn session(
        &self,
        tenant: TenantId,
        id: UploadSessionId,
    ) -> Result<Option<UploadSession>, MetadataError>;

    /// Up to `limit` sessions, of any tenant, whose registration window
    /// ended before `now`, oldest first.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn closed_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadSession>, MetadataError>;

    /// Forget a session (its objects are gone). Forgetting an unknown one
    /// succeeds.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn remove_session(
        &self,
        tenant: TenantId,
        id: UploadSessionId,
    ) -> Result<(), MetadataError>;
}
