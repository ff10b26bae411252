//! Retention and legal holds of a tenant's files. Every statement names the
//! tenant.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, Retention};
use coffer_ports::{
    BindingRecord, HoldTarget, Journal, LegalHold, MetadataError, NewLegalHold, Records,
    TenantScope, page_size,
};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{FileRow, LegalHoldRow, id, ns, retention_from, uuid_of};
use crate::schema::{files, legal_holds};
use crate::store::SqliteMetadataStore;

/// The tenant's files a rule may bind: complete (not pending) and not being
/// erased.
macro_rules! complete_files {
    ($tenant:expr) => {
        files::table
            .filter(files::tenant_id.eq($tenant))
            .filter(files::status.ne(FileStatus::Pending.as_str()))
            .filter(files::erase_started_at.is_null())
    };
}

#[async_trait]
impl Records for SqliteMetadataStore {
    async fn set_retention(
        &self,
        scope: &TenantScope,
        file: FileId,
        retention: Option<Retention>,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let (tenant, file) = (id(scope.tenant_id().as_uuid()), id(file.as_uuid()));
        let mode = retention.map(|r| r.mode.as_str());
        let until = retention.map(|r| ns(r.retain_until)).transpose()?;
        let at = ns(at)?;
        let row = self
            .write(move |conn| {
                let row = diesel::update(complete_files!(&tenant).filter(files::id.eq(&file)))
                    .set((
                        files::retention_mode.eq(mode),
                        files::retain_until.eq(until),
                        files::updated_at.eq(at),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("file"))?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn place_holds(
        &self,
        scope: &TenantScope,
        hold: NewLegalHold,
        journal: Journal,
    ) -> Result<Vec<LegalHold>, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let tenant = id(scope.tenant_id().as_uuid());
        let placed_at = ns(hold.placed_at)?;
        let rows = self
            .write(move |conn| {
                let held: Vec<String> = match &hold.target {
                    HoldTarget::File(file) => {
                        let held = diesel::update(
                            complete_files!(&tenant).filter(files::id.eq(id(file.as_uuid()))),
                        )
                        .set(files::legal_hold.eq(true))
                        .returning(files::id)
                        .get_results(conn)?;
                        if held.is_empty() {
                            return Err(SqliteError::NotFound("file"));
                        }
                        held
                    }
                    HoldTarget::Folder(path) => {
                        let mut q = diesel::update(complete_files!(&tenant)).into_boxed();
                        if !path.is_root() {
                            // Below `p` are the paths in ["p/", "p0"), as in listings.
                            let p = path.as_str();
                            q = q.filter(
                                files::path.eq(p.to_owned()).or(files::path
                                    .ge(format!("{p}/"))
                                    .and(files::path.lt(format!("{p}0")))),
                            );
                        }
                        q.set(files::legal_hold.eq(true))
                            .returning(files::id)
                            .get_results(conn)?
                    }
                };
                let rows: Vec<LegalHoldRow> = held
                    .into_iter()
                    .map(|file_id| LegalHoldRow {
                        id: id(&Uuid::now_v7()),
                        tenant_id: tenant.clone(),
                        file_id,
                        reason: hold.reason.clone(),
                        placed_by: hold.placed_by.as_str().to_owned(),
                        placed_at,
                    })
                    .collect();
                for row in &rows {
                    diesel::insert_into(legal_holds::table)
                        .values(row)
                        .execute(conn)?;
                }
                journal.insert(conn)?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(LegalHold::try_from)
            .collect::<Result<_, SqliteError>>()?)
    }

    async fn release_hold(
        &self,
        scope: &TenantScope,
        hold: Uuid,
        journal: Journal,
    ) -> Result<(LegalHold, FileRecord), MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let (tenant, hold) = (id(scope.tenant_id().as_uuid()), id(&hold));
        let (hold, file) = self
            .write(move |conn| {
                let released = diesel::delete(
                    legal_holds::table
                        .filter(legal_holds::tenant_id.eq(&tenant))
                        .filter(legal_holds::id.eq(&hold)),
                )
                .returning(LegalHoldRow::as_returning())
                .get_result(conn)
                .optional()?
                .ok_or(SqliteError::NotFound("legal hold"))?;
                let file = refresh_hold(conn, &tenant, &released.file_id)?;
                journal.insert(conn)?;
                Ok((released, file))
            })
            .await?;
        Ok((hold.try_into()?, file.try_into()?))
    }

    async fn list_holds(
        &self,
        scope: &TenantScope,
        file: Option<FileId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<LegalHold>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let file = file.map(|f| id(f.as_uuid()));
        let after = after.map(|a| id(&a));
        let limit = i64::from(page_size(limit));
        let rows: Vec<LegalHoldRow> = self
            .read(move |conn| {
                let mut q = legal_holds::table
                    .select(LegalHoldRow::as_select())
                    .filter(legal_holds::tenant_id.eq(tenant))
                    // v7 ids, in their text form, run in placement order.
                    .order(legal_holds::id.asc())
                    .limit(limit)
                    .into_boxed();
                if let Some(file) = file {
                    q = q.filter(legal_holds::file_id.eq(file));
                }
                if let Some(after) = after {
                    q = q.filter(legal_holds::id.gt(after));
                }
                Ok(q.load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(LegalHold::try_from)
            .collect::<Result<_, SqliteError>>()?)
    }

    async fn binding_records(
        &self,
        scope: &TenantScope,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<BindingRecord>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let now = ns(now)?;
        let limit = i64::from(page_size(limit));
        let rows: Vec<(String, Option<String>, Option<i64>, bool)> = self
            .read(move |conn| {
                Ok(files::table
                    .filter(files::tenant_id.eq(tenant))
                    .filter(files::legal_hold.or(files::retain_until.gt(now)))
                    .select((
                        files::id,
                        files::retention_mode,
                        files::retain_until,
                        files::legal_hold,
                    ))
                    .order(files::id.asc())
                    .limit(limit)
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(file, mode, until, legal_hold)| {
                Ok(BindingRecord {
                    file_id: FileId::from_uuid(uuid_of(&file, "file id")?),
                    retention: retention_from(mode.as_deref(), until)?,
                    legal_hold,
                })
            })
            .collect::<Result<_, SqliteError>>()?)
    }
}

/// Set the file's `legal_hold` to whether any hold remains on it.
fn refresh_hold(
    conn: &mut SqliteConnection,
    tenant: &str,
    file: &str,
) -> Result<FileRow, SqliteError> {
    let remaining: i64 = legal_holds::table
        .filter(legal_holds::tenant_id.eq(tenant))
        .filter(legal_holds::file_id.eq(file))
        .count()
        .get_result(conn)?;
    Ok(diesel::update(
        files::table
            .filter(files::tenant_id.eq(tenant))
            .filter(files::id.eq(file)),
    )
    .set(files::legal_hold.eq(remaining > 0))
    .returning(FileRow::as_returning())
    .get_result(conn)?)
}
