//! The scan queue: files waiting for their malware scan, as resumable jobs
//! (docs/scanning.md). It lives with the registry, so one worker pool finds
//! every tenant's scans wherever the tenant's data is.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected.

use async_trait::async_trait;
use coffer_domain::{FileId, TenantId};
use time::OffsetDateTime;

use crate::MetadataError;

/// A claimed scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanJob {
    pub tenant_id: TenantId,
    pub file_id: FileId,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub queued_at: OffsetDateTime,
}

/// Scans, claimed by workers with a lease (platform path).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ScanQueue: Send + Sync + 'static {
    /// Queue the scan of a file, due at once. Queuing a file that is queued
    /// already changes nothing (idempotent).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn queue_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        at: OffsetDateTime,
    ) -> Result<(), MetadataError>;

    /// Claim up to `limit` scans that are due — oldest first, not before
    /// their retry time, unleased or with a lease that ended before `now`
    /// (their worker died) — skipping rows another worker is claiming: each
    /// is leased until `now + lease`, one attempt more.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn claim_scans(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<ScanJob>, MetadataError>;

    /// Give a claimed scan back, due again at `not_before`, with why.
    ///
    /// # Errors
    /// `NotFound` when it is not queued (any more).
    async fn retry_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        not_before: OffsetDateTime,
        error: &str,
    ) -> Result<(), MetadataError>;

    /// Take a scan off the queue (done, or nothing left to scan). Finishing
    /// one that is not queued succeeds.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn finish_scan(&self, tenant: TenantId, file: FileId) -> Result<(), MetadataError>;

    /// How many scans are queued, due or not, claimed or not: the depth an
    /// operator watches (one count on the platform path).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn queued_scans(&self) -> Result<u64, MetadataError>;
}
