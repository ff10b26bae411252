//! Upload sessions: the prefixes write credentials confine clients to,
//! until the sweep removes what was not registered.

use async_trait::async_trait;
use coffer_domain::{BucketName, Subject, TenantId, UploadSessionId};
use coffer_ports::{MetadataError, UploadSession, UploadSessions};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::rows::{corrupt, id, ns, time_of, uuid_of};
use crate::schema::upload_sessions;
use crate::store::SqliteMetadataStore;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = upload_sessions, check_for_backend(diesel::sqlite::Sqlite))]
struct SessionRow {
    id: String,
    tenant_id: String,
    created_by: String,
    bucket: String,
    expires_at: i64,
    registrable_until: i64,
    created_at: i64,
}

impl TryFrom<UploadSession> for SessionRow {
    type Error = SqliteError;

    fn try_from(s: UploadSession) -> Result<Self, SqliteError> {
        Ok(Self {
            id: id(s.id.as_uuid()),
            tenant_id: id(s.tenant_id.as_uuid()),
            created_by: s.created_by.as_str().to_owned(),
            bucket: s.bucket.as_str().to_owned(),
            expires_at: ns(s.expires_at)?,
            registrable_until: ns(s.registrable_until)?,
            created_at: ns(s.created_at)?,
        })
    }
}

impl TryFrom<SessionRow> for UploadSession {
    type Error = SqliteError;

    fn try_from(row: SessionRow) -> Result<Self, SqliteError> {
        Ok(Self {
            id: UploadSessionId::from_uuid(uuid_of(&row.id, "session")?),
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "session tenant")?),
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("session creator", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("session bucket", e))?,
            expires_at: time_of(row.expires_at)?,
            registrable_until: time_of(row.registrable_until)?,
            created_at: time_of(row.created_at)?,
        })
    }
}

#[async_trait]
impl UploadSessions for SqliteMetadataStore {
    async fn open_session(&self, session: UploadSession) -> Result<(), MetadataError> {
        let row = SessionRow::try_from(session)?;
        self.write(move |conn| {
            diesel::insert_into(upload_sessions::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: TenantId,
        session: UploadSessionId,
    ) -> Result<Option<UploadSession>, MetadataError> {
        use upload_sessions::dsl as s;
        let key = (id(session.as_uuid()), id(tenant.as_uuid()));
        let row: Option<SessionRow> = self
            .read(move |conn| {
                Ok(s::upload_sessions
                    .filter(s::id.eq(key.0))
                    .filter(s::tenant_id.eq(key.1))
                    .select(SessionRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(UploadSession::try_from).transpose()?)
    }

    async fn closed_sessions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadSession>, MetadataError> {
        use upload_sessions::dsl as s;
        let now = ns(now)?;
        let rows: Vec<SessionRow> = self
            .read(move |conn| {
                Ok(s::upload_sessions
                    .filter(s::registrable_until.lt(now))
                    .order((s::registrable_until.asc(), s::id.asc()))
                    .limit(i64::from(limit))
                    .select(SessionRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(UploadSession::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn remove_session(
        &self,
        tenant: TenantId,
        session: UploadSessionId,
    ) -> Result<(), MetadataError> {
        use upload_sessions::dsl as s;
        let key = (id(session.as_uuid()), id(tenant.as_uuid()));
        self.write(move |conn| {
            diesel::delete(
                s::upload_sessions
                    .filter(s::id.eq(key.0))
                    .filter(s::tenant_id.eq(key.1)),
            )
            .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }
}
