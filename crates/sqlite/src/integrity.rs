//! What the integrity jobs need: marking a row whose erase began, listing
//! rows with their objects (rows being erased included), marking rows whose
//! object is missing. Every statement names the tenant.

use async_trait::async_trait;
use coffer_domain::{BucketName, FileId, FileRecord, ObjectKey};
use coffer_ports::{
    FileObject, FileObjectQuery, Integrity, Journal, MetadataError, TenantScope, page_size,
};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{FileRow, corrupt, id, ns, status_of, time_of, time_opt, uuid_of};
use crate::schema::files;
use crate::store::SqliteMetadataStore;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = files, check_for_backend(diesel::sqlite::Sqlite))]
struct FileObjectRow {
    id: String,
    status: String,
    bucket: String,
    object_key: String,
    multipart_upload_id: Option<String>,
    created_at: i64,
    erase_started_at: Option<i64>,
    object_missing_at: Option<i64>,
}

impl TryFrom<FileObjectRow> for FileObject {
    type Error = SqliteError;

    fn try_from(row: FileObjectRow) -> Result<Self, SqliteError> {
        Ok(FileObject {
            id: FileId::from_uuid(uuid_of(&row.id, "file id")?),
            status: status_of(&row.status)?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            multipart_upload_id: row.multipart_upload_id,
            created_at: time_of(row.created_at)?,
            erase_started_at: time_opt(row.erase_started_at)?,
            object_missing_at: time_opt(row.object_missing_at)?,
        })
    }
}

#[async_trait]
impl Integrity for SqliteMetadataStore {
    async fn begin_erase(
        &self,
        scope: &TenantScope,
        file: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let (tenant, file) = (id(scope.tenant_id().as_uuid()), id(file.as_uuid()));
        let at = ns(at)?;
        let row = self
            .write(move |conn| {
                // Only the first mark counts: the sweep's grace runs from
                // the erase that began first, and it is on record once.
                let marked = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&tenant))
                    .filter(files::id.eq(&file))
                    .filter(files::erase_started_at.is_null())
                    // Records rules bind (docs/records.md).
                    .filter(files::legal_hold.eq(false))
                    .filter(files::retain_until.is_null().or(files::retain_until.le(at)))
                    .set(files::erase_started_at.eq(at))
                    .execute(conn)?;
                if marked == 1 {
                    journal.insert(conn)?;
                }
                let (row, erasing) = files::table
                    .filter(files::tenant_id.eq(&tenant))
                    .filter(files::id.eq(&file))
                    .select((FileRow::as_select(), files::erase_started_at))
                    .get_result::<(FileRow, Option<i64>)>(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("file"))?;
                if erasing.is_none() {
                    return Err(SqliteError::InvalidState(
                        "a legal hold or retention keeps the file".into(),
                    ));
                }
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn list_file_objects(
        &self,
        scope: &TenantScope,
        query: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let before = query.erase_started_before.map(ns).transpose()?;
        let after = query.after.map(|f| id(f.as_uuid()));
        let limit = i64::from(page_size(query.limit));
        let rows = self
            .read(move |conn| {
                // Ids are canonical lowercase UUID text, so their text order
                // is their order.
                let mut q = files::table
                    .select(FileObjectRow::as_select())
                    .filter(files::tenant_id.eq(tenant))
                    .order(files::id.asc())
                    .limit(limit)
                    .into_boxed();
                if let Some(before) = before {
                    q = q.filter(files::erase_started_at.lt(before));
                }
                if let Some(after) = after {
                    q = q.filter(files::id.gt(after));
                }
                Ok(q.load::<FileObjectRow>(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(FileObject::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn mark_object_missing(
        &self,
        scope: &TenantScope,
        file: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let (tenant, file) = (id(scope.tenant_id().as_uuid()), id(file.as_uuid()));
        let at = ns(at)?;
        self.write(move |conn| {
            let marked = diesel::update(files::table)
                .filter(files::tenant_id.eq(&tenant))
                .filter(files::id.eq(&file))
                .filter(files::object_missing_at.is_null())
                .set(files::object_missing_at.eq(at))
                .execute(conn)?;
            if marked > 0 {
                journal.insert(conn)?;
            }
            let exists: Option<String> = files::table
                .filter(files::tenant_id.eq(&tenant))
                .filter(files::id.eq(&file))
                .select(files::id)
                .get_result(conn)
                .optional()?;
            exists.map(|_| ()).ok_or(SqliteError::NotFound("file"))
        })
        .await
        .map_err(Into::into)
    }
}
