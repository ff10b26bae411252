//! A tenant's files: reservation, completion, change, trash, removal, and
//! the listing with its read filter.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{
    BucketName, Category, ContentType, FileId, FileRecord, FileStatus, Filename, Grant,
    LogicalPath, Metadata, ObjectKey, PageCursor, PlanLimits, Role, ScanVerdict, Sha256Digest,
    Subject, Usage, UserId, Visibility,
};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, Page, TenantScope};

/// A file about to be recorded (normally as `pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub id: FileId,
    pub owner_id: UserId,
    pub owner: Subject,
    pub category: Category,
    pub path: LogicalPath,
    pub filename: Filename,
    pub content_type: ContentType,
    pub size_bytes: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub visibility: Visibility,
    pub metadata: Metadata,
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub upload_expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// The upload of a new version of this file rather than a file of its
    /// own ([`crate::FileVersions::add_version`] folds it in).
    pub version_of: Option<FileId>,
}

/// What was verified about the stored object when an upload completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    /// Where the verified bytes are: from now on the file's key.
    pub key: ObjectKey,
    pub size_bytes: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub content_type: ContentType,
    pub at: OffsetDateTime,
    /// The file waits for a malware scan: it becomes `scanning`, not
    /// `available` (see [`FileCatalog::record_scan`]).
    pub awaits_scan: bool,
    /// The records retention the file gets (the tenant's rule for its
    /// category, from now).
    pub retention: Option<coffer_domain::Retention>,
}

/// Changes to a file's metadata. `metadata` is the full new object (the
/// service has already merged the patch).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilePatch {
    pub filename: Option<Filename>,
    pub path: Option<LogicalPath>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<Metadata>,
}

impl FilePatch {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A file with its grants: everything [`coffer_domain::decide`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub file: FileRecord,
    pub grants: Vec<Grant>,
}

/// Which files a listing may return: all of the tenant's (admins), or only
/// those the subject may read (owner, `tenant` visibility for members, an
/// active grant to the subject or one of its roles). It must agree with
/// [`coffer_domain::effective_access`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFilter {
    All,
    Readable {
        subject: Subject,
        roles: Vec<Role>,
        now: OffsetDateTime,
    },
}

/// The files a [`ReadFilter::Readable`] listing may return, in terms a
/// store tests column by column: [`coffer_domain::effective_access`]'s read
/// rule, stated once for every store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRestriction<'a> {
    /// Files this subject owns.
    pub owner: &'a Subject,
    /// Files with a grant, active at `now`, to one of these grant subjects
    /// (`user:<sub>`, `role:<role>`) as stored.
    pub grantees: Vec<String>,
    pub now: OffsetDateTime,
    /// Files of `tenant` visibility, which members (editors, viewers) read.
    pub tenant_visible: bool,
}

impl ReadFilter {
    /// `None` when every file of the tenant passes: [`ReadFilter::All`],
    /// or a reader holding the admin role.
    pub fn restriction(&self) -> Option<ReadRestriction<'_>> {
        let Self::Readable {
            subject,
            roles,
            now,
        } = self
        else {
            return None;
        };
        if roles.contains(&Role::Admin) {
            return None;
        }
        Some(ReadRestriction {
            owner: subject,
            grantees: std::iter::once(format!("user:{subject}"))
                .chain(roles.iter().map(|r| format!("role:{r}")))
                .collect(),
            now: *now,
            tenant_visible: roles
                .iter()
                .any(|r| matches!(r, Role::Editor | Role::Viewer)),
        })
    }
}

/// A listing of files, newest first, by keyset `(created_at, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileQuery {
    pub filter: ReadFilter,
    /// Exactly this status; listings default to `available`.
    pub status: FileStatus,
    pub category: Option<Category>,
    /// Files directly in this folder.
    pub path: Option<LogicalPath>,
    /// Files in this folder or below it.
    pub prefix: Option<LogicalPath>,
    /// Case-insensitive substring of the filename.
    pub name_contains: Option<String>,
    /// Exactly this filename (with `path`, the one file at a place).
    pub filename: Option<Filename>,
    /// JSON containment (`metadata @> this`).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub owner: Option<Subject>,
    pub after: Option<PageCursor>,
    /// 1 to [`crate::MAX_PAGE_SIZE`]; stores clamp anything else ([`crate::page_size`]).
    pub limit: u32,
}

/// A tenant's files and its usage counters. Every method sees and changes
/// only the scope's tenant: a file of another tenant is `NotFound`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FileCatalog: Send + Sync + 'static {
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError>;

    /// Record a pending file and reserve its size against the quota, in one
    /// transaction: of concurrent reservations, only as many as fit succeed.
    ///
    /// # Errors
    /// `QuotaExceeded` when `limits` do not admit it ([`Usage::admits`]);
    /// `Conflict` when a live file has the same path and filename.
    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// A file (in any status) with its grants.
    ///
    /// # Errors
    /// `NotFound`, also for a file of another tenant.
    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError>;

    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError>;

    /// Remember the multipart upload id of a pending file.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless the file is pending.
    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError>;

    /// `pending` → `available` (or `scanning`, see
    /// [`ObjectFacts::awaits_scan`]), moving its reservation into usage and
    /// the file to `facts.key`. On a file that is already complete it
    /// changes nothing and returns it (idempotent).
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` for a deleted file.
    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// Keep a malware scan's verdict: `scanning` → `available` when clean,
    /// `quarantined` otherwise.
    ///
    /// # Errors
    /// `NotFound` (gone, or being erased); `InvalidState` unless `scanning`.
    async fn record_scan(
        &self,
        scope: &TenantScope,
        id: FileId,
        verdict: ScanVerdict,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// # Errors
    /// `NotFound`; `Conflict` when the new path and name are taken.
    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// `available` → `deleted` (trash). Usage is kept until removal.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless available.
    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// `deleted` → `available`.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless deleted; `Conflict` when a live file
    /// now has its path and name.
    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError>;

    /// Remove the row and its grants, releasing its usage (or reservation).
    /// `journal` is `None` where the removal finishes an erase already on
    /// record ([`crate::Integrity::begin_erase`]).
    ///
    /// # Errors
    /// `NotFound`.
    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError>;
}

/// A wrapper of a [`FileCatalog`] that changes some of its methods: implement
/// [`FileCatalogLayer::inner`] and override what changes; every other method goes
/// to the inner port, and the wrapper is a [`FileCatalog`] itself. A method
/// added to [`FileCatalog`] is added here once, so no wrapper forwards by hand.
#[async_trait]
pub trait FileCatalogLayer: Send + Sync + 'static {
    /// The port this one wraps.
    fn inner(&self) -> &dyn FileCatalog;

    /// [`FileCatalog::usage`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::usage`].
    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        self.inner().usage(scope).await
    }

    /// [`FileCatalog::reserve_upload`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::reserve_upload`].
    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner()
            .reserve_upload(scope, file, limits, journal)
            .await
    }

    /// [`FileCatalog::get_file`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::get_file`].
    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        self.inner().get_file(scope, id).await
    }

    /// [`FileCatalog::list_files`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::list_files`].
    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        self.inner().list_files(scope, query).await
    }

    /// [`FileCatalog::set_multipart_upload`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::set_multipart_upload`].
    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        self.inner()
            .set_multipart_upload(scope, id, upload_id)
            .await
    }

    /// [`FileCatalog::mark_available`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::mark_available`].
    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner().mark_available(scope, id, facts, journal).await
    }

    /// [`FileCatalog::update_file`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::update_file`].
    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner()
            .update_file(scope, id, patch, at, journal)
            .await
    }

    /// [`FileCatalog::trash_file`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::trash_file`].
    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner().trash_file(scope, id, at, journal).await
    }

    /// [`FileCatalog::restore_file`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::restore_file`].
    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner().restore_file(scope, id, at, journal).await
    }

    /// [`FileCatalog::record_scan`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::record_scan`].
    async fn record_scan(
        &self,
        scope: &TenantScope,
        id: FileId,
        verdict: ScanVerdict,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.inner()
            .record_scan(scope, id, verdict, at, journal)
            .await
    }

    /// [`FileCatalog::remove_file`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`FileCatalog::remove_file`].
    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        self.inner().remove_file(scope, id, journal).await
    }
}

#[async_trait]
impl<L: FileCatalogLayer> FileCatalog for L {
    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        FileCatalogLayer::usage(self, scope).await
    }

    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::reserve_upload(self, scope, file, limits, journal).await
    }

    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        FileCatalogLayer::get_file(self, scope, id).await
    }

    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        FileCatalogLayer::list_files(self, scope, query).await
    }

    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::set_multipart_upload(self, scope, id, upload_id).await
    }

    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::mark_available(self, scope, id, facts, journal).await
    }

    async fn record_scan(
        &self,
        scope: &TenantScope,
        id: FileId,
        verdict: ScanVerdict,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::record_scan(self, scope, id, verdict, at, journal).await
    }

    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::update_file(self, scope, id, patch, at, journal).await
    }

    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::trash_file(self, scope, id, at, journal).await
    }

    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::restore_file(self, scope, id, at, journal).await
    }

    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        FileCatalogLayer::remove_file(self, scope, id, journal).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(roles: Vec<Role>) -> ReadFilter {
        ReadFilter::Readable {
            subject: Subject::new("alice").unwrap_or_else(|_| unreachable!()),
            roles,
            now: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn admins_and_all_are_unrestricted() {
        assert_eq!(ReadFilter::All.restriction(), None);
        assert_eq!(reader(vec![Role::Viewer, Role::Admin]).restriction(), None);
    }

    #[test]
    fn members_read_tenant_files_and_their_grants() {
        let filter = reader(vec![Role::Viewer]);
        let r = filter.restriction();
        assert_eq!(r.as_ref().map(|r| r.owner.as_str()), Some("alice"));
        assert_eq!(
            r.as_ref().map(|r| r.grantees.clone()),
            Some(vec!["user:alice".to_owned(), "role:viewer".to_owned()])
        );
        assert_eq!(r.map(|r| r.tenant_visible), Some(true));
    }

    #[test]
    fn without_a_member_role_only_owned_and_granted_files() {
        let filter = reader(vec![]);
        let r = filter.restriction();
        assert_eq!(
            r.as_ref().map(|r| r.grantees.clone()),
            Some(vec!["user:alice".to_owned()])
        );
        assert_eq!(r.map(|r| r.tenant_visible), Some(false));
    }
}
