//! File use cases: upload (direct, multipart, streamed), read, change, delete.

mod manage;
mod read;
mod records;
mod session;
mod upload;
mod verify;
mod versions;

use std::sync::Arc;

use coffer_domain::{
    Action, Category, ContentType, Decision, DenyReason, ErrorCode, FileId, FileRecord, FileStatus,
    Filename, LogicalPath, Metadata, Sha256Digest, Visibility, decide,
};
use coffer_ports::{
    Clock, ObjectLocation, ScanQueue, StoreError, StoredFile, TenantData, TenantDataResolver,
    TenantScope, UploadSessions,
};

use crate::erase::Eraser;
use crate::recorder::Recorder;
use crate::{Caller, EffectiveConfigs, ErrorKind, ServiceConfig, ServiceError, Stores};

pub use read::ListFiles;
pub(crate) use records::removal_refused;
pub use records::{HoldRequest, RetentionChange};
pub use session::{MAX_SESSION_ENTRIES, RefusedEntry, SessionEntry, SessionRegistration};
pub use upload::{
    InitiateUpload, InitiatedUpload, MultipartUpload, PartRequest, PresignedPart, ReceivedParts,
    StreamUpload, UploadTarget,
};
pub use versions::InitiateVersion;

/// A change to a file; `metadata` is an RFC 7396 merge patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateFile {
    pub filename: Option<Filename>,
    pub path: Option<LogicalPath>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A tenant's files: upload, read, change, delete. Every use case reads
/// the tenant's effective configuration, and reaches the object store of
/// the tenant's region only.
#[derive(Clone)]
pub struct Files {
    tenant_data: Arc<dyn TenantDataResolver>,
    /// Where uploads wait for a malware scan; `None` where the deployment
    /// has no scanner.
    scans: Option<Arc<dyn ScanQueue>>,
    /// Upload sessions, whose objects [`Files::register_session`] turns into files.
    sessions: Arc<dyn UploadSessions>,
    stores: Arc<Stores>,
    configs: EffectiveConfigs,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    access: FileAccess,
    recorder: Recorder,
    eraser: Eraser,
}

impl Files {
    pub fn new(
        tenant_data: Arc<dyn TenantDataResolver>,
        scans: Option<Arc<dyn ScanQueue>>,
        sessions: Arc<dyn UploadSessions>,
        stores: Arc<Stores>,
        configs: EffectiveConfigs,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            access: FileAccess::new(clock.clone()),
            recorder: Recorder::new(clock.clone()),
            eraser: Eraser::new(stores.clone(), clock.clone()),
            tenant_data,
            scans,
            sessions,
            stores,
            configs,
            clock,
            config,
        }
    }

    /// Whether a verified upload of `file` waits for a malware scan. When it
    /// does, the scan is queued first, so that no file is ever `scanning`
    /// without a job to scan it.
    async fn awaits_scan(
        &self,
        tenant: &coffer_domain::Tenant,
        file: FileId,
    ) -> Result<bool, ServiceError> {
        let Some(scans) = &self.scans else {
            return Ok(false);
        };
        let eff = self.configs.effective_config(tenant).await?;
        if !crate::scanning::scans_uploads(&self.config, tenant, &eff) {
            return Ok(false);
        }
        scans.queue_scan(tenant.id, file, self.clock.now()).await?;
        Ok(true)
    }

    /// What a verified upload of `file` becomes subject to: whether it
    /// waits for a scan (queued here), and the tenant's default retention.
    async fn record_rules(
        &self,
        tenant: &coffer_domain::Tenant,
        file: &coffer_domain::FileRecord,
        now: time::OffsetDateTime,
    ) -> Result<(bool, Option<coffer_domain::Retention>), ServiceError> {
        let awaits_scan = self.awaits_scan(tenant, file.id).await?;
        let retention = self.default_retention(tenant, file, now).await?;
        Ok((awaits_scan, retention))
    }

    /// The store of `tenant`'s objects.
    fn store_of(&self, tenant: &coffer_domain::Tenant) -> &dyn coffer_ports::ObjectStore {
        self.stores.for_tenant(tenant).as_ref()
    }
}

/// A file of the caller's tenant that the caller may act on, with the
/// stores of that tenant's data.
pub(crate) struct AuthorizedFile<'c> {
    pub(crate) tenant: &'c coffer_domain::Tenant,
    pub(crate) scope: TenantScope,
    pub(crate) data: Arc<TenantData>,
    pub(crate) stored: StoredFile,
}

/// Who may do what to a file: loads it and decides an action on it at the
/// clock's time (grants expire). Every refusal is on record (the one place
/// that records them).
#[derive(Clone)]
pub(crate) struct FileAccess {
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl FileAccess {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// [`FileAccess::authorized_file`] for a member of an active tenant,
    /// whose data `resolver` finds.
    pub(crate) async fn member_file<'c>(
        &self,
        resolver: &dyn TenantDataResolver,
        caller: &'c Caller,
        id: FileId,
        action: Action,
    ) -> Result<AuthorizedFile<'c>, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = resolver.tenant_data(tenant).await?;
        let stored = self
            .authorized_file(&data, caller, &scope, id, action)
            .await?;
        Ok(AuthorizedFile {
            tenant,
            scope,
            data,
            stored,
        })
    }

    /// Load a file of the caller's tenant and check `action` on it. A
    /// refusal (`403`, or `404` for an id its tenant has no file of) is
    /// recorded in the caller's tenant's audit log before it is returned.
    pub(crate) async fn authorized_file(
        &self,
        data: &TenantData,
        caller: &Caller,
        scope: &TenantScope,
        id: FileId,
        action: Action,
    ) -> Result<StoredFile, ServiceError> {
        let refused = match data.files.get_file(scope, id).await {
            Ok(stored) => {
                let decision = decide(
                    &caller.principal,
                    coffer_domain::Resource::File(&stored.file),
                    action,
                    &stored.grants,
                    self.clock.now(),
                );
                match check(decision) {
                    Ok(()) => return Ok(stored),
                    Err(refused) => refused,
                }
            }
            Err(e) => ServiceError::from_file_lookup(e),
        };
        if matches!(refused.kind, ErrorKind::NotFound | ErrorKind::Forbidden) {
            self.recorder
                .record_refusal(data, caller, scope, id, action, &refused)
                .await?;
        }
        Err(refused)
    }
}

/// Where `file`'s object is.
pub(crate) fn location(file: &FileRecord) -> Result<ObjectLocation, StoreError> {
    ObjectLocation::new(file.tenant_id, file.bucket.clone(), file.key.clone())
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

pub(crate) fn require_status(file: &FileRecord, status: FileStatus) -> Result<(), ServiceError> {
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
