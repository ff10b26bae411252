use async_trait::async_trait;
use coffer_domain::{
    Access, BucketName, Category, ContentType, FeatureFlag, FileId, FileRecord, FileStatus,
    Filename, Grant, GrantId, GrantSubject, LimitOverrides, LogicalPath, Metadata, ObjectKey,
    Onboarding, OnboardingRequest, OnboardingState, OnboardingStep, PageCursor, Plan, PlanLimits,
    Region, Role, Sha256Digest, Subject, Tenant, TenantId, TenantSlug, TenantStatus, Usage, UserId,
    Visibility,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    BillingEffect, BillingRecorded, DeliveryOutcome, Event, EventClaim, JobLock, Journal,
    MetadataError, NewBillingEvent, PlatformRecord, TenantUsage,
};

/// The tenant a unit of metadata work runs for. Every tenant-scoped method
/// takes one; the PostgreSQL adapter turns it into `SET LOCAL
/// coffer.tenant_id` so row-level security confines the whole transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantScope(TenantId);

impl TenantScope {
    pub const fn new(tenant: TenantId) -> Self {
        Self(tenant)
    }

    pub const fn tenant_id(&self) -> TenantId {
        self.0
    }
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The most items one page of a listing holds.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// How many items a page of the requested `limit` holds: 1 to
/// [`MAX_PAGE_SIZE`], whatever the caller asked for.
pub fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// How many rows a store fetches for a page of the requested `limit`: one
/// more than the page holds, so that [`Page::from_overfetch`] knows whether
/// another page follows without a second query.
pub fn fetch_size(limit: u32) -> u32 {
    page_size(limit) + 1
}

impl<T> Page<T> {
    /// The page of the requested `limit` from `items`, fetched in keyset
    /// order with up to [`fetch_size`] rows. When more than the page holds
    /// came back, the extra one is dropped and the next page starts after
    /// the cursor of the last item kept.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: u32,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Self {
        let size = page_size(limit) as usize;
        let next_cursor = if items.len() > size {
            items.truncate(size);
            items.last().map(|last| cursor_of(last).encode())
        } else {
            None
        };
        Self { items, next_cursor }
    }

    /// One page of a listing kept in two places (a tenant's dedicated
    /// database and the shared one), from one page of each fetched with
    /// the same cursor and `limit`: the first `limit` items of both in
    /// keyset order (`descending` for newest-first listings). Taking no
    /// more than one page's worth keeps every item before the last of
    /// either page, so nothing a source holds past its page is skipped.
    pub fn merge(
        a: Self,
        b: Self,
        limit: u32,
        descending: bool,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Self {
        let key = |item: &T| {
            let c = cursor_of(item);
            (c.created_at, c.id)
        };
        let more_behind = a.next_cursor.is_some() || b.next_cursor.is_some();
        let mut items: Vec<T> = a.items.into_iter().chain(b.items).collect();
        if descending {
            items.sort_by_key(|item| std::cmp::Reverse(key(item)));
        } else {
            items.sort_by_key(key);
        }
        let size = page_size(limit) as usize;
        let truncated = items.len() > size;
        items.truncate(size);
        let next_cursor = (truncated || more_behind)
            .then(|| items.last().map(|last| cursor_of(last).encode()))
            .flatten();
        Self { items, next_cursor }
    }

    /// [`Page::from_overfetch`] of stored rows, each converted to an item
    /// first; the first row that does not convert is the error.
    pub fn try_from_overfetch<R, E>(
        rows: Vec<R>,
        limit: u32,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Result<Self, E>
    where
        T: TryFrom<R, Error = E>,
    {
        let items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self::from_overfetch(items, limit, cursor_of))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub display_name: String,
    pub plan: Plan,
    pub status: TenantStatus,
    pub region: Region,
    pub dedicated_bucket: Option<String>,
    /// See [`Tenant::dedicated_database`].
    pub dedicated_database: Option<String>,
    pub limit_overrides: LimitOverrides,
    pub created_at: OffsetDateTime,
}

/// An onboarding to queue with its tenant (see
/// [`MetadataStore::create_onboarding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOnboarding {
    pub request: OnboardingRequest,
    pub queued_at: OffsetDateTime,
}

/// The next state of an onboarding, written only while it is in
/// `expected` (otherwise `InvalidState`): a worker's record of a step,
/// its outcome, or a retry. `tenant_status` changes the tenant row in the
/// same transaction (`active` when done, `provisioning_failed` on failure,
/// `provisioning` on retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnboardingUpdate {
    pub expected: OnboardingState,
    pub state: OnboardingState,
    pub current_step: Option<OnboardingStep>,
    pub steps_done: Vec<OnboardingStep>,
    pub last_error: Option<String>,
    pub tenant_status: Option<TenantStatus>,
    pub at: OffsetDateTime,
}

/// Changes to a tenant; `None` leaves a field as it is, `Some(None)` clears
/// an optional one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    pub plan: Option<Plan>,
    pub status: Option<TenantStatus>,
    pub limit_overrides: Option<LimitOverrides>,
    pub dedicated_bucket: Option<Option<String>>,
    pub suspended_at: Option<Option<OffsetDateTime>>,
    pub cancelled_at: Option<Option<OffsetDateTime>>,
    pub purge_after: Option<Option<OffsetDateTime>>,
}

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
}

/// What was verified about the stored object when an upload completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    pub size_bytes: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub content_type: ContentType,
    pub at: OffsetDateTime,
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
    /// JSON containment (`metadata @> this`).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub owner: Option<Subject>,
    pub after: Option<PageCursor>,
    /// 1 to [`MAX_PAGE_SIZE`]; stores clamp anything else ([`page_size`]).
    pub limit: u32,
}

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

/// An audit record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub actor: Subject,
    /// Dotted action name, e.g. `file.download_url`.
    pub action: String,
    pub file_id: Option<FileId>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub actor: Subject,
    pub action: String,
    pub file_id: Option<FileId>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl AuditEntry {
    /// Its place in the audit listing, which runs by `(at, id)`.
    pub fn page_cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.at,
            id: self.id,
        }
    }
}

/// Audit listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<Subject>,
    pub action: Option<String>,
    pub file_id: Option<FileId>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub after: Option<PageCursor>,
    /// Clamped like [`FileQuery::limit`].
    pub limit: u32,
    /// Oldest first (an export) instead of newest first (a listing).
    pub oldest_first: bool,
}

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
    /// Set by [`MetadataStore::begin_erase`]: the row is on its way out.
    pub erase_started_at: Option<OffsetDateTime>,
    /// Set by [`MetadataStore::mark_object_missing`]: the reconciler found
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
    /// Clamped like [`FileQuery::limit`]; a shorter answer is the last page.
    pub limit: u32,
}

/// Where metadata, permissions and tenant state live (PostgreSQL in
/// production, SQLite in embedded mode).
///
/// Methods taking a [`TenantScope`] see and change only that tenant's rows: a
/// row of another tenant is `NotFound`. The tenant methods without a scope
/// are the platform path. Every method may fail with
/// [`crate::MetadataErrorKind::Unavailable`] when the database cannot be
/// reached and `Internal` on anything unexpected.
/// [`MetadataStore::provision_database`] and
/// [`MetadataStore::drop_database`] of a store that places every tenant in
/// its one database: nothing to do for a tenant without a dedicated
/// database, and an `InvalidState` error for one with.
///
/// # Errors
/// `InvalidState` when `tenant` has a dedicated database.
pub fn single_database_only(tenant: &Tenant) -> Result<(), MetadataError> {
    match &tenant.dedicated_database {
        None => Ok(()),
        Some(database) => Err(MetadataError::new(
            crate::MetadataErrorKind::InvalidState,
            format!(
                "tenant {} has the dedicated database {database}, and this store has no dedicated databases configured",
                tenant.slug
            ),
        )),
    }
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// # Errors
    /// `Conflict` when the slug (or id) is taken.
    async fn create_tenant(
        &self,
        tenant: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError>;

    /// All tenants, oldest first, keyset-paged (platform path).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError>;

    /// # Errors
    /// `NotFound`.
    async fn update_tenant(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError>;

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

    /// `pending` → `available`, moving its reservation into usage. On an
    /// `available` file it changes nothing and returns it (idempotent).
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
    /// record ([`Self::begin_erase`]).
    ///
    /// # Errors
    /// `NotFound`.
    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError>;

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

    /// Append to the audit log (append-only: nothing updates or deletes
    /// it) what is not a change: a download URL issued, content streamed.
    /// Changes are recorded by their own method's [`Journal`].
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn append_audit(&self, scope: &TenantScope, entry: NewAudit)
    -> Result<(), MetadataError>;

    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError>;

    /// A tenant setting (`None` when unset).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError>;

    /// Set (`Some`) or clear (`None`) a tenant setting.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// Every setting of the tenant as stored (reserved keys such as
    /// `webhook` included), in key order.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError>;

    /// A tenant feature flag (`None` when unset), expired or not.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError>;

    /// Every feature flag of the tenant, expired ones included, in key order.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError>;

    /// Set (`Some`, replacing the flag of the same key) or clear (`None`) a
    /// tenant feature flag, journalled in the same transaction. Like every
    /// change to a tenant's configuration it is announced to other
    /// instances (see [`crate::TenantChanges`]) when it commits.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        flag: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// Every tenant that has the setting `key`, with its slug and the
    /// value, by tenant id (the platform path: the event dispatcher's one
    /// query per round for the tenants' webhooks). PostgreSQL admits only
    /// the `webhook` key on that path (policy `platform_reads_webhooks`).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError>;

    /// The tenant's events, oldest first, created before `settled_before`
    /// (so that a poller never skips an event whose transaction commits
    /// after a later one's), keyset-paged by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError>;

    /// Claim the tenant's events due for delivery (not delivered, not dead,
    /// due by `claim.now`), oldest first, skipping those another
    /// dispatcher holds, and lease them (see [`EventClaim::lease`]).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError>;

    /// Record what became of delivering an event.
    ///
    /// # Errors
    /// `NotFound` for an unknown event.
    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError>;
    /// Mark a file (any status) as being erased permanently, at `at` unless
    /// an erase already began (idempotent). From then on the file is
    /// `NotFound` for every method but this one, [`Self::remove_file`] and
    /// [`Self::list_file_objects`]; it holds no name, and only removal ends
    /// it. Returns the file as it is.
    ///
    /// # Errors
    /// `NotFound`.
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

    /// Every tenant's usage and user count, oldest tenant first,
    /// keyset-paged (the platform path: the one read across tenants).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError>;

    /// Remove a cancelled tenant and every row of it (users, files, grants,
    /// usage, settings, its audit log and events), and append `record` to
    /// the platform audit log, in one transaction. Its objects must be
    /// deleted first.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless the tenant is cancelled.
    async fn purge_tenant(&self, id: TenantId, record: PlatformRecord)
    -> Result<(), MetadataError>;

    /// Claim the background job `job` for this process: `None` while
    /// another holder (in any process sharing the database, where the store
    /// can tell) has it. The claim lasts until the guard is dropped.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError>;

    /// Create the tenant (normally `provisioning`) and queue its
    /// onboarding, in one transaction.
    ///
    /// # Errors
    /// `Conflict` when the slug (or id) is taken.
    async fn create_onboarding(
        &self,
        tenant: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError>;

    /// A tenant's onboarding (platform path).
    ///
    /// # Errors
    /// `NotFound` for a tenant that was never onboarded as a job.
    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError>;

    /// Claim the oldest onboarding that is `queued`, or `running` with a
    /// lease that ended before `now` (its worker died), skipping rows
    /// another worker is claiming (`FOR UPDATE SKIP LOCKED`): it becomes
    /// `running`, leased until `now + lease`, one attempt more. `None`
    /// when nothing is due.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError>;

    /// Move an onboarding on (see [`OnboardingUpdate`]), with its record.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless it is in `update.expected`.
    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError>;

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

    /// Record a billing event by its id and apply its effect, in one
    /// transaction (platform path): when the id was recorded before, nothing
    /// is changed ([`BillingRecorded::Replay`]); otherwise the event is
    /// recorded, the effect's change made and its journal written, or none
    /// of them. Of concurrent calls with one id, exactly one records it.
    ///
    /// # Errors
    /// `NotFound` when the effect's tenant does not exist (nothing is
    /// recorded then).
    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError>;

    /// Make the tenant's dedicated database ready (metadata placement):
    /// created if missing, migrated, and holding the tenant's row. Nothing
    /// to do for a tenant without one. Idempotent.
    ///
    /// # Errors
    /// `InvalidState` when the store has no dedicated databases configured
    /// (the embedded store never has); `Unavailable` when the database
    /// server does not answer.
    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError>;

    /// Drop the tenant's dedicated database with everything in it (an
    /// onboarding's compensation; purge). Nothing to do for a tenant
    /// without one, or when it is gone already.
    ///
    /// # Errors
    /// As [`Self::provision_database`].
    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError>;

    /// Whether the database answers, for `/readyz`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn check_ready(&self) -> Result<(), MetadataError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(n: &u32) -> PageCursor {
        PageCursor {
            created_at: OffsetDateTime::UNIX_EPOCH,
            id: Uuid::from_u128(u128::from(*n)),
        }
    }

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

    #[test]
    fn audit_entries_page_by_time_and_id() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(7);
        let entry = AuditEntry {
            id: Uuid::from_u128(9),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            actor: Subject::new("alice").unwrap_or_else(|_| unreachable!()),
            action: "file.read".into(),
            file_id: None,
            detail: serde_json::Value::Null,
            request_id: None,
            client_addr: None,
            at,
        };
        let page = Page::from_overfetch(vec![entry.clone(), entry], 1, AuditEntry::page_cursor);
        let next = page.next_cursor.map(|c| PageCursor::decode(&c));
        assert_eq!(
            next,
            Some(Ok(PageCursor {
                created_at: at,
                id: Uuid::from_u128(9)
            }))
        );
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(20), 20);
        assert_eq!(page_size(5000), MAX_PAGE_SIZE);
        assert_eq!(fetch_size(0), 2);
        assert_eq!(fetch_size(u32::MAX), MAX_PAGE_SIZE + 1);
    }

    #[test]
    fn an_extra_row_means_another_page() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, cursor);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(cursor(&2).encode()));
    }

    #[test]
    fn no_extra_row_means_the_last_page() {
        let page = Page::from_overfetch(vec![1, 2], 2, cursor);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, None);
        let empty = Page::from_overfetch(Vec::<u32>::new(), 2, cursor);
        assert_eq!(empty.next_cursor, None);
    }

    struct Row(i64);

    impl TryFrom<Row> for u32 {
        type Error = String;

        fn try_from(row: Row) -> Result<Self, String> {
            u32::try_from(row.0).map_err(|_| format!("{} is not a count", row.0))
        }
    }

    #[test]
    fn rows_convert_before_paging() {
        let page = Page::<u32>::try_from_overfetch(vec![Row(1), Row(2), Row(3)], 2, cursor);
        assert_eq!(
            page,
            Ok(Page {
                items: vec![1, 2],
                next_cursor: Some(cursor(&2).encode()),
            })
        );
        let bad = Page::<u32>::try_from_overfetch(vec![Row(1), Row(-1)], 2, cursor);
        assert_eq!(bad, Err("-1 is not a count".to_owned()));
    }

    /// Pages of `items` (cursor seconds) as a store would serve them.
    fn served(items: &[u32], after: Option<u32>, limit: u32, descending: bool) -> Page<u32> {
        let mut all: Vec<u32> = items.to_vec();
        all.sort_unstable();
        if descending {
            all.reverse();
        }
        let rest: Vec<u32> = all
            .into_iter()
            .filter(|n| after.is_none_or(|a| if descending { *n < a } else { *n > a }))
            .take(fetch_size(limit) as usize)
            .collect();
        Page::from_overfetch(rest, limit, cursor)
    }

    #[test]
    fn merged_pages_list_both_sources_once_in_order() {
        for descending in [false, true] {
            let a = [1, 2, 3, 4, 9, 10, 11];
            let b = [5, 6, 7, 8, 12];
            let mut seen = Vec::new();
            let mut after: Option<u32> = None;
            for _ in 0..20 {
                let page = Page::merge(
                    served(&a, after, 3, descending),
                    served(&b, after, 3, descending),
                    3,
                    descending,
                    cursor,
                );
                assert!(page.items.len() <= 3);
                seen.extend(page.items.iter().copied());
                match page.next_cursor {
                    Some(next) => {
                        let c = PageCursor::decode(&next).unwrap_or_else(|_| unreachable!());
                        after = u32::try_from(c.id.as_u128()).ok();
                    }
                    None => break,
                }
            }
            let mut expected: Vec<u32> = a.iter().chain(&b).copied().collect();
            expected.sort_unstable();
            if descending {
                expected.reverse();
            }
            assert_eq!(seen, expected, "descending: {descending}");
        }
    }

    #[test]
    fn the_page_size_is_clamped_too() {
        let page = Page::from_overfetch(vec![1, 2], 0, cursor);
        assert_eq!(page.items, vec![1]);
        assert_eq!(page.next_cursor, Some(cursor(&1).encode()));
    }
}
