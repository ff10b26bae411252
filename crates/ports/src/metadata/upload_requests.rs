//! Upload requests (docs/sharing.md), kept with the registry (platform
//! path) like share links: the public page knows only the token.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{LinkDigest, TenantId, UploadRequest, UploadRequestId};
use time::OffsetDateTime;

use crate::MetadataError;

/// The upload requests of every tenant.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UploadRequests: Send + Sync + 'static {
    /// Record a request, found later by `digest`.
    ///
    /// # Errors
    /// `Conflict` when its id or digest exists.
    async fn create_request(
        &self,
        request: UploadRequest,
        digest: LinkDigest,
    ) -> Result<(), MetadataError>;

    /// The requests of `tenant`, newest first, closed ones too.
    async fn requests_of_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<UploadRequest>, MetadataError>;

    /// Close request `id` at `now` (closing it again keeps the first time)
    /// and answer it as it is now.
    ///
    /// # Errors
    /// `NotFound` when `tenant` has no such request.
    async fn close_request(
        &self,
        tenant: TenantId,
        id: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<UploadRequest, MetadataError>;

    /// The request whose token has this digest, open or not.
    async fn find_request(
        &self,
        digest: LinkDigest,
    ) -> Result<Option<UploadRequest>, MetadataError>;

    /// Take a place for one more file, atomically, if the request is open
    /// at `now` (not closed, not expired, not full): of two uploads racing
    /// for the last place, one gets it. `None` when it was not open.
    async fn take_place(
        &self,
        id: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<UploadRequest>, MetadataError>;

    /// Give back a place an upload took and did not use (it was refused or
    /// abandoned); never below zero. Unknown requests are ignored.
    async fn give_back_place(&self, id: UploadRequestId) -> Result<(), MetadataError>;
}
