//! A tenant's members (users known by their subject).
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{Role, Subject, UserId};

use crate::{Journal, MetadataError, TenantScope};

/// The users of a tenant, created just in time from their tokens.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Members: Send + Sync + 'static {
    /// Create the user on first sight (just in time) or refresh its roles.
    ///
    /// # Errors
    /// `NotFound` when the tenant does not exist.
    async fn upsert_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError>;

    /// Remove a user that owns nothing (an onboarding's compensation).
    /// Removing a user that does not exist succeeds (idempotent).
    ///
    /// # Errors
    /// `Conflict` when the user still owns files.
    async fn remove_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// How many users the tenant has.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn count_users(&self, scope: &TenantScope) -> Result<u64, MetadataError>;
}
