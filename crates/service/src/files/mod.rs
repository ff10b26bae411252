//! File use cases: upload (direct, multipart, streamed), read, change, delete.

mod manage;
mod read;
mod upload;
mod verify;

use coffer_domain::{
    Action, Category, ContentType, Decision, DenyReason, ErrorCode, FileId, FileRecord, FileStatus,
    Filename, LogicalPath, Metadata, Sha256Digest, Visibility, decide,
};
use coffer_ports::{ObjectLocation, StoreError, StoredFile, TenantData, TenantScope};

use crate::{Caller, Coffer, ErrorKind, ServiceError};

pub use read::ListFiles;
pub use upload::{
    InitiateUpload, InitiatedUpload, MultipartUpload, PartRequest, PresignedPart, ReceivedParts,
    StreamUpload, UploadTarget,
};

/// A change to a file; `metadata` is an RFC 7396 merge patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateFile {
    pub filename: Option<Filename>,
    pub path: Option<LogicalPath>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Coffer {
    /// Load a file of the caller's tenant and check `action` on it.
    pub(crate) async fn authorized_file(
        &self,
        data: &TenantData,
        caller: &Caller,
        scope: &TenantScope,
        id: FileId,
        action: Action,
    ) -> Result<StoredFile, ServiceError> {
        let stored = data
            .files
            .get_file(scope, id)
            .await
            .map_err(ServiceError::from_file_lookup)?;
        let decision = decide(
            &caller.principal,
            coffer_domain::Resource::File(&stored.file),
            action,
            &stored.grants,
            self.clock.now(),
        );
        check(decision)?;
        Ok(stored)
    }

    fn location(&self, file: &FileRecord) -> Result<ObjectLocation, StoreError> {
        ObjectLocation::new(file.tenant_id, file.bucket.clone(), file.key.clone())
    }
}

/// Turn a denial into the error the caller may see: another tenant's file
/// does not exist for it.
pub(crate) fn check(decision: Decision) -> Result<(), ServiceError> {
    match decision {
        Decision::Allowed => Ok(()),
        Decision::Denied(DenyReason::OtherTenant) => Err(ServiceError::not_found("file")),
        Decision::Denied(DenyReason::RoleCannotCreate) => Err(ServiceError::forbidden(
            ErrorCode::RoleCannotCreate,
            "creating files needs the editor or admin role",
        )),
        Decision::Denied(DenyReason::InsufficientAccess { required, .. }) => {
            Err(ServiceError::forbidden(
                ErrorCode::AccessDenied,
                format!("this needs {required} access to the file"),
            ))
        }
    }
}

fn require_status(file: &FileRecord, status: FileStatus) -> Result<(), ServiceError> {
    if file.status == status {
        return Ok(());
    }
    let code = match file.status {
        FileStatus::Pending => ErrorCode::FilePending,
        FileStatus::Scanning => ErrorCode::FileScanning,
        FileStatus::Available => ErrorCode::FileAvailable,
        FileStatus::Quarantined => ErrorCode::FileQuarantined,
        FileStatus::Deleted => ErrorCode::FileDeleted,
    };
    Err(ServiceError::new(
        ErrorKind::Conflict,
        code,
        format!("the file is {}; this needs it {status}", file.status),
    ))
}

/// Fields shared by direct and streamed uploads, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFileFields {
    pub filename: Filename,
    pub content_type: Option<ContentType>,
    pub category: Option<Category>,
    pub path: Option<LogicalPath>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<Metadata>,
    pub checksum_sha256: Option<Sha256Digest>,
}
