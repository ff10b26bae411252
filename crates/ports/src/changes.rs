//! Changes to tenants that other instances must hear of at once: the
//! service caches tenants and their configuration, and drops an entry as
//! soon as the tenant changes anywhere.

use coffer_domain::TenantId;
use futures::stream::BoxStream;

/// What a [`TenantChanges`] subscription reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantChange {
    /// The tenant, its settings or its feature flags changed (committed).
    Tenant(TenantId),
    /// Changes may have been missed (the subscription was (re)established):
    /// forget every cached tenant.
    All,
}

/// A feed of committed tenant changes, from every process sharing the
/// metadata store (PostgreSQL: `LISTEN/NOTIFY`). A store a single process
/// owns (SQLite) reports nothing: the service forgets its own changes
/// locally anyway.
pub trait TenantChanges: Send + Sync + 'static {
    /// Changes from now on. The stream keeps itself alive (reconnecting
    /// when its connection drops, reporting [`TenantChange::All`] after each
    /// (re)connection) and ends only when the feed is shut down.
    fn subscribe(&self) -> BoxStream<'static, TenantChange>;
}

/// Reports nothing, ever: for stores of a single process.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTenantChanges;

impl TenantChanges for NoTenantChanges {
    fn subscribe(&self) -> BoxStream<'static, TenantChange> {
        Box::pin(futures::stream::pending())
    }
}
