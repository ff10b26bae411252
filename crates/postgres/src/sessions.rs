//! Upload sessions (platform path): the prefixes write credentials confine
//! clients to, until the sweep removes what was not registered.

use async_trait::async_trait;
use coffer_domain::{BucketName, Subject, TenantId, UploadSessionId};
use coffer_ports::{MetadataError, UploadSession, UploadSessions};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::rows::corrupt;
use crate::schema::upload_sessions;
use crate::store::{PgMetadataStore, platform, transaction};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = upload_sessions, check_for_backend(diesel::pg::Pg))]
struct SessionRow {
    id: Uuid,
    tenant_id: Uuid,
    created_by: String,
    bucket: String,
    expires_at: OffsetDateTime,
    registrable_until: OffsetDateTime,
    created_at: OffsetDateTime,
}

impl From<UploadSession> for SessionRow {
    fn from(s: UploadSession) -> Self {
        Self {
            id: *s.id.as_uuid(),
            tenant_id: *s.tenant_id.as_uuid(),
            created_by: s.created_by.as_str().to_owned(),
            bucket: s.bucket.as_str().to_owned(),
            expires_at: s.expires_at,
            registrable_until: s.registrable_until,
            created_at: s.created_at,
        }
    }
}

impl TryFrom<SessionRow> for UploadSession {
    type Error = PgError;

    fn try_from(row: SessionRow) -> Result<Self, PgError> {
        Ok(Self {
            id: UploadSessionId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("session creator", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("session bucket", e))?,
            expires_at: row.expires_at,
            registrable_until: row.registrable_until,
            created_at: row.created_at,
        })
    }
}

#[async_trait]
impl UploadSessions for PgMetadataStore {
    async fn open_session(&self, session: UploadSession) -> Result<(), MetadataError> {
        let row = SessionRow::from(session);
        transaction!(self, |conn| {
            platform(
                conn,
                diesel::insert_into(upload_sessions::table)
                    .values(&row)
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(())
        })?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: TenantId,
        id: UploadSessionId,
    ) -> Result<Option<UploadSession>, MetadataError> {
        use upload_sessions::dsl as s;
        let rows: Vec<SessionRow> = transaction!(self, |conn| {
            Ok::<_, PgError>(
                platform(
                    conn,
                    s::upload_sessions
                        .filter(s::id.eq(id.as_uuid()))
                        .filter(s::tenant_id.eq(tenant.as_uuid()))
                        .select(SessionRow::as_select())
                        .load(&mut &*conn),
                )
                .await?,
            )
        })?;
        let row = rows.into_iter().next();
        Ok(row.map(UploadSession::try_from).transpose()?)
    }

    async fn closed_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadSession>, MetadataError> {
        use upload_sessions::dsl as s;
        let rows: Vec<SessionRow> = transaction!(self, |conn| {
            Ok::<_, PgError>(
                platform(
                    conn,
                    s::upload_sessions
                        .filter(s::registrable_until.lt(now))
                        .order((s::registrable_until.asc(), s::id.asc()))
                        .limit(i64::from(limit))
                        .select(SessionRow::as_select())
                        .load(&mut &*conn),
                )
                .await?,
            )
        })?;
        Ok(rows
            .into_iter()
            .map(UploadSession::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn remove_session(
        &self,
        tenant: TenantId,
        id: UploadSessionId,
    ) -> Result<(), MetadataError> {
        use upload_sessions::dsl as s;
        transaction!(self, |conn| {
            platform(
                conn,
                diesel::delete(
                    s::upload_sessions
                        .filter(s::id.eq(id.as_uuid()))
                        .filter(s::tenant_id.eq(tenant.as_uuid())),
                )
                .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(())
        })?;
        Ok(())
    }
}
