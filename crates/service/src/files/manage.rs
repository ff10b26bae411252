//! Changing files: rename, move, visibility, metadata, trash, restore, erase.

use coffer_domain::{Action, ErrorCode, FileId, FileRecord, FileStatus};
use coffer_ports::{FilePatch, MetadataErrorKind};
use serde_json::json;

use super::{Files, UpdateFile, removal_refused, require_status};
use crate::{Caller, ServiceError};

impl Files {
    /// Rename, move, change visibility or merge metadata.
    ///
    /// # Errors
    /// `Forbidden` without write (or, for visibility, manage) access;
    /// `Conflict` for a deleted file or a taken path and name.
    pub async fn update_file(
        &self,
        caller: &Caller,
        id: FileId,
        update: UpdateFile,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let stored = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Write)
            .await?;
        if update.visibility.is_some() {
            let decision = coffer_domain::decide(
                &caller.principal,
                coffer_domain::Resource::File(&stored.file),
                Action::ChangeVisibility,
                &stored.grants,
                self.clock.now(),
            );
            super::check(decision)?;
        }
        let file = stored.file;
        if file.status == FileStatus::Deleted {
            return require_status(&file, FileStatus::Available).map(|()| file);
        }
        let metadata = update
            .metadata
            .as_ref()
            .map(|patch| file.metadata.merged(patch))
            .transpose()?;
        let patch = FilePatch {
            filename: update.filename,
            path: update.path,
            visibility: update.visibility,
            metadata,
        };
        if patch.is_empty() {
            return Ok(file);
        }
        let changed: Vec<&str> = [
            patch.filename.as_ref().map(|_| "filename"),
            patch.path.as_ref().map(|_| "path"),
            patch.visibility.as_ref().map(|_| "visibility"),
            patch.metadata.as_ref().map(|_| "metadata"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let journal =
            self.recorder
                .announce(caller, "file.updated", &file, json!({ "changed": changed }));
        let updated = data
            .files
            .update_file(&scope, id, patch, self.clock.now(), journal)
            .await
            .map_err(|err| match err.kind() {
                MetadataErrorKind::Conflict => ServiceError::conflict(
                    ErrorCode::DuplicatePath,
                    "a file with this name already exists in this folder",
                ),
                _ => ServiceError::from_file_lookup(err),
            })?;
        Ok(updated)
    }

    /// Move a file to the trash, or erase it (`permanent`). A pending upload
    /// is cancelled and erased either way. Deleting what is already in the
    /// trash is a no-op.
    ///
    /// # Errors
    /// `Forbidden` without manage access.
    pub async fn delete_file(
        &self,
        caller: &Caller,
        id: FileId,
        permanent: bool,
    ) -> Result<(), ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Delete)
            .await?
            .file;
        let now = self.clock.now();
        match (file.status, permanent) {
            (FileStatus::Available, false) if file.legal_hold => {
                return Err(removal_refused(coffer_domain::RemovalBlock::LegalHold));
            }
            (FileStatus::Available, false) => {
                let journal = self
                    .recorder
                    .announce(caller, "file.trashed", &file, json!({}));
                data.files
                    .trash_file(&scope, id, now, journal)
                    .await
                    .map_err(ServiceError::from_file_lookup)?;
            }
            (FileStatus::Deleted, false) => {}
            (_, _) => {
                if let Some(block) = file.removal_block(now) {
                    return Err(removal_refused(block));
                }
                let journal = self.recorder.announce(
                    caller,
                    "file.erased",
                    &file,
                    json!({ "status": file.status }),
                );
                self.eraser.erase(tenant, &data, &file, journal).await?;
            }
        }
        Ok(())
    }

    /// Bring a file back from the trash, within the tenant's retention.
    ///
    /// # Errors
    /// `Conflict` unless in the trash, after retention, or when its path and
    /// name were taken meanwhile.
    pub async fn restore_file(
        &self,
        caller: &Caller,
        id: FileId,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Delete)
            .await?
            .file;
        require_status(&file, FileStatus::Deleted)?;
        let now = self.clock.now();
        let retention = self.configs.retention(tenant).await?;
        // A records retention or hold outlives the trash (docs/records.md).
        if file.deleted_at.is_some_and(|at| at + retention <= now)
            && file.removal_block(now).is_none()
        {
            return Err(ServiceError::conflict(
                ErrorCode::RetentionExpired,
                "the file's retention has passed",
            ));
        }
        let journal = self
            .recorder
            .announce(caller, "file.restored", &file, json!({}));
        let restored = data
            .files
            .restore_file(&scope, id, now, journal)
            .await
            .map_err(|err| match err.kind() {
                MetadataErrorKind::Conflict => ServiceError::conflict(
                    ErrorCode::DuplicatePath,
                    "a file with this name now exists in this folder; rename or move it first",
                ),
                _ => ServiceError::from_file_lookup(err),
            })?;
        Ok(restored)
    }
}
