//! A file's versions: adding one folds its upload row into the file and
//! keeps the version it replaces, in one transaction. Every statement
//! names the tenant.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, FileVersion, UsageChange};
use coffer_ports::{FileVersions, Journal, MetadataError, NewVersion, TenantScope, page_size};
use diesel::prelude::*;

use crate::error::SqliteError;
use crate::files::{Target, adjust_usage, verdict_text};
use crate::journal::JournalRows;
use crate::rows::{FileRow, FileVersionRow, id, ns, status_of, to_i64, uuid_of};
use crate::schema::{file_versions, files};
use crate::store::SqliteMetadataStore;

#[async_trait]
impl FileVersions for SqliteMetadataStore {
    async fn add_version(
        &self,
        scope: &TenantScope,
        file: FileId,
        version: NewVersion,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let found = Target::new(scope, file);
        let (tenant, file) = (found.tenant.clone(), found.file.clone());
        let upload = version.upload.map(|u| id(u.as_uuid()));
        let size = to_i64(version.size_bytes, "size_bytes")?;
        let at = ns(version.at)?;
        let verdict = version
            .scan_verdict
            .as_ref()
            .map(verdict_text)
            .transpose()?;
        let row = self
            .write(move |conn| {
                let target = found.load(conn)?;
                let status = status_of(&target.status)?;
                if status != FileStatus::Available {
                    return Err(SqliteError::InvalidState(format!(
                        "the file is {status}; only an available file takes a new version"
                    )));
                }
                let mut change = UsageChange::default();
                if let Some(upload) = &upload {
                    let upload: FileRow = diesel::delete(files::table)
                        .filter(files::tenant_id.eq(&tenant))
                        .filter(files::id.eq(upload))
                        .filter(files::erase_started_at.is_null())
                        .returning(FileRow::as_returning())
                        .get_result(conn)
                        .optional()?
                        .ok_or(SqliteError::NotFound("upload"))?;
                    let upload_status = status_of(&upload.status)?;
                    if upload.version_of.as_deref() != Some(target.id.as_str())
                        || !matches!(upload_status, FileStatus::Pending | FileStatus::Scanning)
                    {
                        return Err(SqliteError::InvalidState(
                            "the upload is not a pending version of this file".into(),
                        ));
                    }
                    change = UsageChange::release(upload_status, upload.size_bytes);
                }
                change.used_bytes += size;
                let next = target
                    .version
                    .checked_add(1)
                    .ok_or(SqliteError::OutOfRange("version"))?;
                let updated: FileRow = diesel::update(files::table)
                    .filter(files::tenant_id.eq(&tenant))
                    .filter(files::id.eq(&file))
                    .set((
                        files::bucket.eq(version.bucket.as_str()),
                        files::object_key.eq(version.key.as_str()),
                        files::size_bytes.eq(size),
                        files::checksum_sha256
                            .eq(Some(version.checksum_sha256.as_bytes().to_vec())),
                        files::content_type.eq(version.content_type.as_str()),
                        files::scan_verdict.eq(verdict),
                        files::version.eq(next),
                        files::updated_at.eq(at),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(conn)?;
                diesel::insert_into(file_versions::table)
                    .values(FileVersionRow::current_of(
                        &updated,
                        version.uploaded_by.as_str(),
                        at,
                        upload.clone(),
                    ))
                    .execute(conn)?;
                adjust_usage(conn, &tenant, change)?;
                journal.insert(conn)?;
                Ok(updated)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn list_versions(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<FileVersion>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let file = id(file.as_uuid());
        let rows: Vec<FileVersionRow> = self
            .read(move |conn| {
                Ok(file_versions::table
                    .filter(file_versions::tenant_id.eq(tenant))
                    .filter(file_versions::file_id.eq(file))
                    .order(file_versions::version.desc())
                    .select(FileVersionRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(FileVersion::try_from)
            .collect::<Result<_, SqliteError>>()?)
    }

    async fn folded_upload(
        &self,
        scope: &TenantScope,
        upload: FileId,
    ) -> Result<Option<FileId>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let upload = id(upload.as_uuid());
        let file: Option<String> = self
            .read(move |conn| {
                Ok(file_versions::table
                    .filter(file_versions::tenant_id.eq(tenant))
                    .filter(file_versions::upload_id.eq(upload))
                    .select(file_versions::file_id)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(file
            .map(|f| uuid_of(&f, "version file").map(FileId::from_uuid))
            .transpose()?)
    }

    async fn list_all_versions(
        &self,
        scope: &TenantScope,
        after: Option<(FileId, u32)>,
        limit: u32,
    ) -> Result<Vec<FileVersion>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let after = after
            .map(|(file, version)| {
                i32::try_from(version)
                    .map(|v| (id(file.as_uuid()), v))
                    .map_err(|_| SqliteError::OutOfRange("version"))
            })
            .transpose()?;
        let limit = i64::from(page_size(limit));
        let rows: Vec<FileVersionRow> = self
            .read(move |conn| {
                let mut q = file_versions::table
                    .filter(file_versions::tenant_id.eq(tenant))
                    .order((file_versions::file_id.asc(), file_versions::version.asc()))
                    .limit(limit)
                    .select(FileVersionRow::as_select())
                    .into_boxed();
                if let Some((file, version)) = after {
                    q = q.filter(
                        file_versions::file_id
                            .gt(file.clone())
                            .or(file_versions::file_id
                                .eq(file)
                                .and(file_versions::version.gt(version))),
                    );
                }
                Ok(q.load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(FileVersion::try_from)
            .collect::<Result<_, SqliteError>>()?)
    }
}
