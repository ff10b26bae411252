//! Sharing: the grants of one file.

use std::sync::Arc;

use coffer_domain::{Access, Action, ErrorCode, FileId, FileStatus, Grant, GrantId, GrantSubject};
use coffer_ports::{Clock, MetadataErrorKind, NewGrant, TenantDataResolver};
use serde_json::json;
use time::OffsetDateTime;

use crate::files::{AuthorizedFile, FileAccess};
use crate::recorder::Recorder;
use crate::{Caller, ServiceError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddGrant {
    pub subject: GrantSubject,
    pub access: Access,
    pub expires_at: Option<OffsetDateTime>,
}

/// Who else may reach a file: its grants, managed by those who may share it.
#[derive(Clone)]
pub struct Sharing {
    tenant_data: Arc<dyn TenantDataResolver>,
    clock: Arc<dyn Clock>,
    access: FileAccess,
    recorder: Recorder,
}

impl Sharing {
    pub fn new(tenant_data: Arc<dyn TenantDataResolver>, clock: Arc<dyn Clock>) -> Self {
        Self {
            tenant_data,
            access: FileAccess::new(clock.clone()),
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// # Errors
    /// `Forbidden` without manage access.
    pub async fn list_grants(
        &self,
        caller: &Caller,
        file: FileId,
    ) -> Result<Vec<Grant>, ServiceError> {
        Ok(self
            .access
            .member_file(self.tenant_data.as_ref(), caller, file, Action::Share)
            .await?
            .stored
            .grants)
    }

    /// Grant access; an existing grant to the same subject is replaced.
    ///
    /// # Errors
    /// `Forbidden` without manage access; `Invalid` for an expiry in the past;
    /// `Conflict` on a deleted file.
    pub async fn add_grant(
        &self,
        caller: &Caller,
        file: FileId,
        request: AddGrant,
    ) -> Result<Grant, ServiceError> {
        let AuthorizedFile {
            scope,
            data,
            stored,
            ..
        } = self
            .access
            .member_file(self.tenant_data.as_ref(), caller, file, Action::Share)
            .await?;
        if stored.file.status == FileStatus::Deleted {
            return Err(ServiceError::conflict(
                ErrorCode::FileDeleted,
                "the file is in the trash",
            ));
        }
        let now = self.clock.now();
        if request.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::invalid(
                ErrorCode::ExpiryInPast,
                "expires_at must lie in the future",
            ));
        }
        let grant = NewGrant {
            id: GrantId::new_random(),
            file_id: file,
            subject: request.subject,
            access: request.access,
            expires_at: request.expires_at,
            created_by: caller.principal.subject.clone(),
            created_at: now,
        };
        let journal = self.recorder.announce(
            caller,
            "grant.added",
            &stored.file,
            json!({ "grant": grant.id, "subject": grant.subject.to_string(), "access": grant.access }),
        );
        data.grants
            .put_grant(&scope, grant, journal)
            .await
            .map_err(ServiceError::from_file_lookup)
    }

    /// # Errors
    /// `NotFound` when the grant is not on that file.
    pub async fn remove_grant(
        &self,
        caller: &Caller,
        file: FileId,
        grant: GrantId,
    ) -> Result<(), ServiceError> {
        let AuthorizedFile {
            scope,
            data,
            stored,
            ..
        } = self
            .access
            .member_file(self.tenant_data.as_ref(), caller, file, Action::Share)
            .await?;
        let journal = self.recorder.announce(
            caller,
            "grant.removed",
            &stored.file,
            json!({ "grant": grant }),
        );
        data.grants
            .delete_grant(&scope, file, grant, journal)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::NotFound) {
                    ServiceError::not_found("grant")
                } else {
                    err.into()
                }
            })
    }
}
