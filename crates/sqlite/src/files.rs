//! The file catalog: usage, reads, and the file lifecycle — reserve
//! (pending), complete (available), change, trash, restore, remove — each
//! with its usage accounting in the same transaction. A listing's query is
//! built in `listing.rs`. Every statement names the tenant: SQLite has no
//! row-level security to fall back on.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, PlanLimits, ScanVerdict, Usage, UsageChange};
use coffer_ports::{
    FileCatalog, FilePatch, FileQuery, Journal, MetadataError, NewFile, ObjectFacts, Page,
    StoredFile, TenantScope,
};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sqlite::SqliteConnection;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::listing::files_query;
use crate::rows::{
    FileRow, FileVersionRow, GrantRow, UsageRow, grants_from, id, ns, status_of, to_i64,
};
use crate::schema::{file_versions, files, grants, usage_counters};
use crate::store::SqliteMetadataStore;

#[derive(Debug, AsChangeset)]
#[diesel(table_name = files)]
struct FileChanges {
    filename: Option<String>,
    path: Option<String>,
    visibility: Option<String>,
    metadata: Option<String>,
    updated_at: i64,
}

fn live_conflict(e: SqliteError, what: &str) -> SqliteError {
    if e.db_kind() == Some(DatabaseErrorKind::UniqueViolation) {
        SqliteError::Conflict(format!("a live file already has {what}"))
    } else {
        e
    }
}

/// One file of one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) tenant: String,
    pub(crate) file: String,
}

impl Target {
    pub(crate) fn new(scope: &TenantScope, file: FileId) -> Self {
        Self {
            tenant: id(scope.tenant_id().as_uuid()),
            file: id(file.as_uuid()),
        }
    }

    /// The file, unless its erase began: such a row is on its way out and
    /// `NotFound` to everything but removal (docs/integrity.md).
    fn current(&self, conn: &mut SqliteConnection) -> Result<Option<FileRow>, SqliteError> {
        Ok(files::table
            .filter(files::tenant_id.eq(&self.tenant))
            .filter(files::id.eq(&self.file))
            .filter(files::erase_started_at.is_null())
            .select(FileRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// The file, or `NotFound` (also for a file of another tenant).
    pub(crate) fn load(&self, conn: &mut SqliteConnection) -> Result<FileRow, SqliteError> {
        self.current(conn)?.ok_or(SqliteError::NotFound("file"))
    }

    fn expect_status(
        &self,
        conn: &mut SqliteConnection,
        expected: FileStatus,
    ) -> Result<FileRow, SqliteError> {
        let row = self.load(conn)?;
        if row.status == expected.as_str() {
            Ok(row)
        } else {
            Err(SqliteError::InvalidState(format!(
                "the file is {}, not {expected}",
                row.status
            )))
        }
    }
}

/// Adds `change` to the tenant's counters.
/// A scan verdict as its column holds it.
pub(crate) fn verdict_text(verdict: &ScanVerdict) -> Result<String, SqliteError> {
    serde_json::to_string(verdict)
        .map_err(|e| SqliteError::CorruptRow(format!("scan verdict: {e}")))
}

pub(crate) fn adjust_usage(
    conn: &mut SqliteConnection,
    tenant: &str,
    change: UsageChange,
) -> Result<(), SqliteError> {
    use usage_counters::dsl as u;
    diesel::update(u::usage_counters.filter(u::tenant_id.eq(tenant)))
        .set((
            u::used_bytes.eq(u::used_bytes + change.used_bytes),
            u::file_count.eq(u::file_count + change.file_count),
            u::reserved_bytes.eq(u::reserved_bytes + change.reserved_bytes),
            u::reserved_files.eq(u::reserved_files + change.reserved_files),
            u::updated_at.eq(ns(OffsetDateTime::now_utc())?),
        ))
        .execute(conn)?;
    Ok(())
}

impl SqliteMetadataStore {
    /// `from` → `to` (trash or restore), `InvalidState` from anything else.
    async fn transition(
        &self,
        scope: &TenantScope,
        file: FileId,
        from: FileStatus,
        to: FileStatus,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, SqliteError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let target = Target::new(scope, file);
        let at = ns(at)?;
        let deleted_at = (to == FileStatus::Deleted).then_some(at);
        let row = self
            .write(move |conn| {
                target.expect_status(conn, from)?;
                let row = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .set((
                        files::status.eq(to.as_str()),
                        files::deleted_at.eq(deleted_at),
                        files::updated_at.eq(at),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(conn)
                    .map_err(|e| live_conflict(e.into(), "this file's path and filename"))?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        row.try_into()
    }
}

#[async_trait]
impl FileCatalog for SqliteMetadataStore {
    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let row = self
            .read(move |conn| {
                Ok(usage_counters::table
                    .select(UsageRow::as_select())
                    .filter(usage_counters::tenant_id.eq(tenant))
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map_or(Ok(Usage::default()), Usage::try_from)?)
    }

    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let tenant = id(scope.tenant_id().as_uuid());
        let size = to_i64(file.size_bytes, "size_bytes")?;
        let row = FileRow {
            id: id(file.id.as_uuid()),
            tenant_id: tenant.clone(),
            owner_id: id(file.owner_id.as_uuid()),
            owner_subject: file.owner.as_str().to_owned(),
            category: file.category.as_str().to_owned(),
            path: file.path.as_str().to_owned(),
            filename: file.filename.as_str().to_owned(),
            content_type: file.content_type.as_str().to_owned(),
            size_bytes: size,
            checksum_sha256: file.checksum_sha256.map(|d| d.as_bytes().to_vec()),
            visibility: file.visibility.as_str().to_owned(),
            metadata: serde_json::Value::from(file.metadata.clone()).to_string(),
            status: FileStatus::Pending.as_str().to_owned(),
            bucket: file.bucket.as_str().to_owned(),
            object_key: file.key.as_str().to_owned(),
            multipart_upload_id: None,
            upload_expires_at: Some(ns(file.upload_expires_at)?),
            created_at: ns(file.created_at)?,
            updated_at: ns(file.created_at)?,
            deleted_at: None,
            scan_verdict: None,
            // Both are set once the upload completes.
            retention_mode: None,
            retain_until: None,
            legal_hold: false,
            version: 1,
            version_of: file.version_of.map(|v| id(v.as_uuid())),
        };
        let limits = limits.clone();
        // BEGIN IMMEDIATE holds the write lock from the usage read to the
        // commit: concurrent reservations queue, each seeing the ones before.
        let inserted = self
            .write(move |conn| {
                let usage = usage_counters::table
                    .filter(usage_counters::tenant_id.eq(&tenant))
                    .select(UsageRow::as_select())
                    .get_result(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("tenant"))?;
                Usage::try_from(usage)?.admits(&limits, file.size_bytes)?;
                let inserted = diesel::insert_into(files::table)
                    .values(&row)
                    .returning(FileRow::as_returning())
                    .get_result(conn)
                    .map_err(|e| live_conflict(e.into(), "this path and filename"))?;
                adjust_usage(conn, &tenant, UsageChange::reserve(size))?;
                journal.insert(conn)?;
                Ok(inserted)
            })
            .await?;
        Ok(inserted.try_into()?)
    }

    async fn get_file(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<StoredFile, MetadataError> {
        let target = Target::new(scope, file);
        let (row, grant_rows) = self
            .read(move |conn| {
                let row = target.load(conn)?;
                let grant_rows = grants::table
                    .filter(grants::tenant_id.eq(&target.tenant))
                    .filter(grants::file_id.eq(&target.file))
                    .select(GrantRow::as_select())
                    .order((grants::created_at.asc(), grants::id.asc()))
                    .load(conn)?;
                Ok((row, grant_rows))
            })
            .await?;
        Ok(StoredFile {
            file: row.try_into()?,
            grants: grants_from(grant_rows)?,
        })
    }

    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        let q = files_query(&id(scope.tenant_id().as_uuid()), query)?;
        let rows: Vec<FileRow> = self.read(move |conn| Ok(q.load(conn)?)).await?;
        Ok(Page::try_from_overfetch(
            rows,
            query.limit,
            FileRecord::page_cursor,
        )?)
    }

    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        file: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        let target = Target::new(scope, file);
        let upload_id = upload_id.to_owned();
        let row = self
            .write(move |conn| {
                target.expect_status(conn, FileStatus::Pending)?;
                Ok(diesel::update(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .set(files::multipart_upload_id.eq(upload_id))
                    .returning(FileRow::as_returning())
                    .get_result(conn)?)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn mark_available(
        &self,
        scope: &TenantScope,
        file: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let target = Target::new(scope, file);
        let size = to_i64(facts.size_bytes, "size_bytes")?;
        let at = ns(facts.at)?;
        let retention_mode = facts.retention.map(|r| r.mode.as_str());
        let retain_until = facts.retention.map(|r| ns(r.retain_until)).transpose()?;
        let row = self
            .write(move |conn| {
                let current = target.load(conn)?;
                let pending = status_of(&current.status)?
                    .needs_completion()
                    .map_err(|e| SqliteError::InvalidState(e.to_string()))?;
                if !pending {
                    return Ok(current);
                }
                let checksum = facts
                    .checksum_sha256
                    .map(|d| d.as_bytes().to_vec())
                    .or(current.checksum_sha256.clone());
                let status = if facts.awaits_scan {
                    FileStatus::Scanning
                } else {
                    FileStatus::Available
                };
                let updated = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .set((
                        files::status.eq(status.as_str()),
                        files::object_key.eq(facts.key.as_str()),
                        files::size_bytes.eq(size),
                        files::checksum_sha256.eq(checksum),
                        files::content_type.eq(facts.content_type.as_str()),
                        files::multipart_upload_id.eq(None::<String>),
                        files::upload_expires_at.eq(None::<i64>),
                        files::updated_at.eq(at),
                        files::retention_mode.eq(retention_mode),
                        files::retain_until.eq(retain_until),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(conn)?;
                diesel::insert_into(file_versions::table)
                    .values(FileVersionRow::current_of(
                        &updated,
                        &updated.owner_subject,
                        at,
                        None,
                    ))
                    .execute(conn)?;
                adjust_usage(
                    conn,
                    &target.tenant,
                    UsageChange::complete(current.size_bytes, size),
                )?;
                journal.insert(conn)?;
                Ok(updated)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn record_scan(
        &self,
        scope: &TenantScope,
        file: FileId,
        verdict: ScanVerdict,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let target = Target::new(scope, file);
        let at = ns(at)?;
        let status = if verdict.is_clean() {
            FileStatus::Available
        } else {
            FileStatus::Quarantined
        };
        let verdict = verdict_text(&verdict)?;
        let row = self
            .write(move |conn| {
                target.expect_status(conn, FileStatus::Scanning)?;
                let row = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .set((
                        files::status.eq(status.as_str()),
                        files::scan_verdict.eq(Some(verdict)),
                        files::updated_at.eq(at),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(conn)?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn update_file(
        &self,
        scope: &TenantScope,
        file: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let target = Target::new(scope, file);
        let changes = FileChanges {
            filename: patch.filename.map(String::from),
            path: patch.path.map(String::from),
            visibility: patch.visibility.map(|v| v.as_str().to_owned()),
            metadata: patch
                .metadata
                .map(|m| serde_json::Value::from(m).to_string()),
            updated_at: ns(at)?,
        };
        let row = self
            .write(move |conn| {
                let row = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .filter(files::erase_started_at.is_null())
                    .set(&changes)
                    .returning(FileRow::as_returning())
                    .get_result(conn)
                    .optional()
                    .map_err(|e| live_conflict(e.into(), "this path and filename"))?
                    .ok_or(SqliteError::NotFound("file"))?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn trash_file(
        &self,
        scope: &TenantScope,
        file: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let (from, to) = (FileStatus::Available, FileStatus::Deleted);
        Ok(self.transition(scope, file, from, to, at, journal).await?)
    }

    async fn restore_file(
        &self,
        scope: &TenantScope,
        file: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let (from, to) = (FileStatus::Deleted, FileStatus::Available);
        Ok(self.transition(scope, file, from, to, at, journal).await?)
    }

    async fn remove_file(
        &self,
        scope: &TenantScope,
        file: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        let target = Target::new(scope, file);
        let journal = journal
            .map(|j| JournalRows::new(scope.tenant_id(), j))
            .transpose()?;
        let row = self
            .write(move |conn| {
                // Every version counted in the usage goes with the file.
                let versions: Vec<(i32, i64)> = file_versions::table
                    .filter(file_versions::tenant_id.eq(&target.tenant))
                    .filter(file_versions::file_id.eq(&target.file))
                    .select((file_versions::version, file_versions::size_bytes))
                    .load(conn)?;
                // So do uploads of new versions not folded in yet, with
                // their reservations; what they stored is left to the
                // reconciler.
                let uploads: Vec<(String, i64)> = diesel::delete(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::version_of.eq(&target.file))
                    .returning((files::status, files::size_bytes))
                    .get_results(conn)?;
                let removed = diesel::delete(files::table)
                    .filter(files::tenant_id.eq(&target.tenant))
                    .filter(files::id.eq(&target.file))
                    .returning(FileRow::as_returning())
                    .get_result(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("file"))?;
                let mut change =
                    UsageChange::release(status_of(&removed.status)?, removed.size_bytes);
                change.used_bytes -= versions
                    .iter()
                    .filter(|(version, _)| *version != removed.version)
                    .map(|(_, size)| size)
                    .sum::<i64>();
                for (status, size) in uploads {
                    change += UsageChange::release(status_of(&status)?, size);
                }
                adjust_usage(conn, &target.tenant, change)?;
                if let Some(journal) = &journal {
                    journal.insert(conn)?;
                }
                Ok(removed)
            })
            .await?;
        Ok(row.try_into()?)
    }
}
