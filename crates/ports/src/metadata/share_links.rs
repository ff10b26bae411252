//! Share links (docs/sharing.md), kept with the registry (platform path):
//! a public page knows only the token, so the link must be found before
//! its tenant is known, wherever that tenant's data lives.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{FileId, LinkDigest, PasswordAttempts, ShareLink, ShareLinkId, TenantId};
use time::OffsetDateTime;

use crate::MetadataError;

/// A link to record: the link, the digest of its token and, when it has a
/// password, the password's hash (a PHC string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShareLink {
    pub link: ShareLink,
    pub digest: LinkDigest,
    pub password_hash: Option<String>,
}

/// A link found by its token, with what checking a password needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLink {
    pub link: ShareLink,
    pub password_hash: Option<String>,
    pub attempts: PasswordAttempts,
}

/// The share links of every tenant.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ShareLinks: Send + Sync + 'static {
    /// # Errors
    /// `Conflict` when its id or digest exists.
    async fn create_link(&self, new: NewShareLink) -> Result<(), MetadataError>;

    /// The links of one file of `tenant`, oldest first, revoked ones too.
    async fn links_of_file(
        &self,
        tenant: TenantId,
        file: FileId,
    ) -> Result<Vec<ShareLink>, MetadataError>;

    /// Revoke link `id` of `file` at `now` (revoking a revoked link keeps
    /// its first revocation) and answer it as it is now.
    ///
    /// # Errors
    /// `NotFound` when `tenant` has no such link on that file.
    async fn revoke_link(
        &self,
        tenant: TenantId,
        file: FileId,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<ShareLink, MetadataError>;

    /// The link whose token has this digest, dead or alive.
    async fn find_link(&self, digest: LinkDigest) -> Result<Option<FoundLink>, MetadataError>;

    /// Count one wrong password at `now` under the rule of
    /// [`PasswordAttempts::after_failure`], atomically, and answer the
    /// attempts as they are after it.
    ///
    /// # Errors
    /// `NotFound` for an unknown link.
    async fn note_wrong_password(
        &self,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<PasswordAttempts, MetadataError>;

    /// Count one download, atomically, if the link is alive at `now`
    /// (not revoked, not expired, below its limit): of two racing for the
    /// last download, one gets it. `None` when the link was dead.
    async fn count_download(
        &self,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<Option<ShareLink>, MetadataError>;
}
