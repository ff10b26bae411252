//! The record of what callers do: the [`Journal`] a change carries into
//! its transaction, and the audit entries of accesses, reads and refusals,
//! which are not changes (docs/audit.md lists every action).

use std::sync::Arc;

use coffer_domain::{Action, FileId, FileRecord, Subject};
use coffer_ports::{Clock, Journal, NewAudit, NewEvent, TenantData, TenantScope};
use serde_json::json;

use crate::{Caller, ErrorKind, RequestMeta, ServiceError};

/// Makes audit entries and events, stamped by the clock.
#[derive(Clone)]
pub(crate) struct Recorder {
    clock: Arc<dyn Clock>,
}

impl Recorder {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    /// The audit entry of what `caller` does now.
    fn audit_entry(
        &self,
        caller: &Caller,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) -> NewAudit {
        self.entry_of(
            caller.actor().clone(),
            &caller.request,
            action,
            file_id,
            detail,
        )
    }

    /// The audit entry of what `actor` does now, asked for by `request`
    /// (also for actors that are not callers: an outside party using a
    /// share link).
    pub(crate) fn entry_of(
        &self,
        actor: Subject,
        request: &RequestMeta,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) -> NewAudit {
        NewAudit {
            actor,
            action: action.to_owned(),
            file_id,
            detail,
            request_id: request.request_id.clone(),
            client_addr: request.client_addr.clone(),
            at: self.clock.now(),
        }
    }

    /// A change that goes on record in the audit log only.
    pub(crate) fn journal(
        &self,
        caller: &Caller,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) -> Journal {
        Journal::audit(self.audit_entry(caller, action, file_id, detail))
    }

    /// A change that goes on record and is announced as the event `action`,
    /// with the file as it was when the change was decided.
    pub(crate) fn announce(
        &self,
        caller: &Caller,
        action: &str,
        file: &FileRecord,
        detail: serde_json::Value,
    ) -> Journal {
        let event = NewEvent {
            id: uuid::Uuid::now_v7(),
            kind: action.to_owned(),
            data: json!({
                "file": {
                    "id": file.id,
                    "filename": file.filename,
                    "path": file.path,
                    "category": file.category,
                    "content_type": file.content_type,
                    "size": file.size_bytes,
                },
                "actor": caller.actor(),
                "detail": detail,
            }),
        };
        Journal::announced(
            self.audit_entry(caller, action, Some(file.id), detail),
            event,
        )
    }

    /// A tenant change that goes on record and is announced as `action`.
    pub(crate) fn announce_tenant(
        &self,
        caller: &Caller,
        action: &str,
        detail: serde_json::Value,
    ) -> Journal {
        let event = NewEvent {
            id: uuid::Uuid::now_v7(),
            kind: action.to_owned(),
            data: json!({ "actor": caller.actor(), "detail": detail }),
        };
        Journal::announced(self.audit_entry(caller, action, None, detail), event)
    }

    /// Append to the tenant's audit log what is not a change (a download
    /// URL issued, content streamed): it must be on record before the
    /// access is granted, so a failure is the caller's error.
    pub(crate) async fn record(
        &self,
        data: &TenantData,
        caller: &Caller,
        scope: &TenantScope,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let entry = self.audit_entry(caller, action, file_id, detail);
        data.audit.append_audit(scope, entry).await?;
        Ok(())
    }

    /// Record a refused attempt on file `id`: `file.access_denied` when the
    /// file is the caller's tenant's and the caller lacks the right,
    /// `file.not_found` when the caller's tenant has no such file (which
    /// may be another tenant's: that tenant's log is never consulted, so it
    /// records nothing).
    pub(crate) async fn record_refusal(
        &self,
        data: &TenantData,
        caller: &Caller,
        scope: &TenantScope,
        id: FileId,
        action: Action,
        refusal: &ServiceError,
    ) -> Result<(), ServiceError> {
        let name = if refusal.kind == ErrorKind::NotFound {
            "file.not_found"
        } else {
            "file.access_denied"
        };
        let detail = json!({ "action": action_name(action), "code": refusal.code });
        self.record(data, caller, scope, name, Some(id), detail)
            .await
    }

    /// Record what an operator command did to the tenant's audit log.
    pub(crate) async fn record_operator(
        &self,
        data: &TenantData,
        scope: &TenantScope,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let entry = NewAudit {
            actor: Subject::system(),
            action: action.to_owned(),
            file_id: None,
            detail,
            request_id: None,
            client_addr: None,
            at: self.clock.now(),
        };
        data.audit.append_audit(scope, entry).await?;
        Ok(())
    }
}

/// An action's name in audit details.
fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Read => "read",
        Action::Write => "write",
        Action::ChangeVisibility => "change_visibility",
        Action::Share => "share",
        Action::Delete => "delete",
    }
}

/// What the platform itself does to a tenant (a job's step, not a
/// caller's request), recorded as `system:coffer`.
pub(crate) fn system_journal(
    at: time::OffsetDateTime,
    action: &str,
    detail: serde_json::Value,
) -> Journal {
    Journal::audit(NewAudit {
        actor: Subject::system(),
        action: action.to_owned(),
        file_id: None,
        detail,
        request_id: None,
        client_addr: None,
        at,
    })
}
