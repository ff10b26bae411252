//! The in-process caches of the hot path, one instance per [`crate::Coffer`]
//! shared by every group that reads or changes tenants: a change made
//! through one group must drop what another group cached.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use coffer_domain::{Role, Subject, Tenant, TenantConfig, TenantId, TenantSlug, UserId};
use coffer_ports::{MetadataErrorKind, TenantChange, TenantChanges, TenantClaim, TenantRegistry};
use futures::StreamExt as _;
use moka::Expiry;
use moka::sync::Cache;

use crate::ServiceError;

/// Resolved tenants and their stored configuration (settings and feature
/// flags) with a short TTL, dropped at once when a tenant changes — in this
/// process, or in another one (see [`TenantCaches::follow_changes`]) — and
/// users already provisioned with the same roles, so that steady traffic
/// costs no extra writes.
pub struct TenantCaches {
    tenants: Cache<TenantClaim, Tenant>,
    /// Slugs are immutable: which slug entry to drop for a tenant id.
    slugs: Cache<TenantId, TenantSlug>,
    configs: Cache<TenantId, Arc<TenantConfig>>,
    /// Keyed by the tenant's home too: a user id cached before a move is
    /// not taken for one in the database it moved to.
    pub(crate) users: Cache<(TenantId, Option<String>, Subject, Vec<Role>), UserId>,
    /// How many times anything was dropped: a value read before a drop
    /// and cached after it would be stale, and is dropped again.
    drops: AtomicU64,
    /// Tenants whose webhook the event dispatcher (which keeps every
    /// webhook in memory) must read again: every tenant that changed.
    webhooks: Mutex<StaleWebhooks>,
}

/// What the event dispatcher must read again of the webhooks it holds.
#[derive(Debug, Default)]
pub(crate) struct StaleWebhooks {
    /// All of them (changes may have been missed, or never read yet).
    pub(crate) all: bool,
    pub(crate) tenants: HashSet<TenantId>,
}

impl std::fmt::Debug for TenantCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCaches").finish_non_exhaustive()
    }
}

/// Tenants kept at once: above the 10,000 active tenants of a large
/// deployment (docs/benchmarks.md), so that requests spread over all of them
/// do not evict one another and read the registry. An entry is a tenant row
/// (under a kilobyte); entries exist only for tenants seen.
const MAX_TENANTS: u64 = 100_000;

/// How long a provisioned user is kept at most.
const USER_TTL: Duration = Duration::from_secs(300);

/// Keeps each entry for between half its TTL and the whole of it, drawn
/// per entry. Entries cached together — every tenant after a restart, or a
/// burst over many tenants — would otherwise expire together and all be
/// read again within the same seconds, every TTL (at 10,000 tenants, up to
/// a third of a 10-second run's requests; docs/benchmarks.md). The TTL
/// stays the bound on staleness.
struct SpreadTtl {
    ttl: Duration,
    draw: RandomState,
}

impl SpreadTtl {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            draw: RandomState::new(),
        }
    }

    fn lifetime(&self, entry: impl Hash) -> Duration {
        let half = self.ttl / 2;
        let range = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let extra = self.draw.hash_one(entry) % range.saturating_add(1);
        half + Duration::from_nanos(extra)
    }
}

impl<K: Hash, V> Expiry<K, V> for SpreadTtl {
    fn expire_after_create(&self, key: &K, _value: &V, created_at: Instant) -> Option<Duration> {
        Some(self.lifetime((key, created_at)))
    }
}

impl TenantCaches {
    /// Tenants and their configuration are kept for at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            tenants: Cache::builder()
                .max_capacity(MAX_TENANTS)
                .expire_after(SpreadTtl::new(ttl))
                .build(),
            slugs: Cache::builder().max_capacity(MAX_TENANTS).build(),
            configs: Cache::builder()
                .max_capacity(MAX_TENANTS)
                .expire_after(SpreadTtl::new(ttl))
                .build(),
            users: Cache::builder()
                .max_capacity(100_000)
                .expire_after(SpreadTtl::new(USER_TTL))
                .build(),
            drops: AtomicU64::new(0),
            webhooks: Mutex::new(StaleWebhooks {
                all: true,
                tenants: HashSet::new(),
            }),
        }
    }

    /// The webhooks to read again since the last call (see
    /// [`TenantCaches::webhook_changed`]).
    pub(crate) fn take_stale_webhooks(&self) -> StaleWebhooks {
        std::mem::take(&mut *self.webhooks.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The tenant's webhook may have changed (`None`: any tenant's).
    pub(crate) fn webhook_changed(&self, tenant: Option<TenantId>) {
        let mut stale = self.webhooks.lock().unwrap_or_else(PoisonError::into_inner);
        match tenant {
            Some(id) => {
                stale.tenants.insert(id);
            }
            None => stale.all = true,
        }
    }

    /// Where the drops stand: taken before reading what is to be cached.
    pub(crate) fn drops_seen(&self) -> u64 {
        self.drops.load(Ordering::SeqCst)
    }

    /// Whether something was dropped since `seen`. Checked after caching a
    /// value read since `seen`: a change that committed while it was being
    /// read (its drop came before the insert) would otherwise stay cached
    /// until the TTL.
    fn dropped_since(&self, seen: u64) -> bool {
        self.drops.load(Ordering::SeqCst) != seen
    }

    pub(crate) fn config(&self, tenant: TenantId) -> Option<Arc<TenantConfig>> {
        self.configs.get(&tenant)
    }

    /// Caches a tenant's configuration read since `seen` ([`Self::drops_seen`]).
    pub(crate) fn cache_config(&self, tenant: TenantId, config: Arc<TenantConfig>, seen: u64) {
        self.configs.insert(tenant, config);
        if self.dropped_since(seen) {
            self.configs.invalidate(&tenant);
        }
    }

    /// The tenant a claim names, read from `registry` unless cached; `None`
    /// when there is none.
    pub(crate) async fn resolve(
        &self,
        registry: &dyn TenantRegistry,
        claim: &TenantClaim,
    ) -> Result<Option<Tenant>, ServiceError> {
        if let Some(tenant) = self.tenants.get(claim) {
            return Ok(Some(tenant));
        }
        let seen = self.drops_seen();
        let found = match claim {
            TenantClaim::Id(id) => registry.get_tenant(*id).await,
            TenantClaim::Slug(slug) => registry.find_tenant_by_slug(slug).await,
        };
        match found {
            Ok(tenant) => {
                self.slugs.insert(tenant.id, tenant.slug.clone());
                self.tenants.insert(claim.clone(), tenant.clone());
                if self.dropped_since(seen) {
                    self.tenants.invalidate(claim);
                }
                Ok(Some(tenant))
            }
            Err(err) if err.is(MetadataErrorKind::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub(crate) fn forget_tenant(&self, tenant: &Tenant) {
        self.forget_tenant_id(tenant.id);
        self.tenants
            .invalidate(&TenantClaim::Slug(tenant.slug.clone()));
    }

    /// Drop everything cached about the tenant `id`.
    pub(crate) fn forget_tenant_id(&self, id: TenantId) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        self.tenants.invalidate(&TenantClaim::Id(id));
        if let Some(slug) = self.slugs.get(&id) {
            self.tenants.invalidate(&TenantClaim::Slug(slug));
        }
        self.configs.invalidate(&id);
        self.webhook_changed(Some(id));
    }

    /// Drop every cached tenant and configuration (changes may have been missed).
    fn forget_all_tenants(&self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        self.tenants.invalidate_all();
        self.configs.invalidate_all();
        self.webhook_changed(None);
    }

    /// Follow the tenant changes of every instance, dropping cached tenants
    /// as they change. Runs until the feed ends (never, for a live one);
    /// `coffer serve` spawns it beside the other jobs.
    pub async fn follow_changes(&self, changes: Arc<dyn TenantChanges>) {
        let mut feed = changes.subscribe();
        while let Some(change) = feed.next().await {
            match change {
                TenantChange::Tenant(id) => self.forget_tenant_id(id),
                TenantChange::All => self.forget_all_tenants(),
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "fixtures fail the test loudly")]
mod tests {
    use coffer_domain::{LimitOverrides, Plan, Region, TenantStatus};
    use coffer_ports::{MockTenantRegistry, NewTenant};
    use time::OffsetDateTime;

    use super::*;

    fn tenant(status: TenantStatus) -> Tenant {
        NewTenant {
            id: TenantId::from_uuid(uuid::Uuid::from_u128(7)),
            slug: TenantSlug::new("acme").unwrap(),
            display_name: "Acme".into(),
            plan: Plan::Starter,
            status,
            region: Region::new("eu-west").unwrap(),
            dedicated_bucket: None,
            dedicated_database: None,
            dedicated_schema: None,
            metadata_region: None,
            limit_overrides: LimitOverrides::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
        .planned()
    }

    #[tokio::test]
    async fn a_tenant_read_before_a_change_is_not_kept_past_the_changes_drop() {
        let caches = Arc::new(TenantCaches::new(Duration::from_secs(3600)));
        let claim = TenantClaim::Id(tenant(TenantStatus::Active).id);
        let mut registry = MockTenantRegistry::new();
        let mut reads = 0;
        let during = caches.clone();
        registry.expect_get_tenant().times(2).returning(move |id| {
            reads += 1;
            if reads == 1 {
                // The suspension commits, and its notification drops the
                // tenant, while the old row is on its way to the cache.
                during.forget_tenant_id(id);
                Ok(tenant(TenantStatus::Active))
            } else {
                Ok(tenant(TenantStatus::Suspended))
            }
        });
        let first = caches.resolve(&registry, &claim).await.unwrap().unwrap();
        assert_eq!(first.status, TenantStatus::Active, "what the read saw");
        let second = caches.resolve(&registry, &claim).await.unwrap().unwrap();
        assert_eq!(second.status, TenantStatus::Suspended, "read again");
        let third = caches.resolve(&registry, &claim).await.unwrap().unwrap();
        assert_eq!(third.status, TenantStatus::Suspended, "cached from then on");
    }

    #[test]
    fn entries_cached_together_expire_spread_over_the_second_half_of_the_ttl() {
        let ttl = Duration::from_secs(60);
        let spread = SpreadTtl::new(ttl);
        let at = Instant::now();
        let lifetimes: Vec<Duration> = (0..1000_u128)
            .map(|i| spread.lifetime((TenantId::from_uuid(uuid::Uuid::from_u128(i)), at)))
            .collect();
        assert!(lifetimes.iter().all(|l| *l >= ttl / 2 && *l <= ttl));
        let earliest = lifetimes.iter().min().unwrap();
        let latest = lifetimes.iter().max().unwrap();
        assert!(
            *latest - *earliest > ttl * 2 / 5,
            "spread over most of the half: {earliest:?}..{latest:?}"
        );
        let early = lifetimes.iter().filter(|l| **l < ttl * 3 / 4).count();
        assert!(
            (300..700).contains(&early),
            "{early} of 1000 in the first quarter"
        );
    }

    #[test]
    fn a_configuration_read_before_a_drop_is_not_cached() {
        let caches = TenantCaches::new(Duration::from_secs(3600));
        let id = TenantId::from_uuid(uuid::Uuid::from_u128(7));
        let config = Arc::new(TenantConfig {
            settings: Vec::new(),
            features: Vec::new(),
        });
        let seen = caches.drops_seen();
        caches.forget_tenant_id(id);
        caches.cache_config(id, config.clone(), seen);
        assert!(caches.config(id).is_none());
        caches.cache_config(id, config, caches.drops_seen());
        assert!(caches.config(id).is_some());
    }
}
