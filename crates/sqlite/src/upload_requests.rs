//! Upload requests: found by the digest of their token; places taken in
//! `BEGIN IMMEDIATE` transactions, so racing uploads take turns.

use async_trait::async_trait;
use coffer_domain::{
    ContentType, LinkDigest, LogicalPath, RequestTerms, Subject, TenantId, UploadRequest,
    UploadRequestId,
};
use coffer_ports::{MetadataError, UploadRequests};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::rows::{corrupt, id, ns, ns_opt, time_of, time_opt, to_i64, uuid_of};
use crate::schema::upload_requests;
use crate::store::SqliteMetadataStore;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = upload_requests, check_for_backend(diesel::sqlite::Sqlite))]
struct RequestRow {
    id: String,
    tenant_id: String,
    token_digest: Vec<u8>,
    path: String,
    expires_at: i64,
    max_files: i64,
    max_size: i64,
    /// A JSON array of strings.
    allowed_types: String,
    message: Option<String>,
    files_received: i64,
    closed_at: Option<i64>,
    created_by: String,
    created_at: i64,
}

impl RequestRow {
    fn new(request: UploadRequest, digest: LinkDigest) -> Result<Self, SqliteError> {
        let terms = request.terms;
        let types: Vec<&str> = terms
            .allowed_types
            .iter()
            .map(ContentType::as_str)
            .collect();
        Ok(Self {
            id: id(request.id.as_uuid()),
            tenant_id: id(request.tenant_id.as_uuid()),
            token_digest: digest.as_bytes().to_vec(),
            path: terms.path.as_str().to_owned(),
            expires_at: ns(terms.expires_at)?,
            max_files: i64::from(terms.max_files),
            max_size: to_i64(terms.max_size, "max_size")?,
            allowed_types: serde_json::to_string(&types)
                .map_err(|e| corrupt("allowed types", e))?,
            message: terms.message,
            files_received: i64::from(request.files_received),
            closed_at: ns_opt(request.closed_at)?,
            created_by: request.created_by.as_str().to_owned(),
            created_at: ns(request.created_at)?,
        })
    }
}

impl TryFrom<RequestRow> for UploadRequest {
    type Error = SqliteError;

    fn try_from(row: RequestRow) -> Result<Self, SqliteError> {
        let count = |n: i64, what: &str| u32::try_from(n).map_err(|e| corrupt(what, e));
        let types: Vec<String> =
            serde_json::from_str(&row.allowed_types).map_err(|e| corrupt("allowed types", e))?;
        Ok(Self {
            id: UploadRequestId::from_uuid(uuid_of(&row.id, "request")?),
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "request tenant")?),
            terms: RequestTerms {
                path: LogicalPath::new(row.path).map_err(|e| corrupt("request path", e))?,
                expires_at: time_of(row.expires_at)?,
                max_files: count(row.max_files, "max files")?,
                max_size: u64::try_from(row.max_size).map_err(|e| corrupt("max size", e))?,
                allowed_types: types
                    .into_iter()
                    .map(|t| ContentType::new(t).map_err(|e| corrupt("allowed type", e)))
                    .collect::<Result<_, _>>()?,
                message: row.message,
            },
            files_received: count(row.files_received, "files received")?,
            closed_at: time_opt(row.closed_at)?,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("request creator", e))?,
            created_at: time_of(row.created_at)?,
        })
    }
}

fn found(row: Option<RequestRow>) -> Result<Option<UploadRequest>, SqliteError> {
    row.map(UploadRequest::try_from).transpose()
}

#[async_trait]
impl UploadRequests for SqliteMetadataStore {
    async fn create_request(
        &self,
        request: UploadRequest,
        digest: LinkDigest,
    ) -> Result<(), MetadataError> {
        let row = RequestRow::new(request, digest)?;
        self.write(move |conn| {
            diesel::insert_into(upload_requests::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn requests_of_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let tenant = id(tenant.as_uuid());
        let rows: Vec<RequestRow> = self
            .read(move |conn| {
                Ok(r::upload_requests
                    .filter(r::tenant_id.eq(tenant))
                    .order((r::created_at.desc(), r::id.desc()))
                    .select(RequestRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(UploadRequest::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn close_request(
        &self,
        tenant: TenantId,
        request: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<UploadRequest, MetadataError> {
        use upload_requests::dsl as r;
        let key = (id(request.as_uuid()), id(tenant.as_uuid()));
        let now = ns(now)?;
        let row: RequestRow = self
            .write(move |conn| {
                let this = || {
                    r::upload_requests
                        .filter(r::id.eq(&key.0))
                        .filter(r::tenant_id.eq(&key.1))
                };
                // The first closing stands.
                diesel::update(this().filter(r::closed_at.is_null()))
                    .set(r::closed_at.eq(now))
                    .execute(conn)?;
                this()
                    .select(RequestRow::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("request"))
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn find_request(
        &self,
        digest: LinkDigest,
    ) -> Result<Option<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let digest = digest.as_bytes().to_vec();
        let row: Option<RequestRow> = self
            .read(move |conn| {
                Ok(r::upload_requests
                    .filter(r::token_digest.eq(digest))
                    .select(RequestRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(found(row)?)
    }

    async fn take_place(
        &self,
        request: UploadRequestId,
        now: OffsetDateTime,
    ) -> Result<Option<UploadRequest>, MetadataError> {
        use upload_requests::dsl as r;
        let key = id(request.as_uuid());
        let now = ns(now)?;
        let row: Option<RequestRow> = self
            .write(move |conn| {
                let taken = diesel::update(
                    r::upload_requests
                        .filter(r::id.eq(&key))
                        .filter(r::closed_at.is_null())
                        .filter(r::expires_at.gt(now))
                        .filter(r::files_received.lt(r::max_files)),
                )
                .set(r::files_received.eq(r::files_received + 1))
                .execute(conn)?;
                if taken == 0 {
                    return Ok(None);
                }
                Ok(r::upload_requests
                    .filter(r::id.eq(&key))
                    .select(RequestRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(found(row)?)
    }

    async fn give_back_place(&self, request: UploadRequestId) -> Result<(), MetadataError> {
        use upload_requests::dsl as r;
        let key = id(request.as_uuid());
        self.write(move |conn| {
            diesel::update(
                r::upload_requests
                    .filter(r::id.eq(key))
                    .filter(r::files_received.gt(0)),
            )
            .set(r::files_received.eq(r::files_received - 1))
            .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }
}
