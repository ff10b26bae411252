//! A file's versions (docs/records.md): every verified upload of new bytes
//! for a file, the current one included. A store adds a version and makes
//! it current in one transaction, and keeps every earlier one until the
//! file itself is removed; nothing here deletes or changes a version.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{
    BucketName, ContentType, FileId, FileRecord, FileVersion, ObjectKey, ScanVerdict, Sha256Digest,
    Subject,
};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, TenantScope};

/// Verified bytes that become a file's next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    /// The pending (or scanned) upload row whose bytes these are; it is
    /// folded into the file and gone once the version is added. `None`
    /// for a version made by restoring an earlier one.
    pub upload: Option<FileId>,
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub size_bytes: u64,
    pub checksum_sha256: Sha256Digest,
    pub content_type: ContentType,
    pub uploaded_by: Subject,
    pub at: OffsetDateTime,
    /// The malware scan's verdict on these bytes, when they were scanned.
    pub scan_verdict: Option<ScanVerdict>,
}

/// The versions of a tenant's files.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FileVersions: Send + Sync + 'static {
    /// Make `version` the current bytes of `file` (its version number one
    /// more than before), keep the earlier ones, remove the upload row it
    /// came from, count its bytes in the tenant's usage (an upload's
    /// reservation becomes usage), and write `journal` — one transaction.
    ///
    /// # Errors
    /// `NotFound` when the file (or the upload row) is missing or being
    /// erased; `InvalidState` when the file is not `available` (pending,
    /// scanning, quarantined or in the trash) or the upload row is not
    /// one for this file.
    async fn add_version(
        &self,
        scope: &TenantScope,
        file: FileId,
        version: NewVersion,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// Every version of `file`, newest (the current one) first. Empty for
    /// a file that has none yet (pending) or does not exist.
    async fn list_versions(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<FileVersion>, MetadataError>;

    /// The file a version upload was folded into, if `upload` was one:
    /// what a complete retried after the fold answers.
    async fn folded_upload(
        &self,
        scope: &TenantScope,
        upload: FileId,
    ) -> Result<Option<FileId>, MetadataError>;

    /// A page of the versions of all the tenant's files, by ascending
    /// `(file, version)` after `after`: what the reconciler and an erase
    /// need to know of the objects versions hold.
    async fn list_all_versions(
        &self,
        scope: &TenantScope,
        after: Option<(FileId, u32)>,
        limit: u32,
    ) -> Result<Vec<FileVersion>, MetadataError>;
}
