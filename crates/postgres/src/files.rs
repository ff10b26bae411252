//! File lifecycle: reserve (pending), complete (available), change, trash,
//! restore, remove — each with its usage accounting in the same transaction
//! — and the reads of files and usage. A row whose erase began
//! (`erase_started_at`) is `NotFound` to all of them but removal: it is on
//! its way out (docs/integrity.md).

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, PlanLimits, ScanVerdict, Usage, UsageChange};
use coffer_ports::{
    FileCatalog, FilePatch, FileQuery, Journal, MetadataError, NewFile, ObjectFacts, Page,
    StoredFile, TenantScope,
};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

use crate::completions::Completion;
use crate::error::{PgError, db_kind, found};
use crate::file_read::file_and_grants;
use crate::journal::JournalRows;
use crate::listing::files_query;
use crate::reservations::Reservation;
use crate::rows::{FileRow, GrantRow, UsageRow, grants_from, status_of, to_i64};
use crate::schema::{file_versions, files, grants, usage_counters};
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

#[derive(Debug, AsChangeset)]
#[diesel(table_name = files)]
struct FileChanges {
    filename: Option<String>,
    path: Option<String>,
    visibility: Option<String>,
    metadata: Option<serde_json::Value>,
    updated_at: OffsetDateTime,
}

pub(crate) fn live_conflict(e: PgError, what: &str) -> PgError {
    if db_kind(&e) == Some(DatabaseErrorKind::UniqueViolation) {
        PgError::Conflict(format!("a live file already has {what}"))
    } else {
        e
    }
}

/// The state of a file that a conditional update did not match: why it did
/// not (unknown, or in the wrong state).
async fn explain_miss(
    conn: &mut AsyncPgConnection,
    id: FileId,
    expected: FileStatus,
) -> Result<PgError, PgError> {
    let status: Option<String> = files::table
        .find(id.as_uuid())
        .filter(files::erase_started_at.is_null())
        .select(files::status)
        .get_result(conn)
        .await
        .optional()?;
    Ok(match status {
        None => PgError::NotFound("file"),
        Some(status) => PgError::InvalidState(format!("the file is {status}, not {expected}")),
    })
}

/// Begins the tenant's unit of work on `conn` by locking the row of file
/// `id` (`NotFound` when missing or being erased) for the rest of the
/// transaction: what completing an upload or adding a version changes.
pub(crate) async fn lock_live_file(
    conn: &mut AsyncPgConnection,
    tenant: coffer_domain::TenantId,
    id: FileId,
) -> Result<FileRow, PgError> {
    scoped(
        conn,
        tenant,
        files::table
            .find(id.as_uuid())
            .filter(files::erase_started_at.is_null())
            .select(FileRow::as_select())
            .for_update()
            .get_result(&mut &*conn),
    )
    .await
    .optional()?
    .ok_or(PgError::NotFound("file"))
}

/// A scan verdict as its column holds it.
pub(crate) fn verdict_json(verdict: &ScanVerdict) -> Result<serde_json::Value, PgError> {
    serde_json::to_value(verdict).map_err(|e| PgError::CorruptRow(format!("scan verdict: {e}")))
}

/// Adds `change` to the tenant's counters.
pub(crate) async fn adjust_usage(
    conn: &mut AsyncPgConnection,
    scope: &TenantScope,
    change: UsageChange,
) -> Result<(), PgError> {
    use usage_counters::dsl as u;
    diesel::update(u::usage_counters.filter(u::tenant_id.eq(scope.tenant_id().as_uuid())))
        .set((
            u::used_bytes.eq(u::used_bytes + change.used_bytes),
            u::file_count.eq(u::file_count + change.file_count),
            u::reserved_bytes.eq(u::reserved_bytes + change.reserved_bytes),
            u::reserved_files.eq(u::reserved_files + change.reserved_files),
            u::updated_at.eq(OffsetDateTime::now_utc()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl FileCatalog for PgMetadataStore {
    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        let tenant = scope.tenant_id();
        let row = found(read_scoped!(self, Scope::Tenant(tenant), |c| {
            usage_counters::table
                .select(UsageRow::as_select())
                .filter(usage_counters::tenant_id.eq(tenant.as_uuid()))
                .get_result(&mut &*c)
        }))?;
        Ok(row.map_or(Ok(Usage::default()), Usage::try_from)?)
    }

    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let size = to_i64(file.size_bytes, "size_bytes")?;
        let row = FileRow {
            id: *file.id.as_uuid(),
            tenant_id: *tenant.as_uuid(),
            owner_id: *file.owner_id.as_uuid(),
            owner_subject: file.owner.as_str().to_owned(),
            category: file.category.as_str().to_owned(),
            path: file.path.as_str().to_owned(),
            filename: file.filename.as_str().to_owned(),
            content_type: file.content_type.as_str().to_owned(),
            size_bytes: size,
            checksum_sha256: file.checksum_sha256.map(|d| d.as_bytes().to_vec()),
            visibility: file.visibility.as_str().to_owned(),
            metadata: file.metadata.clone().into(),
            status: FileStatus::Pending.as_str().to_owned(),
            bucket: file.bucket.as_str().to_owned(),
            object_key: file.key.as_str().to_owned(),
            multipart_upload_id: None,
            upload_expires_at: Some(file.upload_expires_at),
            created_at: file.created_at,
            updated_at: file.created_at,
            deleted_at: None,
            scan_verdict: None,
            // Both are set once the upload completes.
            retention_mode: None,
            retain_until: None,
            legal_hold: false,
            version: 1,
            version_of: file.version_of.map(|id| *id.as_uuid()),
        };
        let reservation = Reservation {
            row,
            size: file.size_bytes,
            limits: limits.clone(),
            journal: JournalRows::new(tenant, journal),
        };
        Ok(self.reserve(tenant, reservation).await?.try_into()?)
    }

    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        let tenant = scope.tenant_id();
        // The hot path: one round trip, outside a transaction block.
        let (file, grant_rows) = if self.in_schema.is_none() {
            file_and_grants(self, tenant, id).await?
        } else {
            read_scoped!(self, Scope::Tenant(tenant), |c| futures::future::try_join(
                files::table
                    .find(id.as_uuid())
                    .filter(files::erase_started_at.is_null())
                    .select(FileRow::as_select())
                    .get_result(&mut &*c),
                grants::table
                    .filter(grants::file_id.eq(id.as_uuid()))
                    .select(GrantRow::as_select())
                    .order((grants::created_at.asc(), grants::id.asc()))
                    .load(&mut &*c),
            ))
            .map_err(|e| match e {
                PgError::Diesel(diesel::result::Error::NotFound) => PgError::NotFound("file"),
                e => e,
            })?
        };
        Ok(StoredFile {
            file: file.try_into()?,
            grants: grants_from(grant_rows)?,
        })
    }

    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        let tenant = scope.tenant_id();
        let rows: Vec<FileRow> =
            read_scoped!(self, Scope::Tenant(tenant), |c| files_query(tenant, query)
                .load(&mut &*c))?;
        Ok(Page::try_from_overfetch(
            rows,
            query.limit,
            FileRecord::page_cursor,
        )?)
    }

    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let row = transaction!(self, |conn| {
            let updated = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::erase_started_at.is_null())
                        .filter(files::status.eq(FileStatus::Pending.as_str())),
                )
                .set(files::multipart_upload_id.eq(upload_id))
                .returning(FileRow::as_returning())
                .get_result(&mut &*conn),
            )
            .await
            .optional()?;
            match updated {
                Some(row) => Ok(row),
                None => Err(explain_miss(conn, id, FileStatus::Pending).await?),
            }
        })?;
        Ok(row.try_into()?)
    }

    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let completion = Completion {
            id,
            facts,
            journal: JournalRows::new(tenant, journal),
        };
        Ok(self.complete(tenant, completion).await?.try_into()?)
    }

    async fn record_scan(
        &self,
        scope: &TenantScope,
        id: FileId,
        verdict: ScanVerdict,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let status = if verdict.is_clean() {
            FileStatus::Available
        } else {
            FileStatus::Quarantined
        };
        let verdict = &verdict_json(&verdict)?;
        let row = transaction!(self, |conn| {
            let updated = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::erase_started_at.is_null())
                        .filter(files::status.eq(FileStatus::Scanning.as_str())),
                )
                .set((
                    files::status.eq(status.as_str()),
                    files::scan_verdict.eq(Some(verdict)),
                    files::updated_at.eq(at),
                ))
                .returning(FileRow::as_returning())
                .get_result(&mut &*conn),
            )
            .await
            .optional()?;
            match updated {
                Some(row) => {
                    journal.insert(conn).await?;
                    Ok(row)
                }
                None => Err(explain_miss(conn, id, FileStatus::Scanning).await?),
            }
        })?;
        Ok(row.try_into()?)
    }

    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let changes = FileChanges {
            filename: patch.filename.map(String::from),
            path: patch.path.map(String::from),
            visibility: patch.visibility.map(|v| v.as_str().to_owned()),
            metadata: patch.metadata.map(serde_json::Value::from),
            updated_at: at,
        };
        let changes = &changes;
        let row = transaction!(self, |conn| {
            let row = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::erase_started_at.is_null()),
                )
                .set(changes)
                .returning(FileRow::as_returning())
                .get_result(&mut &*conn),
            )
            .await
            .optional()
            .map_err(|e| live_conflict(e.into(), "this path and filename"))?
            .ok_or(PgError::NotFound("file"))?;
            journal.insert(conn).await?;
            Ok(row)
        })?;
        Ok(row.try_into()?)
    }

    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self
            .transition(
                scope,
                id,
                FileStatus::Available,
                FileStatus::Deleted,
                at,
                journal,
            )
            .await?)
    }

    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self
            .transition(
                scope,
                id,
                FileStatus::Deleted,
                FileStatus::Available,
                at,
                journal,
            )
            .await?)
    }

    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &journal.map(|j| JournalRows::new(tenant, j));
        let row = transaction!(self, |conn| {
            // Every version counted in the usage goes with the file.
            let versions: Vec<(i32, i64)> = scoped(
                conn,
                tenant,
                file_versions::table
                    .filter(file_versions::file_id.eq(id.as_uuid()))
                    .select((file_versions::version, file_versions::size_bytes))
                    .load(&mut &*conn),
            )
            .await?;
            // So do uploads of new versions not folded in yet, with their
            // reservations; what they stored is left to the reconciler.
            let uploads: Vec<(String, i64)> =
                diesel::delete(files::table.filter(files::version_of.eq(id.as_uuid())))
                    .returning((files::status, files::size_bytes))
                    .get_results(conn)
                    .await?;
            let removed = diesel::delete(files::table.find(id.as_uuid()))
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(PgError::NotFound("file"))?;
            let mut change = UsageChange::release(status_of(&removed.status)?, removed.size_bytes);
            for (status, size) in uploads {
                change += UsageChange::release(status_of(&status)?, size);
            }
            change.used_bytes -= versions
                .iter()
                .filter(|(version, _)| *version != removed.version)
                .map(|(_, size)| size)
                .sum::<i64>();
            adjust_usage(conn, scope, change).await?;
            if let Some(journal) = journal {
                journal.insert(conn).await?;
            }
            Ok(removed)
        })?;
        Ok(row.try_into()?)
    }
}

impl PgMetadataStore {
    /// `from` → `to` (trash or restore), `InvalidState` from anything else.
    async fn transition(
        &self,
        scope: &TenantScope,
        id: FileId,
        from: FileStatus,
        to: FileStatus,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, PgError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let deleted_at = (to == FileStatus::Deleted).then_some(at);
        let row = transaction!(self, |conn| {
            let updated = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::erase_started_at.is_null())
                        .filter(files::status.eq(from.as_str())),
                )
                .set((
                    files::status.eq(to.as_str()),
                    files::deleted_at.eq(deleted_at),
                    files::updated_at.eq(at),
                ))
                .returning(FileRow::as_returning())
                .get_result(&mut &*conn),
            )
            .await
            .optional()
            .map_err(|e| live_conflict(e.into(), "this file's path and filename"))?;
            match updated {
                Some(row) => {
                    journal.insert(conn).await?;
                    Ok(row)
                }
                None => Err(explain_miss(conn, id, from).await?),
            }
        })?;
        row.try_into()
    }
}
