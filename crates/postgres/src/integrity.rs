//! What the integrity jobs need: marking a row whose erase began, listing
//! rows with their objects (rows being erased included), marking rows whose
//! object is missing.

use async_trait::async_trait;
use coffer_domain::{BucketName, FileId, FileRecord, ObjectKey};
use coffer_ports::{
    FileObject, FileObjectQuery, Integrity, Journal, MetadataError, TenantScope, page_size,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::rows::{FileRow, corrupt, status_of};
use crate::schema::files;
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
struct FileObjectRow {
    id: Uuid,
    status: String,
    bucket: String,
    object_key: String,
    multipart_upload_id: Option<String>,
    created_at: OffsetDateTime,
    erase_started_at: Option<OffsetDateTime>,
    object_missing_at: Option<OffsetDateTime>,
}

impl TryFrom<FileObjectRow> for FileObject {
    type Error = PgError;

    fn try_from(row: FileObjectRow) -> Result<Self, PgError> {
        Ok(FileObject {
            id: FileId::from_uuid(row.id),
            status: status_of(&row.status)?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            multipart_upload_id: row.multipart_upload_id,
            created_at: row.created_at,
            erase_started_at: row.erase_started_at,
            object_missing_at: row.object_missing_at,
        })
    }
}

#[async_trait]
impl Integrity for PgMetadataStore {
    async fn begin_erase(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let row = transaction!(self, |conn| {
            // Only the first mark counts: the sweep's grace runs from the
            // erase that began first, and the erase is on record once.
            let marked = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::erase_started_at.is_null())
                        // Records rules bind (docs/records.md).
                        .filter(files::legal_hold.eq(false))
                        .filter(files::retain_until.is_null().or(files::retain_until.le(at))),
                )
                .set(files::erase_started_at.eq(at))
                .returning(FileRow::as_returning())
                .get_result(&mut &*conn),
            )
            .await
            .optional()?;
            match marked {
                Some(row) => {
                    journal.insert(conn).await?;
                    Ok(row)
                }
                None => {
                    let (row, erasing) = files::table
                        .find(id.as_uuid())
                        .select((FileRow::as_select(), files::erase_started_at))
                        .get_result::<(FileRow, Option<OffsetDateTime>)>(conn)
                        .await
                        .optional()?
                        .ok_or(PgError::NotFound("file"))?;
                    if erasing.is_none() {
                        return Err(PgError::InvalidState(
                            "a legal hold or retention keeps the file".into(),
                        ));
                    }
                    Ok(row)
                }
            }
        })?;
        Ok(row.try_into()?)
    }

    async fn list_file_objects(
        &self,
        scope: &TenantScope,
        query: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError> {
        let tenant = scope.tenant_id();
        let mut q = files::table
            .select(FileObjectRow::as_select())
            .filter(files::tenant_id.eq(*tenant.as_uuid()))
            .order(files::id.asc())
            .limit(i64::from(page_size(query.limit)))
            .into_boxed();
        if let Some(before) = query.erase_started_before {
            q = q.filter(files::erase_started_at.lt(before));
        }
        if let Some(after) = query.after {
            q = q.filter(files::id.gt(*after.as_uuid()));
        }
        let rows: Vec<FileObjectRow> =
            read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(FileObject::try_from)
            .collect::<Result<_, PgError>>()?)
    }

    async fn mark_object_missing(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let found = transaction!(self, |conn| {
            let marked = scoped(
                conn,
                tenant,
                diesel::update(
                    files::table
                        .find(id.as_uuid())
                        .filter(files::object_missing_at.is_null()),
                )
                .set(files::object_missing_at.eq(at))
                .execute(&mut &*conn),
            )
            .await?;
            if marked > 0 {
                journal.insert(conn).await?;
                return Ok(true);
            }
            // Already marked (idempotent), or gone.
            let exists: Option<Uuid> = files::table
                .find(id.as_uuid())
                .select(files::id)
                .get_result(conn)
                .await
                .optional()?;
            Ok(exists.is_some())
        })?;
        if found {
            Ok(())
        } else {
            Err(PgError::NotFound("file").into())
        }
    }
}
