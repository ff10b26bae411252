//! File versions (docs/records.md): new bytes for an existing file are
//! uploaded like any file — reserved, sent straight to the store, verified —
//! and then become the file's next version; the earlier ones stay, readable
//! and restorable, until the file itself is erased.

use std::sync::Arc;

use coffer_domain::{
    Action, ContentType, FileId, FileRecord, FileStatus, FileVersion, ScanVerdict, Sha256Digest,
};
use coffer_ports::{MetadataErrorKind, NewVersion, TenantData, TenantScope};
use serde_json::json;

use super::verify::{self, Verified};
use super::{Files, InitiateUpload, InitiatedUpload, NewFileFields, location, require_status};
use crate::{Caller, ServiceError};

/// `POST /files/{id}/versions`: upload new bytes for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiateVersion {
    pub size: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    /// The new bytes' type; the file's current type when absent.
    pub content_type: Option<ContentType>,
    pub multipart: bool,
}

impl Files {
    /// Reserve the upload of the next version of an available file and
    /// presign it; completing it (`POST /files/{upload}/complete`) verifies
    /// the bytes and makes them the file's current version.
    ///
    /// # Errors
    /// `Forbidden` without write access; `Conflict` unless the file is
    /// available; the limits of [`Files::initiate_upload`].
    pub async fn initiate_version(
        &self,
        caller: &Caller,
        id: FileId,
        request: InitiateVersion,
    ) -> Result<InitiatedUpload, ServiceError> {
        let (data, _, file) = self.available_to_write(caller, id).await?;
        let upload = InitiateUpload {
            file: NewFileFields {
                filename: file.filename.clone(),
                content_type: Some(request.content_type.unwrap_or(file.content_type)),
                category: Some(file.category),
                path: Some(file.path),
                visibility: Some(file.visibility),
                metadata: Some(file.metadata),
                checksum_sha256: request.checksum_sha256,
            },
            size: request.size,
            multipart: request.multipart,
        };
        self.initiate(caller, upload, Some((file.id, data))).await
    }

    /// The caller's tenant's data, and its available file `id` the caller
    /// may write: what adding or restoring a version starts from.
    async fn available_to_write(
        &self,
        caller: &Caller,
        id: FileId,
    ) -> Result<(Arc<TenantData>, TenantScope, FileRecord), ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Write)
            .await?
            .file;
        require_status(&file, FileStatus::Available)?;
        Ok((data, scope, file))
    }

    /// Every version of a file, newest (current) first.
    ///
    /// # Errors
    /// `NotFound` for a file the caller cannot see; `Forbidden` without
    /// read access.
    pub async fn list_versions(
        &self,
        caller: &Caller,
        id: FileId,
    ) -> Result<Vec<FileVersion>, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Read)
            .await?
            .file;
        let (recorded, versions) = futures::join!(
            self.recorder.record(
                &data,
                caller,
                &scope,
                "file.versions_listed",
                Some(file.id),
                json!({}),
            ),
            data.versions.list_versions(&scope, file.id),
        );
        recorded?;
        Ok(versions?)
    }

    /// Make an earlier version the current one again: its bytes are copied
    /// to a new verified key and become a new version, so the history keeps
    /// every step.
    ///
    /// # Errors
    /// `Forbidden` without write access; `Conflict` unless the file is
    /// available; `NotFound` for a version the file does not have;
    /// `PayloadTooLarge` when the copy would pass the tenant's quota.
    pub async fn restore_version(
        &self,
        caller: &Caller,
        id: FileId,
        version: u32,
    ) -> Result<FileRecord, ServiceError> {
        let (data, scope, file) = self.available_to_write(caller, id).await?;
        let tenant = caller.member()?.0;
        let earlier = self
            .at_version(&data, &scope, file.clone(), version)
            .await?;
        let limits = self.configs.effective_config(tenant).await?.limits();
        data.files
            .usage(&scope)
            .await?
            .admits(&limits, earlier.size_bytes)?;
        let store = self.store_of(tenant);
        let verified = verify::verify_staged(store, &earlier, &location(&earlier)?).await?;
        self.fold_version(
            caller,
            &data,
            &earlier,
            file.id,
            &verified,
            earlier.scan_verdict.clone(),
        )
        .await
    }

    /// `file` as it was at `version`: its current record with the bytes
    /// (key, size, checksum, type) of that version.
    pub(super) async fn at_version(
        &self,
        data: &TenantData,
        scope: &TenantScope,
        file: FileRecord,
        version: u32,
    ) -> Result<FileRecord, ServiceError> {
        if version == file.version {
            return Ok(file);
        }
        let found = data
            .versions
            .list_versions(scope, file.id)
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| ServiceError::not_found("version"))?;
        Ok(FileRecord {
            bucket: found.bucket,
            key: found.key,
            size_bytes: found.size_bytes,
            checksum_sha256: found.checksum_sha256,
            content_type: found.content_type,
            version: found.version,
            ..file
        })
    }

    /// Make verified bytes the next version of `target`. `source` is the
    /// upload row they came from (folded in and removed), or, for a
    /// restore, the earlier version copied.
    pub(super) async fn fold_version(
        &self,
        caller: &Caller,
        data: &TenantData,
        source: &FileRecord,
        target: FileId,
        verified: &Verified,
        scan_verdict: Option<ScanVerdict>,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let upload = source.version_of.map(|_| source.id);
        let (action, detail) = match upload {
            Some(upload) => (
                "file.version_added",
                json!({ "upload": upload, "size": verified.size, "checksum_sha256": verified.sha256.to_hex() }),
            ),
            None => (
                "file.version_restored",
                json!({ "from_version": source.version, "size": verified.size }),
            ),
        };
        let version = NewVersion {
            upload,
            bucket: verified.location.bucket().clone(),
            key: verified.location.key().clone(),
            size_bytes: verified.size,
            checksum_sha256: verified.sha256,
            content_type: source.content_type.clone(),
            uploaded_by: caller.principal.subject.clone(),
            at: self.clock.now(),
            scan_verdict,
        };
        let journal = self.recorder.announce(
            caller,
            action,
            &FileRecord {
                id: target,
                ..source.clone()
            },
            detail,
        );
        let store = self.store_of(tenant);
        let file = match data
            .versions
            .add_version(&scope, target, version, journal)
            .await
        {
            Ok(file) => file,
            Err(err) => {
                // Unless the database could not say, the version was not
                // added and its copy is no row's.
                if !err.is(MetadataErrorKind::Unavailable) {
                    verify::discard(store, &verified.location).await;
                }
                return Err(ServiceError::from_file_lookup(err));
            }
        };
        if upload.is_some() {
            verify::discard(store, &location(source)?).await;
        }
        if file.retention.is_some() {
            self.lock_in_store(tenant, &file, false).await;
        }
        Ok(file)
    }
}
