//! Grants: access to one file for a user or a role.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{Access, FileId, Grant, GrantId, GrantSubject, Subject};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, TenantScope};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: GrantId,
    pub file_id: FileId,
    pub subject: GrantSubject,
    pub access: Access,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: Subject,
    pub created_at: OffsetDateTime,
}

/// The grants on a tenant's files.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Grants: Send + Sync + 'static {
    /// # Errors
    /// `NotFound` for an unknown file.
    async fn list_grants(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<Grant>, MetadataError>;

    /// Add a grant; a grant to the same subject on the same file is replaced.
    ///
    /// # Errors
    /// `NotFound` for an unknown file.
    async fn put_grant(
        &self,
        scope: &TenantScope,
        grant: NewGrant,
        journal: Journal,
    ) -> Result<Grant, MetadataError>;

    /// # Errors
    /// `NotFound` when the grant is not on that file.
    async fn delete_grant(
        &self,
        scope: &TenantScope,
        file: FileId,
        grant: GrantId,
        journal: Journal,
    ) -> Result<(), MetadataError>;
}
