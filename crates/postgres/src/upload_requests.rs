//! Upload requests (platform path): found by the digest of their token;
//! a place for each file taken in one statement, so racing uploads cannot
//! overfill a request.

use async_trait::async_trait;
use coffer_domain::{
    ContentType, LinkDigest, LogicalPath, RequestTerms, Subject, TenantId, UploadRequest,
    UploadRequestId,
};
use coffer_ports::{MetadataError, UploadRequests};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::rows::corrupt;
use crate::schema::upload_requests;
use crate::store::{PgMetadataStore, on_platform, platform, transaction};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = upload_requests, check_for_backend(diesel::pg::Pg))]
struct RequestRow {
    id: Uuid,
    tenant_id: Uuid,
    token_digest: Vec<u8>,
    path: String,
    expires_at: OffsetDateTime,
    max_files: i32,
    max_size: i64,
    allowed_types: Vec<String>,
    message: Option<String>,
    files_received: i32,
    closed_at: Option<OffsetDateTime>,
    created_by: String,
    created_at: OffsetDateTime,
}

fn out_of_range(what: &str) -> PgError {
    PgError::InvalidState(format!("{what} out of range"))
}

impl RequestRow {
    fn new(request: UploadRequest, digest: LinkDigest) -> Result<Self, PgError> {
        let terms = request.terms;
        Ok(Self {
            id: *request.id.as_uuid(),
            tenant_id: *request.tenant_id.as_uuid(),
            token_digest: digest.as_bytes().to_vec(),
            path: terms.path.as_str().to_owned(),
            expires_at: terms.expires_at,
            max_files: i32::try_from(terms.max_files).map_err(|_| out_of_range("max_files"))?,
            max_size: i64::try_from(terms.max_size).map_err(|_| out_of_range("max_size"))?,
            allowed_types: terms
                .allowed_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            message: terms.message,
            files_received: i32::try_from(request.files_received)
                .map_err(|_| out_of_range("files_received"))?,
            closed_at: request.closed_at,
            created_by: request.created_by.as_str().to_owned(),
            created_at: request.created_at,
        })
    }
}

impl TryFrom<RequestRow> for UploadRequest {
    type Error = PgError;

    fn try_from(row: RequestRow) -> Result<Self, PgError> {
        let count = |n: i32, what: &str| u32::try_from(n).map_err(|e| corrupt(what, e));
        Ok(Self {
            id: UploadRequestId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            terms: RequestTerms {
                path: LogicalPath::new(row.path).map_err(|e| corrupt("request path", e))?,
                expires_at: row.expires_at,
                max_files: count(row.max_files, "max files")?,
                max_size: u64::try_from(row.max_size).map_err(|e| corrupt("max size", e))?,
                allowed_types: row
                    .allowed_types
                    .into_iter()
                    .map(|t| ContentType::new(t).map_err(|e| corrupt("allowed type", e)))
                    .collect::<Result<_, _>>()?,
                message: row.message,
            },
            files_received: count(row.files_received, "files received")?,
            closed_at: row.closed_at,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("request creator", e))?,
            created_at: row.created_at,
        })
    }
}

fn requests_from(rows: Vec<RequestRow>) -> Result<Vec<UploadRequest>, PgError> {
    rows.into_iter().map(UploadRequest::try_from).collect()
}

#[async_trait]
impl UploadRequests for PgMetadataStore {
    async fn create_request(
        &self,
        request: UploadRequest,
        digest: LinkDigest,
    ) -> Result<(), MetadataError> {
        let row = RequestRow::new(request, digest)?;
        on_platform!(self, |conn| diesel::insert_into(upload_requests::table)
            .values(&row)
            .execute(&mut &*conn))?;
        Ok(())
    }

    async fn requests_of_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let rows: Vec<RequestRow> = on_platform!(self, |conn| r::upload_requests
            .filter(r::tenant_id.eq(tenant.as_uuid()))
            .order((r::created_at.desc(), r::id.desc()))
            .select(RequestRow::as_select())
            .load(&mut &*conn))?;
        Ok(requests_from(rows)?)
    }

    async fn close_request(
        &self,
        tenant: TenantId,
        id: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<UploadRequest, MetadataError> {
        use upload_requests::dsl as r;
        let rows: Vec<RequestRow> = transaction!(self, |conn| {
            let this = r::upload_requests
                .filter(r::id.eq(id.as_uuid()))
                .filter(r::tenant_id.eq(tenant.as_uuid()));
            // The first closing stands.
            platform(
                conn,
                diesel::update(this.filter(r::closed_at.is_null()))
                    .set(r::closed_at.eq(now))
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(
                this.select(RequestRow::as_select())
                    .load(&mut &*conn)
                    .await?,
            )
        })?;
        let row = rows
            .into_iter()
            .next()
            .ok_or(PgError::NotFound("request"))?;
        Ok(row.try_into()?)
    }

    async fn find_request(
        &self,
        digest: LinkDigest,
    ) -> Result<Option<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let rows: Vec<RequestRow> = on_platform!(self, |conn| r::upload_requests
            .filter(r::token_digest.eq(digest.as_bytes().as_slice()))
            .select(RequestRow::as_select())
            .load(&mut &*conn))?;
        Ok(rows
            .into_iter()
            .next()
            .map(UploadRequest::try_from)
            .transpose()?)
    }

    async fn take_place(
        &self,
        id: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let rows: Vec<RequestRow> = on_platform!(self, |conn| diesel::update(
            r::upload_requests
                .filter(r::id.eq(id.as_uuid()))
                .filter(r::closed_at.is_null())
                .filter(r::expires_at.gt(now))
                .filter(r::files_received.lt(r::max_files)),
        )
        .set(r::files_received.eq(r::files_received + 1))
        .returning(RequestRow::as_returning())
        .get_results(&mut &*conn))?;
        Ok(rows
            .into_iter()
            .next()
            .map(UploadRequest::try_from)
            .transpose()?)
    }

    async fn give_back_place(&self, id: UploadRequestId) -> Result<(), MetadataError> {
        use upload_requests::dsl as r;
        on_platform!(self, |conn| diesel::update(
            r::upload_requests
                .filter(r::id.eq(id.as_uuid()))
                .filter(r::files_received.gt(0)),
        )
        .set(r::files_received.eq(r::files_received - 1))
        .execute(&mut &*conn))?;
        Ok(())
    }
}
