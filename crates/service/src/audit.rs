use coffer_domain::FileId;
use coffer_ports::{AuditEntry, AuditQuery, NewAudit, Page, TenantScope};

use crate::{Caller, Coffer, ServiceError};

impl Coffer {
    /// Append to the tenant's audit log.
    pub(crate) async fn record(
        &self,
        caller: &Caller,
        scope: &TenantScope,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let entry = NewAudit {
            actor: caller.principal.subject.clone(),
            action: action.to_owned(),
            file_id,
            detail,
            request_id: caller.request.request_id.clone(),
            client_addr: caller.request.client_addr.clone(),
            at: self.clock.now(),
        };
        self.meta.append_audit(scope, entry).await?;
        Ok(())
    }

    /// Record a change that has already happened: a failure to record is
    /// logged, not returned, since the change cannot be undone here.
    pub(crate) async fn record_after(
        &self,
        caller: &Caller,
        scope: &TenantScope,
        action: &str,
        file_id: Option<FileId>,
        detail: serde_json::Value,
    ) {
        if let Err(err) = self.record(caller, scope, action, file_id, detail).await {
            tracing::error!(action, error = %err, "audit record lost");
        }
    }

    /// The tenant's audit log, for tenant admins.
    ///
    /// # Errors
    /// `Forbidden` unless the caller is a tenant admin.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        query: AuditQuery,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        let (_, scope) = caller.member()?;
        if !caller.principal.is_tenant_admin() {
            return Err(ServiceError::forbidden(
                "admin_required",
                "the audit log is for tenant administrators",
            ));
        }
        let query = AuditQuery {
            limit: query.limit.clamp(1, 1000),
            ..query
        };
        Ok(self.meta.list_audit(&scope, &query).await?)
    }
}
