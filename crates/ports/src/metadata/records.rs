//! A tenant's records rules on its files: retention and legal holds
//! (docs/records.md). The service decides who may change what
//! ([`coffer_domain::decide_retention_change`]); a store keeps the rules and
//! refuses, in the transaction that would break one, to begin erasing a
//! file they bind ([`crate::Integrity::begin_erase`]).
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, LogicalPath, Retention, Subject};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Journal, MetadataError, TenantScope};

/// A legal hold on one file: while any is placed, the file cannot be
/// trashed, erased or purged, whatever its retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub id: Uuid,
    pub file_id: FileId,
    /// Why (a matter, a case number): what an auditor reads.
    pub reason: String,
    pub placed_by: Subject,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
}

/// A hold to place, on one file or on every file under a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLegalHold {
    pub target: HoldTarget,
    pub reason: String,
    pub placed_by: Subject,
    pub placed_at: OffsetDateTime,
}

/// What a hold covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    File(FileId),
    /// Every complete file (any status but `pending`, erases excluded) in
    /// this folder or below it, as it is when the hold is placed.
    Folder(LogicalPath),
}

/// A file that a retention or hold keeps from being purged, as a purge
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingRecord {
    pub file_id: FileId,
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

/// Retention and legal holds of a tenant's files.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Records: Send + Sync + 'static {
    /// Set (or, with `None`, remove) a file's retention, as decided.
    ///
    /// # Errors
    /// `NotFound` (also for a pending file or one being erased).
    async fn set_retention(
        &self,
        scope: &TenantScope,
        id: FileId,
        retention: Option<Retention>,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// Place a hold on the target's files, one hold per file, in one
    /// transaction. A folder with no file places none (an empty answer).
    ///
    /// # Errors
    /// `NotFound` for a file target that is missing, pending or being erased.
    async fn place_holds(
        &self,
        scope: &TenantScope,
        hold: NewLegalHold,
        journal: Journal,
    ) -> Result<Vec<LegalHold>, MetadataError>;

    /// Release a hold; the file stays held while another hold remains.
    /// Returns the hold and the file as it now is.
    ///
    /// # Errors
    /// `NotFound` for an unknown hold.
    async fn release_hold(
        &self,
        scope: &TenantScope,
        hold: Uuid,
        journal: Journal,
    ) -> Result<(LegalHold, FileRecord), MetadataError>;

    /// The holds placed, oldest first, on one file or (with `None`) on any
    /// file of the tenant, at most `limit`, after the hold `after`.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_holds(
        &self,
        scope: &TenantScope,
        file: Option<FileId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<LegalHold>, MetadataError>;

    /// Files a retention active at `now` or a hold keeps, at most `limit`:
    /// what stops a purge of the tenant.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn binding_records(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BindingRecord>, MetadataError>;
}
