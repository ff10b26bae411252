//! What the integrity jobs (erase, reconcile) need of a tenant's file rows.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{BucketName, FileId, FileRecord, FileStatus, ObjectKey};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, TenantScope};

/// What the integrity jobs need of a file row: where its object is and how
/// far its life has come. Unlike [`FileRecord`] it includes rows being
/// erased, which no user listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileObject {
    pub id: FileId,
    pub status: FileStatus,
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub multipart_upload_id: Option<String>,
    pub created_at: OffsetDateTime,
    /// Set by [`Integrity::begin_erase`]: the row is on its way out.
    pub erase_started_at: Option<OffsetDateTime>,
    /// Set by [`Integrity::mark_object_missing`]: the reconciler found
    /// no object for this row.
    pub object_missing_at: Option<OffsetDateTime>,
}

/// A listing of [`FileObject`]s by ascending id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileObjectQuery {
    /// Only rows whose erase began before this instant (unfinished erases).
    pub erase_started_before: Option<OffsetDateTime>,
    /// Rows with an id after this one (the last of the previous page).
    pub after: Option<FileId>,
    /// Clamped like [`crate::FileQuery::limit`]; a shorter answer is the last page.
    pub limit: u32,
}

/// File rows as the integrity jobs see them: rows being erased included.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Integrity: Send + Sync + 'static {
    /// Mark a file (any status) as being erased permanently, at `at` unless
    /// an erase already began (idempotent). From then on the file is
    /// `NotFound` for every method but this one, [`crate::FileCatalog::remove_file`] and
    /// [`Self::list_file_objects`]; it holds no name, and only removal ends
    /// it. Returns the file as it is.
    ///
    /// A file that a legal hold or a retention active at `at` binds is
    /// refused, checked in the same statement as the mark, so no hold
    /// placed meanwhile is missed (docs/records.md).
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` when a hold or retention binds the file.
    async fn begin_erase(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// The tenant's file rows in every status, rows being erased included,
    /// by ascending id.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_file_objects(
        &self,
        scope: &TenantScope,
        query: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError>;

    /// Record that the file's object was not found, at `at` unless already
    /// recorded (idempotent: `journal` is written with the first mark only).
    ///
    /// # Errors
    /// `NotFound`.
    async fn mark_object_missing(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<(), MetadataError>;
}
