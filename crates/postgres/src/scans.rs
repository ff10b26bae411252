//! The scan queue (platform path): one row per file waiting for its malware
//! scan, claimed with `FOR UPDATE SKIP LOCKED` and a lease, so that several
//! instances never scan one file at once and a dead worker's scans resume.

use async_trait::async_trait;
use coffer_domain::{FileId, TenantId};
use coffer_ports::{MetadataError, ScanJob, ScanQueue};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::schema::scan_jobs;
use crate::store::{PgMetadataStore, platform, transaction};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scan_jobs, check_for_backend(diesel::pg::Pg))]
struct ScanJobRow {
    tenant_id: Uuid,
    file_id: Uuid,
    attempts: i32,
    queued_at: OffsetDateTime,
}

impl From<ScanJobRow> for ScanJob {
    fn from(row: ScanJobRow) -> Self {
        Self {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            file_id: FileId::from_uuid(row.file_id),
            attempts: u32::try_from(row.attempts).unwrap_or_default(),
            queued_at: row.queued_at,
        }
    }
}

#[async_trait]
impl ScanQueue for PgMetadataStore {
    async fn queue_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        at: OffsetDateTime,
    ) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        transaction!(self, |conn| {
            platform(
                conn,
                diesel::insert_into(s::scan_jobs)
                    .values((
                        s::tenant_id.eq(tenant.as_uuid()),
                        s::file_id.eq(file.as_uuid()),
                        s::not_before.eq(at),
                        s::queued_at.eq(at),
                    ))
                    .on_conflict((s::tenant_id, s::file_id))
                    .do_nothing()
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(())
        })?;
        Ok(())
    }

    async fn claim_scans(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<ScanJob>, MetadataError> {
        use scan_jobs::dsl as s;
        let rows = transaction!(self, |conn| {
            let due: Vec<(Uuid, Uuid)> = platform(
                conn,
                s::scan_jobs
                    .filter(s::not_before.le(now))
                    .filter(s::lease_until.is_null().or(s::lease_until.lt(now)))
                    .order((s::not_before.asc(), s::queued_at.asc()))
                    .select((s::tenant_id, s::file_id))
                    .limit(i64::from(limit))
                    .for_update()
                    .skip_locked()
                    .load(&mut &*conn),
            )
            .await?;
            let mut claimed = Vec::with_capacity(due.len());
            for key in due {
                let row = diesel::update(s::scan_jobs.find(key))
                    .set((
                        s::attempts.eq(s::attempts + 1),
                        s::lease_until.eq(Some(now + lease)),
                    ))
                    .returning(ScanJobRow::as_returning())
                    .get_result(&mut &*conn)
                    .await?;
                claimed.push(row);
            }
            Ok::<_, PgError>(claimed)
        })?;
        Ok(rows.into_iter().map(ScanJob::from).collect())
    }

    async fn retry_scan(
        &self,
        tenant: TenantId,
        file: FileId,
        not_before: OffsetDateTime,
        error: &str,
    ) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        let updated = transaction!(self, |conn| {
            let n = platform(
                conn,
                diesel::update(s::scan_jobs.find((tenant.as_uuid(), file.as_uuid())))
                    .set((
                        s::not_before.eq(not_before),
                        s::lease_until.eq(None::<OffsetDateTime>),
                        s::last_error.eq(Some(error)),
                    ))
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(n)
        })?;
        if updated == 0 {
            return Err(PgError::NotFound("scan").into());
        }
        Ok(())
    }

    async fn finish_scan(&self, tenant: TenantId, file: FileId) -> Result<(), MetadataError> {
        use scan_jobs::dsl as s;
        transaction!(self, |conn| {
            platform(
                conn,
                diesel::delete(s::scan_jobs.find((tenant.as_uuid(), file.as_uuid())))
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(())
        })?;
        Ok(())
    }

    async fn queued_scans(&self) -> Result<u64, MetadataError> {
        use scan_jobs::dsl as s;
        let queued: i64 = transaction!(self, |conn| {
            let n = platform(conn, s::scan_jobs.count().get_result(&mut &*conn)).await?;
            Ok::<_, PgError>(n)
        })?;
        Ok(u64::try_from(queued).unwrap_or_default())
    }
}
