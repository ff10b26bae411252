//! A file's versions: adding one folds its upload row into the file and
//! keeps the version it replaces, in one transaction.

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, FileStatus, FileVersion, UsageChange};
use coffer_ports::{FileVersions, Journal, MetadataError, NewVersion, TenantScope, page_size};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::PgError;
use crate::files::{adjust_usage, lock_live_file, verdict_json};
use crate::journal::JournalRows;
use crate::rows::{FileRow, FileVersionRow, status_of, to_i64};
use crate::schema::{file_versions, files};
use crate::store::{PgMetadataStore, Scope, read_scoped, transaction};

#[async_trait]
impl FileVersions for PgMetadataStore {
    async fn add_version(
        &self,
        scope: &TenantScope,
        file: FileId,
        version: NewVersion,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let size = to_i64(version.size_bytes, "size_bytes")?;
        let version = &version;
        let verdict = version
            .scan_verdict
            .as_ref()
            .map(verdict_json)
            .transpose()?;
        let verdict = &verdict;
        let row = transaction!(self, |conn| {
            let target = lock_live_file(conn, tenant, file).await?;
            let status = status_of(&target.status)?;
            if status != FileStatus::Available {
                return Err(PgError::InvalidState(format!(
                    "the file is {status}; only an available file takes a new version"
                )));
            }
            let mut change = UsageChange::default();
            if let Some(upload) = version.upload {
                let upload = diesel::delete(
                    files::table
                        .find(upload.as_uuid())
                        .filter(files::erase_started_at.is_null()),
                )
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or(PgError::NotFound("upload"))?;
                let upload_status = status_of(&upload.status)?;
                if upload.version_of != Some(target.id)
                    || !matches!(upload_status, FileStatus::Pending | FileStatus::Scanning)
                {
                    return Err(PgError::InvalidState(
                        "the upload is not a pending version of this file".into(),
                    ));
                }
                change = UsageChange::release(upload_status, upload.size_bytes);
            }
            change.used_bytes += size;
            let next = target
                .version
                .checked_add(1)
                .ok_or(PgError::OutOfRange("version"))?;
            let updated: FileRow = diesel::update(files::table.find(target.id))
                .set((
                    files::bucket.eq(version.bucket.as_str()),
                    files::object_key.eq(version.key.as_str()),
                    files::size_bytes.eq(size),
                    files::checksum_sha256.eq(Some(version.checksum_sha256.as_bytes().to_vec())),
                    files::content_type.eq(version.content_type.as_str()),
                    files::scan_verdict.eq(verdict.clone()),
                    files::version.eq(next),
                    files::updated_at.eq(version.at),
                ))
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await?;
            diesel::insert_into(file_versions::table)
                .values(FileVersionRow::current_of(
                    &updated,
                    version.uploaded_by.as_str(),
                    version.at,
                    version.upload.map(|u| *u.as_uuid()),
                ))
                .execute(conn)
                .await?;
            adjust_usage(conn, scope, change).await?;
            journal.insert(conn).await?;
            Ok(updated)
        })?;
        Ok(row.try_into()?)
    }

    async fn list_versions(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<FileVersion>, MetadataError> {
        let tenant = scope.tenant_id();
        let rows: Vec<FileVersionRow> = read_scoped!(self, Scope::Tenant(tenant), |c| {
            file_versions::table
                .filter(file_versions::tenant_id.eq(*tenant.as_uuid()))
                .filter(file_versions::file_id.eq(*file.as_uuid()))
                .order(file_versions::version.desc())
                .select(FileVersionRow::as_select())
                .load(&mut &*c)
        })?;
        Ok(rows
            .into_iter()
            .map(FileVersion::try_from)
            .collect::<Result<_, PgError>>()?)
    }

    async fn folded_upload(
        &self,
        scope: &TenantScope,
        upload: FileId,
    ) -> Result<Option<FileId>, MetadataError> {
        let tenant = scope.tenant_id();
        let files: Vec<Uuid> = read_scoped!(self, Scope::Tenant(tenant), |c| {
            file_versions::table
                .filter(file_versions::tenant_id.eq(*tenant.as_uuid()))
                .filter(file_versions::upload_id.eq(*upload.as_uuid()))
                .select(file_versions::file_id)
                .limit(1)
                .load(&mut &*c)
        })?;
        Ok(files.into_iter().next().map(FileId::from_uuid))
    }

    async fn list_all_versions(
        &self,
        scope: &TenantScope,
        after: Option<(FileId, u32)>,
        limit: u32,
    ) -> Result<Vec<FileVersion>, MetadataError> {
        let tenant = scope.tenant_id();
        let mut q = file_versions::table
            .filter(file_versions::tenant_id.eq(*tenant.as_uuid()))
            .order((file_versions::file_id.asc(), file_versions::version.asc()))
            .limit(i64::from(page_size(limit)))
            .select(FileVersionRow::as_select())
            .into_boxed();
        if let Some((file, version)) = after {
            let (file, version): (Uuid, i32) = (
                *file.as_uuid(),
                i32::try_from(version).map_err(|_| PgError::OutOfRange("version"))?,
            );
            q = q.filter(
                file_versions::file_id.gt(file).or(file_versions::file_id
                    .eq(file)
                    .and(file_versions::version.gt(version))),
            );
        }
        let rows: Vec<FileVersionRow> =
            read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(FileVersion::try_from)
            .collect::<Result<_, PgError>>()?)
    }
}
