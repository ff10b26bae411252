//! The scan queue. SQLite has one writer: a claim is a select and updates
//! inside one `BEGIN IMMEDIATE` transaction, which no other claim can
//! interleave with.

use async_trait::async_trait;
use coffer_domain::{FileId, TenantId};
use coffer_ports::{MetadataError, ScanJob, ScanQueue};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::rows::{id, ns, time_of, uuid_of};
use crate::schema::scan_jobs;
use crate::store::SqliteMetadataStore;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scan_jobs, check_for_backend(diesel::sqlite::Sqlite))]
struct ScanJobRow {
    tenant_id: String,
    file_id: String,
    attempts: i32,
    queued_at: i64,
}

impl TryFrom<ScanJobRow> for ScanJob {
    type Error = SqliteError;

    fn try_from(row: ScanJobRow) -> Result<Self, SqliteError> {
        Ok(Self {
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "scan tenant")?),
            file_id: FileId::from_uuid(uuid_of(&row.file_id, "scan file")?),
            attempts: u32::try_from(row.attempts).unwrap_or_default(),
            queued_at: time_of(row.queued_at)?,
        })
    }
}

#[async_trait]
impl ScanQueue for SqliteMetadataStore {
    async fn queue_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        at: OffsetDateTime,
    ) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        let (tenant, file, at) = (id(tenant.as_uuid()), id(file.as_uuid()), ns(at)?);
        self.write(move |conn| {
            diesel::insert_into(s::scan_jobs)
                .values((
                    s::tenant_id.eq(tenant),
                    s::file_id.eq(file),
                    s::not_before.eq(at),
                    s::queued_at.eq(at),
                ))
                .on_conflict((s::tenant_id, s::file_id))
                .do_nothing()
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn claim_scans(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<ScanJob>, MetadataError> {
        use scan_jobs::dsl as s;
        let (now, until) = (ns(now)?, ns(now + lease)?);
        let rows = self
            .write(move |conn| {
                let due: Vec<(String, String)> = s::scan_jobs
                    .filter(s::not_before.le(now))
                    .filter(s::lease_until.is_null().or(s::lease_until.lt(now)))
                    .order((s::not_before.asc(), s::queued_at.asc()))
                    .select((s::tenant_id, s::file_id))
                    .limit(i64::from(limit))
                    .load(conn)?;
                let mut claimed = Vec::with_capacity(due.len());
                for key in due {
                    claimed.push(
                        diesel::update(s::scan_jobs.find(key))
                            .set((
                                s::attempts.eq(s::attempts + 1),
                                s::lease_until.eq(Some(until)),
                            ))
                            .returning(ScanJobRow::as_returning())
                            .get_result(conn)?,
                    );
                }
                Ok(claimed)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(ScanJob::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn retry_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        not_before: OffsetDateTime,
        error: &str,
    ) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        let key = (id(tenant.as_uuid()), id(file.as_uuid()));
        let (not_before, error) = (ns(not_before)?, error.to_owned());
        let updated = self
            .write(move |conn| {
                Ok(diesel::update(s::scan_jobs.find(key))
                    .set((
                        s::not_before.eq(not_before),
                        s::lease_until.eq(None::<i64>),
                        s::last_error.eq(Some(error)),
                    ))
                    .execute(conn)?)
            })
            .await?;
        if updated == 0 {
            return Err(SqliteError::NotFound("scan").into());
        }
        Ok(())
    }

    async fn finish_scan(&self, tenant: TenantId, file: FileId) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        let key = (id(tenant.as_uuid()), id(file.as_uuid()));
        self.write(move |conn| {
            diesel::delete(s::scan_jobs.find(key)).execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn queued_scans(&self) -> Result<u64, MetadataError> {
        use scan_jobs::dsl as s;
        let queued: i64 = self
            .read(|conn| Ok(s::scan_jobs.count().get_result(conn)?))
            .await?;
        Ok(u64::try_from(queued).unwrap_or_default())
    }
}
