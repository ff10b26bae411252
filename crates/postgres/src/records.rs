//! Retention and legal holds of a tenant's files.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, Retention};
use coffer_ports::{
    BindingRecord, HoldTarget, Journal, LegalHold, MetadataError, NewLegalHold, Records,
    TenantScope, page_size,
};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::listing::like_escape;
use crate::rows::{FileRow, LegalHoldRow, retention_from};
use crate::schema::{files, legal_holds};
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

/// Files a rule may bind: complete (not pending) and not being erased.
macro_rules! complete_files {
    () => {
        files::table
            .filter(files::status.ne(FileStatus::Pending.as_str()))
            .filter(files::erase_started_at.is_null())
    };
}

#[async_trait]
impl Records for PgMetadataStore {
    async fn set_retention(
        &self,
        scope: &TenantScope,
        id: FileId,
        retention: Option<Retention>,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let row = transaction!(self, |conn| {
            let row = scoped(
                conn,
                tenant,
                diesel::update(complete_files!().find(id.as_uuid()))
                    .set((
                        files::retention_mode.eq(retention.map(|r| r.mode.as_str())),
                        files::retain_until.eq(retention.map(|r| r.retain_until)),
                        files::updated_at.eq(at),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(&mut &*conn),
            )
            .await
            .optional()?
            .ok_or(PgError::NotFound("file"))?;
            journal.insert(conn).await?;
            Ok(row)
        })?;
        Ok(row.try_into()?)
    }

    async fn place_holds(
        &self,
        scope: &TenantScope,
        hold: NewLegalHold,
        journal: Journal,
    ) -> Result<Vec<LegalHold>, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let hold = &hold;
        let rows = transaction!(self, |conn| {
            // Locked: an erase that has not begun cannot begin until the
            // holds are in (begin_erase reads `legal_hold` under this lock).
            let held: Vec<uuid::Uuid> = match &hold.target {
                HoldTarget::File(id) => {
                    let held = scoped(
                        conn,
                        tenant,
                        diesel::update(complete_files!().find(id.as_uuid()))
                            .set(files::legal_hold.eq(true))
                            .returning(files::id)
                            .get_results(&mut &*conn),
                    )
                    .await?;
                    if held.is_empty() {
                        return Err(PgError::NotFound("file"));
                    }
                    held
                }
                HoldTarget::Folder(path) => {
                    let mut q = diesel::update(complete_files!()).into_boxed();
                    if !path.is_root() {
                        q = q.filter(
                            files::path
                                .eq(path.as_str().to_owned())
                                .or(files::path.like(format!("{}/%", like_escape(path.as_str())))),
                        );
                    }
                    scoped(
                        conn,
                        tenant,
                        q.set(files::legal_hold.eq(true))
                            .returning(files::id)
                            .get_results(&mut &*conn),
                    )
                    .await?
                }
            };
            let rows: Vec<LegalHoldRow> = held
                .into_iter()
                .map(|file_id| LegalHoldRow {
                    id: Uuid::now_v7(),
                    tenant_id: *tenant.as_uuid(),
                    file_id,
                    reason: hold.reason.clone(),
                    placed_by: hold.placed_by.as_str().to_owned(),
                    placed_at: hold.placed_at,
                })
                .collect();
            if !rows.is_empty() {
                diesel::insert_into(legal_holds::table)
                    .values(&rows)
                    .execute(conn)
                    .await?;
            }
            journal.insert(conn).await?;
            Ok(rows)
        })?;
        Ok(rows
            .into_iter()
            .map(LegalHold::try_from)
            .collect::<Result<_, PgError>>()?)
    }

    async fn release_hold(
        &self,
        scope: &TenantScope,
        hold: Uuid,
        journal: Journal,
    ) -> Result<(LegalHold, FileRecord), MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let (hold, file) = transaction!(self, |conn| {
            let released = scoped(
                conn,
                tenant,
                diesel::delete(legal_holds::table.find(hold))
                    .returning(LegalHoldRow::as_returning())
                    .get_result(&mut &*conn),
            )
            .await
            .optional()?
            .ok_or(PgError::NotFound("legal hold"))?;
            let file = refresh_hold(conn, released.file_id).await?;
            journal.insert(conn).await?;
            Ok((released, file))
        })?;
        Ok((hold.try_into()?, file.try_into()?))
    }

    async fn list_holds(
        &self,
        scope: &TenantScope,
        file: Option<FileId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<LegalHold>, MetadataError> {
        let tenant = scope.tenant_id();
        let mut q = legal_holds::table
            .select(LegalHoldRow::as_select())
            .filter(legal_holds::tenant_id.eq(*tenant.as_uuid()))
            // v7 ids run in placement order.
            .order(legal_holds::id.asc())
            .limit(i64::from(page_size(limit)))
            .into_boxed();
        if let Some(file) = file {
            q = q.filter(legal_holds::file_id.eq(*file.as_uuid()));
        }
        if let Some(after) = after {
            q = q.filter(legal_holds::id.gt(after));
        }
        let rows: Vec<LegalHoldRow> =
            read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(LegalHold::try_from)
            .collect::<Result<_, PgError>>()?)
    }

    async fn binding_records(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BindingRecord>, MetadataError> {
        let tenant = scope.tenant_id();
        let q = files::table
            .filter(files::tenant_id.eq(*tenant.as_uuid()))
            .filter(files::legal_hold.or(files::retain_until.gt(now)))
            .select((
                files::id,
                files::retention_mode,
                files::retain_until,
                files::legal_hold,
            ))
            .order(files::id.asc())
            .limit(i64::from(page_size(limit)));
        let rows: Vec<(Uuid, Option<String>, Option<OffsetDateTime>, bool)> =
            read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(|(id, mode, until, legal_hold)| {
                Ok(BindingRecord {
                    file_id: FileId::from_uuid(id),
                    retention: retention_from(mode.as_deref(), until)?,
                    legal_hold,
                })
            })
            .collect::<Result<_, PgError>>()?)
    }
}

/// Set the file's `legal_hold` to whether any hold remains on it.
async fn refresh_hold(conn: &mut AsyncPgConnection, file: Uuid) -> Result<FileRow, PgError> {
    let held = legal_holds::table.filter(legal_holds::file_id.eq(file));
    Ok(diesel::update(files::table.find(file))
        .set(files::legal_hold.eq(diesel::dsl::exists(held)))
        .returning(FileRow::as_returning())
        .get_result(conn)
        .await?)
}
