//! Platform metrics: the one use case that reads across tenants, through
//! the registry's explicit platform path, for platform admins only. A
//! tenant with a database of its own counts its files and users there.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_domain::{PageCursor, TenantStatus};
use coffer_ports::{TenantDataResolver, TenantRegistry, TenantScope, TenantUsage};

use crate::{Caller, ServiceError};

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

/// What platform administrators see of the whole platform.
#[derive(Clone)]
pub struct Platform {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
}

impl Platform {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
    ) -> Self {
        Self {
            registry,
            tenant_data,
        }
    }

    /// # Errors
    /// `Forbidden` for anyone but a platform admin.
    pub async fn platform_metrics(&self, caller: &Caller) -> Result<PlatformMetrics, ServiceError> {
        caller.require_platform_admin()?;
        let mut metrics = PlatformMetrics::default();
        let mut after = None;
        loop {
            let page = self.registry.tenant_usage(after, 500).await?;
            for mut tenant in page.items {
                self.count_own_usage(&mut tenant).await?;
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

    /// The usage and users of a tenant with a dedicated database, which
    /// the registry has as zero, from its own data. A tenant whose
    /// onboarding has not made its database yet has none to count.
    async fn count_own_usage(&self, item: &mut TenantUsage) -> Result<(), ServiceError> {
        let placed = !matches!(
            item.status,
            TenantStatus::Provisioning | TenantStatus::ProvisioningFailed
        );
        if !item.dedicated || !placed {
            return Ok(());
        }
        let tenant = self.registry.get_tenant(item.tenant).await?;
        let data = self.tenant_data.tenant_data(&tenant).await?;
        let scope = TenantScope::new(tenant.id);
        let (usage, users) =
            futures::future::try_join(data.files.usage(&scope), data.members.count_users(&scope))
                .await?;
        item.usage = usage;
        item.users = users;
        Ok(())
    }
}
