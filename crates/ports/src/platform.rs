//! The platform path across tenants: usage for operators, and the purge of
//! a cancelled tenant, which outlives the tenant's own audit log.

use coffer_domain::{Plan, Subject, TenantId, TenantSlug, TenantStatus, Usage};
use time::OffsetDateTime;

/// A record of the platform audit log (platform actions on whole tenants,
/// kept after the tenant's own records are gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformRecord {
    pub actor: Subject,
    pub action: String,
    pub detail: serde_json::Value,
    pub at: OffsetDateTime,
}

/// One tenant's usage, as the platform path reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantUsage {
    pub tenant: TenantId,
    pub slug: TenantSlug,
    pub plan: Plan,
    pub status: TenantStatus,
    pub usage: Usage,
    pub users: u64,
    /// The tenant's data is in a database of its own: `usage` and `users`
    /// are zero here, and its [`crate::FileCatalog::usage`] and
    /// [`crate::Members::count_users`] have the numbers.
    pub dedicated: bool,
    /// For keyset paging, as [`coffer_domain::Tenant::page_cursor`].
    pub created_at: OffsetDateTime,
}

impl TenantUsage {
    /// `tenant`'s usage as the database that holds its counters read it. A
    /// tenant with a database of its own is marked [`Self::dedicated`]: its
    /// counters are there, not in the registry.
    pub fn new(tenant: coffer_domain::Tenant, usage: Usage, users: u64) -> Self {
        Self {
            dedicated: tenant.keeps_data_apart(),
            tenant: tenant.id,
            slug: tenant.slug,
            plan: tenant.plan,
            status: tenant.status,
            usage,
            users,
            created_at: tenant.created_at,
        }
    }

    pub fn page_cursor(&self) -> coffer_domain::PageCursor {
        coffer_domain::PageCursor {
            created_at: self.created_at,
            id: *self.tenant.as_uuid(),
        }
    }
}
