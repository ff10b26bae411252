//! Registering what a client wrote with upload-session credentials
//! (docs/storage.md, "Temporary credentials"): each object is verified like
//! any upload — size, SHA-256, type sniff, scan — counted against the
//! quota and plan limits, and copied to a verified key; refused bytes are
//! removed. Each entry stands alone: one refusal does not undo the others.

use coffer_domain::{
    Category, ContentType, ErrorCode, FileRecord, Filename, LogicalPath, MAX_OBJECT_SIZE, Metadata,
    ObjectKey, Sha256Digest, UploadSessionId, Visibility, is_storable,
};
use coffer_ports::{ObjectLocation, StoreErrorKind, TenantData, TenantScope, UploadSession};
use serde_json::json;

use super::upload::reservation_error;
use super::{Files, NewFileFields};
use crate::{Caller, ErrorKind, ServiceError};

/// The most entries one registration takes.
pub const MAX_SESSION_ENTRIES: usize = 1000;

/// One object of a session to register as a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionEntry {
    /// The object's name under the session's prefix, as the client wrote it.
    pub key: String,
    /// Default: the key's last segment.
    pub filename: Option<Filename>,
    /// Default: the key's folders (`2026/q1/report.pdf` → `/2026/q1`), so
    /// that a synced directory keeps its layout.
    pub path: Option<LogicalPath>,
    /// Default: guessed from the filename; the bytes must agree either way.
    pub content_type: Option<ContentType>,
    pub category: Option<Category>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<Metadata>,
    /// When given, the bytes must hash to it.
    pub checksum_sha256: Option<Sha256Digest>,
}

impl SessionEntry {
    /// The file's fields, with the defaults the key gives.
    fn into_fields(self) -> Result<NewFileFields, ServiceError> {
        let (folders, last) = match self.key.rsplit_once('/') {
            Some((folders, last)) => (Some(folders), last),
            None => (None, self.key.as_str()),
        };
        let filename = match self.filename {
            Some(filename) => filename,
            None => Filename::new(last)?,
        };
        let path = match (self.path, folders) {
            (Some(path), _) => Some(path),
            (None, Some(folders)) => Some(LogicalPath::new(format!("/{folders}"))?),
            (None, None) => None,
        };
        Ok(NewFileFields {
            filename,
            content_type: self.content_type,
            category: self.category,
            path,
            visibility: self.visibility,
            metadata: self.metadata,
            checksum_sha256: self.checksum_sha256,
        })
    }
}

/// An entry that did not become a file, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedEntry {
    pub key: String,
    pub error: ServiceError,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionRegistration {
    pub registered: Vec<FileRecord>,
    pub refused: Vec<RefusedEntry>,
}

impl Files {
    /// Register objects of an upload session as files. Entries may be
    /// registered in several calls until the session's registration window
    /// closes; a registered object is gone from the session.
    ///
    /// # Errors
    /// `NotFound` for an unknown session (or another tenant's); `Forbidden`
    /// for a viewer, or for a session of another member (unless the caller
    /// is a tenant admin); `Conflict` (`upload_session_expired`) after the
    /// window; `Invalid` (`invalid_manifest`) for no entries, too many, or
    /// a key twice. Per entry, the errors of an upload.
    pub async fn register_session(
        &self,
        caller: &Caller,
        id: UploadSessionId,
        entries: Vec<SessionEntry>,
    ) -> Result<SessionRegistration, ServiceError> {
        let (tenant, scope) = self.creator(caller)?;
        let session = self
            .sessions
            .session(tenant.id, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("upload session"))?;
        if session.created_by != caller.principal.subject && !caller.principal.is_tenant_admin() {
            return Err(ServiceError::forbidden(
                ErrorCode::AccessDenied,
                "only who opened an upload session (or a tenant admin) registers its uploads",
            ));
        }
        if self.clock.now() > session.registrable_until {
            return Err(ServiceError::conflict(
                ErrorCode::UploadSessionExpired,
                "this upload session's registration window has closed; its uploads are being removed",
            ));
        }
        check_manifest(&entries)?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let mut outcome = SessionRegistration::default();
        for entry in entries {
            let key = entry.key.clone();
            match self
                .register_entry(caller, &data, &scope, &session, entry)
                .await
            {
                Ok(file) => outcome.registered.push(file),
                Err(error) => {
                    if error.kind == ErrorKind::Internal {
                        tracing::error!(session = %id, key, error = %error, "registering a session object failed");
                    }
                    outcome.refused.push(RefusedEntry { key, error });
                }
            }
        }
        Ok(outcome)
    }

    async fn register_entry(
        &self,
        caller: &Caller,
        data: &TenantData,
        scope: &TenantScope,
        session: &UploadSession,
        entry: SessionEntry,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, _) = caller.member()?;
        let key = ObjectKey::in_session(tenant.id, session.id, &entry.key)?;
        let name = entry.key.clone();
        let fields = entry.into_fields()?;
        let source = ObjectLocation::new(tenant.id, session.bucket.clone(), key)?;
        let store = self.store_of(tenant);
        let size = match store.head(&source).await {
            Ok(object) => object.size,
            Err(err) if err.is(StoreErrorKind::NotFound) => {
                return Err(ServiceError::conflict(
                    ErrorCode::UploadMissing,
                    "nothing (or nothing any more) was uploaded at this key of the session",
                ));
            }
            Err(err) => return Err(err.into()),
        };
        if !is_storable(size) {
            return Err(ServiceError::invalid(
                ErrorCode::SizeOutOfRange,
                format!("an object must be at most {MAX_OBJECT_SIZE} bytes"),
            ));
        }
        let eff = self.configs.effective_config(tenant).await?;
        let limits = eff.limits();
        let content_type = fields
            .content_type
            .clone()
            .unwrap_or_else(|| ContentType::guess_from(&fields.filename));
        if let Err(refused) = limits.check_file(size, &content_type) {
            // Bytes the tenant may not keep do not stay in its bucket.
            self.discard(store, &source).await;
            return Err(refused.into());
        }
        let now = self.clock.now();
        let mut new = self.new_file(caller, tenant, fields, content_type, size, now)?;
        // The bytes are at the session's key; the staging key of the row
        // is never written (a sweep of the row finds nothing there).
        new.key = ObjectKey::staging(tenant.id, new.id);
        let journal = self.recorder.journal(
            caller,
            "file.upload_initiated",
            Some(new.id),
            json!({ "size": size, "upload_session": session.id, "key": name }),
        );
        let file = data
            .files
            .reserve_upload(scope, new, &limits, journal)
            .await
            .map_err(reservation_error)?;
        let finished = self
            .finish_upload(
                caller,
                data,
                &file,
                &source,
                json!({ "upload_session": session.id }),
            )
            .await;
        if finished.is_err() {
            let journal = self.recorder.journal(
                caller,
                "file.upload_abandoned",
                Some(file.id),
                json!({ "upload_session": session.id }),
            );
            if let Err(undo) = data.files.remove_file(scope, file.id, Some(journal)).await {
                tracing::warn!(file = %file.id, error = %undo, "could not release a refused registration; the sweep will");
            }
        }
        finished
    }
}

fn check_manifest(entries: &[SessionEntry]) -> Result<(), ServiceError> {
    if entries.is_empty() || entries.len() > MAX_SESSION_ENTRIES {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidManifest,
            format!("register 1 to {MAX_SESSION_ENTRIES} objects at a time"),
        ));
    }
    let mut keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(twice) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidManifest,
            format!("the key {:?} is listed twice", twice[0]),
        ));
    }
    Ok(())
}
