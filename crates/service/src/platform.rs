//! Platform metrics: the one use case that reads across tenants, through
//! the store's explicit platform path, for platform admins only.

use std::collections::BTreeMap;

use coffer_domain::PageCursor;
use coffer_ports::TenantUsage;

use crate::{Caller, Coffer, ServiceError};

/// Tenants by status and plan, and totals of files, bytes and users, with
/// each tenant's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformMetrics {
    pub tenants: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_plan: BTreeMap<String, u64>,
    pub files: u64,
    pub bytes: u64,
    pub users: u64,
    pub usage: Vec<TenantUsage>,
}

impl Coffer {
    /// # Errors
    /// `Forbidden` for anyone but a platform admin.
    pub async fn platform_metrics(&self, caller: &Caller) -> Result<PlatformMetrics, ServiceError> {
        caller.require_platform_admin()?;
        let mut metrics = PlatformMetrics::default();
        let mut after = None;
        loop {
            let page = self.meta.tenant_usage(after, 500).await?;
            for tenant in page.items {
                metrics.tenants += 1;
                *metrics
                    .by_status
                    .entry(tenant.status.to_string())
                    .or_default() += 1;
                *metrics.by_plan.entry(tenant.plan.to_string()).or_default() += 1;
                metrics.files += tenant.usage.file_count;
                metrics.bytes += tenant.usage.used_bytes;
                metrics.users += tenant.users;
                metrics.usage.push(tenant);
            }
            match page.next_cursor {
                Some(cursor) => after = Some(PageCursor::decode(&cursor)?),
                None => return Ok(metrics),
            }
        }
    }
}
