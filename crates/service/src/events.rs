//! Events: a tenant's webhook, polling, and the dispatcher that delivers
//! the outbox to the webhook — signed, retried with exponential backoff,
//! dead-lettered after the last attempt, at least once.
//!
//! Delivery is fair between tenants: each tenant's events go out in a turn
//! of their own, turns of different tenants run at once, and a round never
//! waits for another round's turns, so a slow or dead receiver only delays
//! its own tenant. A process holds at most one turn per tenant, and at most
//! [`DeliveryPolicy::in_flight`] deliveries at once over all tenants.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt};
use tracing::Instrument as _;

use coffer_domain::outbound::TargetRefused;
use coffer_domain::webhook::{self, WebhookUrl};
use coffer_domain::{ErrorCode, PageCursor, TenantId, TenantSlug};
use coffer_ports::{
    Clock, DeliveryOutcome, Event, EventClaim, OutboxBacklog, Page, Pending, Subscribed,
    Subscriber, TenantClaim, TenantData, TenantDataResolver, TenantRegistry, TenantScope,
    TenantSettings, Undelivered, UndeliveredEvents, WebhookRequest, WebhookSender,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::recorder::Recorder;
use crate::{Caller, ServiceConfig, ServiceError, TenantCaches};

/// The tenant setting that holds its webhook.
const WEBHOOK_SETTING: &str = "webhook";

/// A tenant's webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// The HMAC key deliveries are signed with.
    pub secret: String,
    /// Events from this moment on are delivered (earlier ones stay
    /// available for polling).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// How the dispatcher delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each one.
    pub backoff_base: Duration,
    /// The longest wait between two attempts.
    pub backoff_max: Duration,
    /// How long a claimed event is held by one dispatcher (see
    /// [`EventClaim::lease`]); longer than one delivery may take. An event
    /// is claimed only once a delivery slot is free for it, so the lease
    /// covers its delivery alone, never a wait.
    pub lease: Duration,
    /// Events per tenant and turn: a tenant with more due gets another
    /// turn at the next round.
    pub batch: u32,
    /// Deliveries to one tenant's receiver at once. With 1 (the default) a
    /// tenant's events go out oldest first, one after the other.
    pub per_tenant: u32,
    /// Deliveries at once over all tenants (receivers in flight) in this
    /// process.
    pub in_flight: u32,
    /// How old an event must be before pollers see it: longer than a
    /// transaction takes to commit, so that `after=` never skips one.
    pub settle: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
            batch: 100,
            per_tenant: 1,
            in_flight: 64,
            settle: Duration::from_secs(2),
        }
    }
}

impl DeliveryPolicy {
    /// When to try again after `attempts` failed attempts, or `None` when
    /// that was the last one.
    pub fn retry_after(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 2_u32.saturating_pow(attempts.saturating_sub(1));
        Some(
            self.backoff_base
                .saturating_mul(factor)
                .min(self.backoff_max),
        )
    }
}

/// What one dispatch round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
    /// Tenants whose turn failed (their database unreachable): logged, and
    /// tried again at the next round; the other tenants' turns go on.
    pub failed: u64,
    /// Tenants skipped because an earlier round's turn is still delivering
    /// to them.
    pub busy: u64,
    /// Events awaiting delivery to the tenants' webhooks, and those
    /// dead-lettered, summed over every tenant with a webhook as each was
    /// last counted (after its own turn): the operator's gauges. Set by
    /// [`Events::dispatch_events`] for the whole round.
    pub backlog: OutboxBacklog,
}

impl DispatchReport {
    fn add(&mut self, other: Self) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
        self.failed += other.failed;
        self.busy += other.busy;
    }
}

/// How often the dispatcher reads every webhook again, the backstop should
/// a change notification be lost (changes reach it at once otherwise, see
/// [`TenantCaches::webhook_changed`]). Reading them all costs what a round
/// cost before it kept them in memory (docs/benchmarks.md).
const WEBHOOKS_RELOAD: Duration = Duration::from_secs(600);

/// A tenant's webhook as the dispatcher keeps it.
#[derive(Debug, Clone)]
struct Hooked {
    slug: TenantSlug,
    hook: Webhook,
}

/// Every tenant's webhook, in memory; read in full at the first round and
/// every [`WEBHOOKS_RELOAD`], and tenant by tenant as they change.
type Hooks = HashMap<TenantId, Hooked>;

/// The webhooks held, and when they were last read in full.
#[derive(Default)]
struct HeldHooks {
    by_tenant: Arc<Hooks>,
    loaded_at: Option<std::time::Instant>,
}

/// This process's counts of the tenants' backlogs (the operator's gauges),
/// kept so that a round touches only the tenants whose count may be wrong.
#[derive(Default)]
struct Counts {
    /// Each tenant with a webhook as counted after its last turn (or at
    /// zero without a query), and the `since` it was counted for.
    by_tenant: HashMap<TenantId, (OffsetDateTime, OutboxBacklog)>,
    /// Those counted with events awaiting: each is asked about at every
    /// round, as its count is wrong once none are pending.
    awaiting: HashSet<TenantId>,
    /// Tenants with a webhook never counted for its `since`: asked about in
    /// full (the one question per subscriber) at the next round.
    uncounted: HashSet<TenantId>,
    /// `by_tenant` summed.
    sum: OutboxBacklog,
}

impl Counts {
    fn set(&mut self, tenant: TenantId, since: OffsetDateTime, backlog: OutboxBacklog) {
        self.forget(tenant);
        self.sum.awaiting += backlog.awaiting;
        self.sum.dead += backlog.dead;
        if backlog.awaiting > 0 {
            self.awaiting.insert(tenant);
        }
        self.by_tenant.insert(tenant, (since, backlog));
    }

    fn forget(&mut self, tenant: TenantId) {
        if let Some((_, old)) = self.by_tenant.remove(&tenant) {
            self.sum.awaiting -= old.awaiting;
            self.sum.dead -= old.dead;
        }
        self.awaiting.remove(&tenant);
        self.uncounted.remove(&tenant);
    }

    /// The tenant's webhook is now `hook` (`None`: it has none): a count
    /// for another `since` is worthless.
    fn hooked(&mut self, tenant: TenantId, hook: Option<&Webhook>) {
        match hook {
            Some(hook) if self.counted(tenant, hook.since).is_some() => {}
            Some(_) => {
                self.forget(tenant);
                self.uncounted.insert(tenant);
            }
            None => self.forget(tenant),
        }
    }

    fn counted(&self, tenant: TenantId, since: OffsetDateTime) -> Option<OutboxBacklog> {
        self.by_tenant
            .get(&tenant)
            .filter(|(counted_since, _)| *counted_since == since)
            .map(|(_, backlog)| *backlog)
    }
}

/// What a round knows of a tenant with a webhook.
struct Known<'a> {
    since: OffsetDateTime,
    /// Its pending events (`None`: nothing pending, nothing dead lately).
    pending: Option<&'a Pending>,
    /// Asked in full (it was not counted): what is undelivered from its
    /// `since` on (`None` inside: nothing).
    full: Option<Option<Undelivered>>,
}

/// What this process's dispatcher is doing: the tenants it holds a turn
/// for, the delivery slots left over all tenants, the webhooks it holds
/// and its counts of the backlogs.
struct Dispatching {
    turns: Mutex<HashSet<TenantId>>,
    slots: tokio::sync::Semaphore,
    hooks: Mutex<HeldHooks>,
    /// One refresh of the webhooks at a time, so that an older read never
    /// replaces a newer one.
    refreshing: tokio::sync::Mutex<()>,
    counts: Mutex<Counts>,
    /// When the last round asked what is pending: the next one asks for
    /// the events dead-lettered since then (less a lease's margin).
    asked: Mutex<Option<OffsetDateTime>>,
}

impl Dispatching {
    fn new(policy: &DeliveryPolicy) -> Self {
        Self {
            turns: Mutex::default(),
            slots: tokio::sync::Semaphore::new(policy.in_flight.max(1) as usize),
            hooks: Mutex::default(),
            refreshing: tokio::sync::Mutex::new(()),
            counts: Mutex::default(),
            asked: Mutex::default(),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's backlog counted after its turn, unless its webhook
    /// changed meanwhile.
    fn counted(&self, tenant: TenantId, since: OffsetDateTime, backlog: OutboxBacklog) {
        let hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        if hooks
            .by_tenant
            .get(&tenant)
            .is_some_and(|h| h.hook.since == since)
        {
            self.counts().set(tenant, since, backlog);
        }
    }

    /// The instant from which this round asks for dead letters: the last
    /// round's question, less `margin` for transactions that committed
    /// after it with an earlier time.
    fn dead_since(&self, now: OffsetDateTime, margin: time::Duration) -> OffsetDateTime {
        let mut asked = self.asked.lock().unwrap_or_else(PoisonError::into_inner);
        let last = asked.map_or(now, |last| last.min(now));
        *asked = Some(now);
        last - margin
    }

    /// Whether a tenant with a webhook needs a turn, and if so whether it
    /// has pending events older than its webhook to pass over first. Only
    /// a tenant with something due has events to deliver. The others get
    /// a turn only to be counted (its claim finds nothing), when this
    /// process's count of them is missing or wrong: never counted (or for
    /// another `since`) while something is undelivered, or counted with
    /// events awaiting where none are now or the other way round, or with
    /// no dead letters where one was dead-lettered lately (another
    /// dispatcher delivered, dead-lettered or leased them). A tenant with
    /// nothing undelivered is counted at zero without a query. A tenant
    /// whose awaiting events are all leased or waiting for a retry is
    /// *not* at zero: it keeps its last count until one is due again.
    fn wants_turn(&self, tenant: TenantId, known: &Known<'_>) -> Option<bool> {
        let pending = known.pending;
        let pass = pending
            .and_then(|p| p.oldest)
            .is_some_and(|oldest| oldest < known.since);
        let due = pending.is_some_and(|p| p.due);
        let mut counts = self.counts();
        let wanted = match (known.full, counts.counted(tenant, known.since)) {
            (Some(full), _) => match full {
                Some(_) => true,
                None if pass => true,
                None => {
                    counts.set(tenant, known.since, OutboxBacklog::default());
                    false
                }
            },
            (None, Some(counted)) => {
                let awaiting = pending.is_some_and(|p| p.oldest.is_some());
                let dead_lately = pending.is_some_and(|p| p.dead_lately);
                due || pass
                    || (counted.awaiting > 0) != awaiting
                    || (dead_lately && counted.dead == 0)
            }
            // Not counted and not asked in full (its webhook changed during
            // the round): asked in full at the next round.
            (None, None) => due || pass,
        };
        wanted.then_some(pass)
    }

    /// The tenant's turn, unless a turn of an earlier round still runs.
    fn turn(self: &Arc<Self>, tenant: TenantId) -> Option<Turn> {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        turns.insert(tenant).then(|| Turn {
            dispatching: self.clone(),
            tenant,
        })
    }
}

/// A tenant's turn at delivery; over when dropped (done, failed, or the
/// round cancelled).
struct Turn {
    dispatching: Arc<Dispatching>,
    tenant: TenantId,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.dispatching
            .turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.tenant);
    }
}

/// Refuses every delivery: the sender of a [`crate::Coffer`] built without one.
#[derive(Debug)]
pub(crate) struct NoSender;

#[async_trait::async_trait]
impl WebhookSender for NoSender {
    async fn send(&self, _: WebhookRequest) -> Result<(), String> {
        Err("no webhook sender is configured".to_owned())
    }

    async fn resolve(&self, _: &str) -> Result<Vec<std::net::IpAddr>, String> {
        Ok(Vec::new())
    }
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

fn new_secret() -> String {
    // Two random (v4) UUIDs: 244 random bits from the OS generator.
    format!(
        "whsec_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A tenant's events: its webhook, the feed its administrators poll, and
/// the dispatcher that delivers them to the webhook.
#[derive(Clone)]
pub struct Events {
    registry: Arc<dyn TenantRegistry>,
    settings: Arc<dyn TenantSettings>,
    tenant_data: Arc<dyn TenantDataResolver>,
    undelivered: Arc<dyn UndeliveredEvents>,
    webhooks: Arc<dyn WebhookSender>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
    dispatching: Arc<Dispatching>,
}

impl Events {
    #[expect(
        clippy::too_many_arguments,
        reason = "the dispatcher reads the registry and settings, each tenant's outbox and the one question across them, and sends"
    )]
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        settings: Arc<dyn TenantSettings>,
        tenant_data: Arc<dyn TenantDataResolver>,
        undelivered: Arc<dyn UndeliveredEvents>,
        webhooks: Arc<dyn WebhookSender>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            settings,
            tenant_data,
            undelivered,
            webhooks,
            caches,
            recorder: Recorder::new(clock.clone()),
            dispatching: Arc::new(Dispatching::new(&config.delivery)),
            clock,
            config,
        }
    }

    /// The tenant's webhook, if one is set (tenant admins).
    ///
    /// # Errors
    /// `Forbidden` unless a tenant admin.
    pub async fn webhook(&self, caller: &Caller) -> Result<Option<Webhook>, ServiceError> {
        let (_, scope) = caller.admin("the webhook")?;
        self.stored_webhook(&scope).await
    }

    /// Deliver the tenant's events to `url` from now on, signed with a new
    /// secret, which the answer carries.
    ///
    /// # Errors
    /// `Forbidden` unless a tenant admin; `Invalid`
    /// (`webhook_target_refused`) for a URL whose host is, or resolves to,
    /// an internal address the operator has not allowed.
    pub async fn set_webhook(
        &self,
        caller: &Caller,
        url: WebhookUrl,
    ) -> Result<Webhook, ServiceError> {
        let (_, scope) = caller.admin("the webhook")?;
        self.check_target(&url).await?;
        let hook = Webhook {
            url: url.to_string(),
            secret: new_secret(),
            since: self.clock.now(),
        };
        let value = serde_json::to_value(&hook)
            .map_err(|e| ServiceError::internal(format!("webhook setting: {e}")))?;
        // The secret stays out of the audit log.
        let journal =
            self.recorder
                .journal(caller, "webhook.set", None, json!({ "url": hook.url }));
        self.settings
            .put_setting(&scope, WEBHOOK_SETTING, Some(value), journal)
            .await?;
        self.caches.forget_tenant_id(scope.tenant_id());
        Ok(hook)
    }

    /// Stop delivering; events stay available for polling.
    ///
    /// # Errors
    /// `Forbidden` unless a tenant admin.
    pub async fn remove_webhook(&self, caller: &Caller) -> Result<(), ServiceError> {
        let (_, scope) = caller.admin("the webhook")?;
        let journal = self
            .recorder
            .journal(caller, "webhook.removed", None, json!({}));
        self.settings
            .put_setting(&scope, WEBHOOK_SETTING, None, journal)
            .await?;
        self.caches.forget_tenant_id(scope.tenant_id());
        Ok(())
    }

    /// The tenant's events after `after` (a cursor from a previous page),
    /// oldest first (tenant admins).
    ///
    /// # Errors
    /// `Forbidden` unless a tenant admin; `Malformed` for a bad cursor.
    pub async fn list_events(
        &self,
        caller: &Caller,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Event>, ServiceError> {
        let (tenant, scope) = caller.admin("the event feed")?;
        let after = after.map(PageCursor::decode).transpose()?;
        let settled_before = self.clock.now() - to_time(self.config.delivery.settle);
        let data = self.tenant_data.tenant_data(tenant).await?;
        Ok(data
            .events
            .list_events(&scope, after, settled_before, limit)
            .await?)
    }

    /// Refuses a webhook whose host is internal, as written or as it
    /// resolves now. A name that does not resolve yet is accepted: delivery
    /// checks the address it connects to in any case.
    async fn check_target(&self, url: &WebhookUrl) -> Result<(), ServiceError> {
        let refused = |e: TargetRefused| {
            ServiceError::invalid(ErrorCode::WebhookTargetRefused, e.to_string())
        };
        let policy = &self.config.outbound;
        if let Some(host) = url.host() {
            policy.check_host(&host).map_err(refused)?;
        }
        if let Some(name) = url.domain() {
            match self.webhooks.resolve(name).await {
                Ok(addresses) => {
                    for ip in addresses {
                        policy.check_address(Some(name), ip).map_err(refused)?;
                    }
                }
                Err(err) => {
                    tracing::info!(host = name, error = %err, "webhook host does not resolve now; delivery will check it");
                }
            }
        }
        Ok(())
    }

    async fn stored_webhook(&self, scope: &TenantScope) -> Result<Option<Webhook>, ServiceError> {
        let Some(value) = self.settings.get_setting(scope, WEBHOOK_SETTING).await? else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ServiceError::internal(format!("stored webhook setting: {e}")))
    }

    /// Every tenant's webhook, as held in memory: read in full at the
    /// first round, after changes may have been missed, and every
    /// [`WEBHOOKS_RELOAD`]; otherwise only the tenants that changed since
    /// the last round are read again (see [`TenantCaches::webhook_changed`]).
    async fn webhooks(&self) -> Result<Arc<Hooks>, ServiceError> {
        let _one_at_a_time = self.dispatching.refreshing.lock().await;
        let stale = self.caches.take_stale_webhooks();
        let held = self
            .dispatching
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .loaded_at;
        if stale.all || held.is_none_or(|at| at.elapsed() >= WEBHOOKS_RELOAD) {
            let read = self.read_webhooks().await;
            let hooks = read.inspect_err(|_| self.caches.webhook_changed(None))?;
            let hooks = Arc::new(hooks);
            let mut counts = self.dispatching.counts();
            let gone: Vec<TenantId> = counts
                .by_tenant
                .keys()
                .chain(counts.uncounted.iter())
                .filter(|t| !hooks.contains_key(t))
                .copied()
                .collect();
            for tenant in gone {
                counts.forget(tenant);
            }
            for (tenant, hooked) in hooks.iter() {
                counts.hooked(*tenant, Some(&hooked.hook));
            }
            drop(counts);
            let mut held = self
                .dispatching
                .hooks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *held = HeldHooks {
                by_tenant: hooks.clone(),
                loaded_at: Some(std::time::Instant::now()),
            };
            return Ok(hooks);
        }
        let mut changed = Vec::with_capacity(stale.tenants.len());
        for tenant in &stale.tenants {
            match self.fresh_webhook(*tenant).await {
                Ok(hooked) => changed.push((*tenant, hooked)),
                Err(err) => {
                    for tenant in &stale.tenants {
                        self.caches.webhook_changed(Some(*tenant));
                    }
                    return Err(err);
                }
            }
        }
        let mut held = self
            .dispatching
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !changed.is_empty() {
            let hooks = Arc::make_mut(&mut held.by_tenant);
            let mut counts = self.dispatching.counts();
            for (tenant, hooked) in changed {
                counts.hooked(tenant, hooked.as_ref().map(|h| &h.hook));
                match hooked {
                    Some(hooked) => hooks.insert(tenant, hooked),
                    None => hooks.remove(&tenant),
                };
            }
        }
        Ok(held.by_tenant.clone())
    }

    /// Every tenant's webhook, in one query.
    async fn read_webhooks(&self) -> Result<Hooks, ServiceError> {
        let mut hooks = HashMap::new();
        for (tenant, slug, value) in self
            .settings
            .setting_across_tenants(WEBHOOK_SETTING)
            .await?
        {
            match serde_json::from_value::<Webhook>(value) {
                Ok(hook) => {
                    hooks.insert(tenant, Hooked { slug, hook });
                }
                Err(err) => {
                    tracing::error!(tenant = %slug, error = %err, "unreadable webhook setting; skipped");
                }
            }
        }
        Ok(hooks)
    }

    /// The tenant's webhook as stored now (`None`: none, or the tenant is
    /// gone, or its setting is unreadable).
    async fn fresh_webhook(&self, tenant: TenantId) -> Result<Option<Hooked>, ServiceError> {
        let claim = TenantClaim::Id(tenant);
        let Some(row) = self.caches.resolve(self.registry.as_ref(), &claim).await? else {
            return Ok(None);
        };
        let scope = TenantScope::new(tenant);
        let Some(value) = self.settings.get_setting(&scope, WEBHOOK_SETTING).await? else {
            return Ok(None);
        };
        match serde_json::from_value::<Webhook>(value) {
            Ok(hook) => Ok(Some(Hooked {
                slug: row.slug,
                hook,
            })),
            Err(err) => {
                tracing::error!(tenant = %row.slug, error = %err, "unreadable webhook setting; skipped");
                Ok(None)
            }
        }
    }

    /// One round of delivery: every tenant with a webhook and events due
    /// gets a turn at them, all turns at once (bounded by the delivery
    /// slots), unless a turn of an earlier round still runs for it. Safe on
    /// several instances at once (claims are leased), and to run while
    /// earlier rounds still run: `coffer serve` starts one per tick without
    /// waiting for the last, so no tenant's slow receiver holds up the
    /// others.
    ///
    /// The webhooks are held in memory (see [`Events::webhooks`]), and a
    /// round asks one question across tenants: which have events pending
    /// (or one dead-lettered lately). Its cost grows with those tenants,
    /// and with the tenants whose count this process holds with events
    /// awaiting, never with the tenants that have nothing pending; a tenant
    /// with a webhook this process never counted is asked about in full
    /// once more (the first round asks about every one). A tenant with
    /// events due gets a turn; one with nothing due only when this
    /// process's count of its backlog must be corrected (see
    /// [`Dispatching::wants_turn`]). Pending events that will never be
    /// delivered — of a tenant without a webhook, or older than its
    /// webhook's `since` — are passed over (see
    /// [`coffer_ports::EventOutbox::pass_over`]), so that they are no
    /// longer pending.
    ///
    /// # Errors
    /// Only when the webhooks, or which tenants have pending events, cannot
    /// be read (the database down); a tenant whose turn fails is logged
    /// and counted, a failed delivery is recorded and retried later.
    pub async fn dispatch_events(&self) -> Result<DispatchReport, ServiceError> {
        let hooks = self.webhooks().await?;
        let now = self.clock.now();
        let dead_since = self
            .dispatching
            .dead_since(now, to_time(self.config.delivery.lease));
        let (uncounted, mut candidates): (Vec<Subscriber>, HashSet<TenantId>) = {
            let counts = self.dispatching.counts();
            let uncounted = counts
                .uncounted
                .iter()
                .filter_map(|tenant| {
                    hooks.get(tenant).map(|h| Subscriber {
                        tenant: *tenant,
                        since: h.hook.since,
                    })
                })
                .collect();
            (uncounted, counts.awaiting.clone())
        };
        let subscribed: Arc<dyn Subscribed> = hooks.clone();
        let asked_in_full = async {
            if uncounted.is_empty() {
                Ok(Vec::new())
            } else {
                self.undelivered.undelivered_events(now, &uncounted).await
            }
        };
        let (pending, full) = futures::future::try_join(
            self.undelivered.pending_events(now, dead_since, subscribed),
            asked_in_full,
        )
        .await?;
        let pending: HashMap<TenantId, Pending> =
            pending.into_iter().map(|p| (p.tenant, p)).collect();
        let full: HashMap<TenantId, Undelivered> =
            full.into_iter().map(|u| (u.tenant, u)).collect();
        let in_full: HashSet<TenantId> = uncounted.iter().map(|s| s.tenant).collect();
        candidates.extend(pending.keys().copied());
        candidates.extend(in_full.iter().copied());

        let mut report = DispatchReport::default();
        let mut turns = FuturesUnordered::new();
        for tenant in candidates {
            let found = pending.get(&tenant);
            let Some(hooked) = hooks.get(&tenant) else {
                // Pending events of a tenant without a webhook: passed over.
                if found.is_some_and(|p| p.oldest.is_some()) {
                    let Some(turn) = self.dispatching.turn(tenant) else {
                        continue;
                    };
                    turns.push(
                        async move {
                            let outcome = self.pass_over_unhooked(tenant).await;
                            drop(turn);
                            (tenant.to_string(), outcome)
                        }
                        .boxed(),
                    );
                }
                continue;
            };
            let Some(turn) = self.dispatching.turn(tenant) else {
                report.busy += 1;
                continue;
            };
            let known = Known {
                since: hooked.hook.since,
                pending: found,
                full: in_full
                    .contains(&tenant)
                    .then(|| full.get(&tenant).copied()),
            };
            let Some(pass) = self.dispatching.wants_turn(tenant, &known) else {
                continue;
            };
            turns.push(
                async move {
                    let outcome = self
                        .dispatch_tenant(tenant, &hooked.slug, &hooked.hook, pass)
                        .await;
                    drop(turn);
                    (hooked.slug.to_string(), outcome)
                }
                .boxed(),
            );
        }
        while let Some((slug, outcome)) = turns.next().await {
            match outcome {
                Ok(done) => report.add(done),
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(tenant = %slug, error = %err, "event delivery failed for the tenant; retrying at the next round");
                }
            }
        }
        report.backlog = self.dispatching.counts().sum;
        Ok(report)
    }

    /// Pass over the pending events of a tenant without a webhook in
    /// memory, after reading its webhook again: those before its `since`
    /// if it has one after all (held from the next round on), else those
    /// older than [`DeliveryPolicy::settle`] — a webhook set meanwhile
    /// has a `since` after them, as its transaction takes less than that.
    async fn pass_over_unhooked(&self, tenant: TenantId) -> Result<DispatchReport, ServiceError> {
        let asked = self.clock.now();
        let claim = TenantClaim::Id(tenant);
        let Some(row) = self.caches.resolve(self.registry.as_ref(), &claim).await? else {
            return Ok(DispatchReport::default());
        };
        let scope = TenantScope::new(tenant);
        let before = match self.stored_webhook(&scope).await? {
            Some(hook) => {
                self.caches.webhook_changed(Some(tenant));
                hook.since
            }
            None => asked - to_time(self.config.delivery.settle),
        };
        let data = self.tenant_data.tenant_data(&row).await?;
        let passed = data.events.pass_over(&scope, before).await?;
        tracing::debug!(tenant = %row.slug, passed, "events that will never be delivered passed over");
        Ok(DispatchReport::default())
    }

    /// A tenant's turn: its events older than its webhook passed over when
    /// `pass`, then up to [`DeliveryPolicy::batch`] due events, in
    /// [`DeliveryPolicy::per_tenant`] lanes.
    async fn dispatch_tenant(
        &self,
        tenant: TenantId,
        slug: &TenantSlug,
        hook: &Webhook,
        pass: bool,
    ) -> Result<DispatchReport, ServiceError> {
        // Where its events are: the tenant row says (cached, as on the
        // request path).
        let claim = TenantClaim::Id(tenant);
        let Some(row) = self.caches.resolve(self.registry.as_ref(), &claim).await? else {
            tracing::debug!(tenant = %slug, "tenant gone since its webhook was read; skipped");
            return Ok(DispatchReport::default());
        };
        let data = self.tenant_data.tenant_data(&row).await?;
        let turn = TenantTurn {
            data: &data,
            tenant,
            slug,
            scope: TenantScope::new(tenant),
            hook,
            left: AtomicU32::new(self.config.delivery.batch),
        };
        if pass {
            data.events.pass_over(&turn.scope, hook.since).await?;
        }
        let lanes = self.config.delivery.per_tenant.max(1);
        let mut report = DispatchReport::default();
        for lane in futures::future::join_all((0..lanes).map(|_| self.lane(&turn))).await {
            report.add(lane?);
        }
        let backlog = data.events.backlog(&turn.scope, hook.since).await?;
        self.dispatching.counted(tenant, hook.since, backlog);
        Ok(report)
    }

    /// One lane of a tenant's turn: takes a delivery slot, then claims one
    /// event, delivers it and records the outcome, until none is due or the
    /// turn's batch is spent.
    async fn lane(&self, turn: &TenantTurn<'_>) -> Result<DispatchReport, ServiceError> {
        let policy = &self.config.delivery;
        let mut report = DispatchReport::default();
        while turn
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let _slot = self
                .dispatching
                .slots
                .acquire()
                .await
                .map_err(|e| ServiceError::internal(format!("delivery slots: {e}")))?;
            let claim = EventClaim {
                now: self.clock.now(),
                since: turn.hook.since,
                lease: to_time(policy.lease),
                limit: 1,
            };
            let claimed = turn.data.events.claim_events(&turn.scope, &claim).await?;
            if claimed.is_empty() {
                break;
            }
            for event in claimed {
                let outcome = self.deliver(turn, &event, &mut report).await;
                turn.data
                    .events
                    .record_delivery(&turn.scope, event.id, outcome)
                    .await?;
            }
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        turn: &TenantTurn<'_>,
        event: &Event,
        report: &mut DispatchReport,
    ) -> DeliveryOutcome {
        let request = signed_request(turn.tenant, turn.slug, turn.hook, event, self.clock.now());
        // A trace of its own per attempt (see docs/decisions.md, "Webhook
        // deliveries are traces of their own"); the sender's client span is its child.
        let span = tracing::info_span!(
            parent: None,
            "event delivery",
            tenant = %turn.slug,
            tenant_id = %turn.tenant,
            event.id = %event.id,
            event.type = %event.kind,
            event.attempt = event.attempts + 1,
        );
        match self.webhooks.send(request).instrument(span).await {
            Ok(()) => {
                report.delivered += 1;
                DeliveryOutcome::Delivered {
                    at: self.clock.now(),
                }
            }
            Err(error) => match self.config.delivery.retry_after(event.attempts + 1) {
                Some(wait) => {
                    report.retried += 1;
                    DeliveryOutcome::Retry {
                        error,
                        retry_at: self.clock.now() + to_time(wait),
                    }
                }
                None => {
                    report.dead += 1;
                    tracing::warn!(tenant = %turn.slug, event = %event.id, error, "event dead-lettered");
                    DeliveryOutcome::Dead {
                        error,
                        at: self.clock.now(),
                    }
                }
            },
        }
    }
}

/// What the lanes of one tenant's turn share.
struct TenantTurn<'a> {
    data: &'a TenantData,
    tenant: TenantId,
    slug: &'a TenantSlug,
    scope: TenantScope,
    hook: &'a Webhook,
    /// Events the turn may still claim.
    left: AtomicU32,
}

/// The delivery of `event`: its JSON body and the headers a receiver needs
/// to verify and de-duplicate it.
fn signed_request(
    tenant: TenantId,
    slug: &TenantSlug,
    hook: &Webhook,
    event: &Event,
    now: OffsetDateTime,
) -> WebhookRequest {
    let body = json!({
        "id": event.id,
        "type": event.kind,
        "tenant": { "id": tenant, "slug": slug },
        "created_at": event.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
        "data": event.data,
    })
    .to_string()
    .into_bytes();
    let signature = webhook::sign(hook.secret.as_bytes(), now.unix_timestamp(), &body);
    WebhookRequest {
        url: hook.url.clone(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (webhook::SIGNATURE_HEADER.to_owned(), signature),
            ("coffer-event-id".to_owned(), event.id.to_string()),
            ("coffer-event-type".to_owned(), event.kind.clone()),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let policy = DeliveryPolicy {
            max_attempts: 5,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(10),
            ..DeliveryPolicy::default()
        };
        let waits: Vec<_> = (1..=5).map(|n| policy.retry_after(n)).collect();
        assert_eq!(
            waits,
            vec![
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(8)),
                Some(Duration::from_secs(10)),
                None,
            ]
        );
    }
}
