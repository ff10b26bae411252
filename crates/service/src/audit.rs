//! Reading the audit log: tenant administrators see what happened in their
//! tenant.

use std::sync::Arc;

use coffer_ports::{AuditEntry, AuditQuery, Page, TenantDataResolver};

use crate::{Caller, ServiceError};

/// The tenant's audit log, as its administrators read it.
#[derive(Clone)]
pub struct Audit {
    tenant_data: Arc<dyn TenantDataResolver>,
}

impl Audit {
    pub fn new(tenant_data: Arc<dyn TenantDataResolver>) -> Self {
        Self { tenant_data }
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
        let (tenant, scope) = caller.admin("the audit log")?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let query = AuditQuery {
            limit: query.limit.clamp(1, 1000),
            ..query
        };
        Ok(data.audit.list_audit(&scope, &query).await?)
    }
}
