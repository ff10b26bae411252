//! What a change puts on record (audit entry and event, in the change's own
//! transaction), the events outbox as the dispatcher and pollers see it, and
//! the port that delivers an event to a tenant's webhook.

use crate::{MetadataError, Page, TenantScope};

use async_trait::async_trait;
use coffer_domain::{PageCursor, TenantId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::NewAudit;

/// The record of one change: its audit entry and, for changes that other
/// systems hear of, its event. A store writes both in the same transaction
/// as the change itself, and only when the change happened — so each
/// change is on record exactly once, and nothing is on record that did not
/// happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub audit: NewAudit,
    pub event: Option<NewEvent>,
}

impl Journal {
    /// A change recorded in the audit log only.
    pub fn audit(audit: NewAudit) -> Self {
        Self { audit, event: None }
    }

    /// A change recorded in the audit log and announced as an event.
    pub fn announced(audit: NewAudit, event: NewEvent) -> Self {
        Self {
            audit,
            event: Some(event),
        }
    }
}

/// An event to announce. Its time is the audit entry's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Stable across deliveries, so receivers can de-duplicate
    /// (at-least-once delivery). Time-ordered (UUID v7).
    pub id: Uuid,
    /// Dotted event type, e.g. `file.created`.
    pub kind: String,
    pub data: serde_json::Value,
}

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: Uuid,
    pub tenant_id: TenantId,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Delivery attempts so far.
    #[serde(skip)]
    pub attempts: u32,
}

impl Event {
    /// Its place in the event listing, which runs by `(created_at, id)`.
    pub fn page_cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver acknowledged it (a `2xx`); it is never sent again.
    Delivered { at: OffsetDateTime },
    /// It failed and is tried again at `retry_at`.
    Retry {
        error: String,
        retry_at: OffsetDateTime,
    },
    /// It failed for the last time: it stays in the outbox as dead-lettered,
    /// still listed for polling, never sent again.
    Dead { error: String, at: OffsetDateTime },
}

/// What waits in a tenant's outbox for its webhook, counted from `since`
/// (when the webhook was set): the operator's gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Not delivered yet and not dead: due now or waiting for a retry.
    pub awaiting: u64,
    /// Dead-lettered: never sent again, still listed for polling.
    pub dead: u64,
}

/// A claim on due events for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventClaim {
    pub now: OffsetDateTime,
    /// Only events created at or after this (when the webhook was set).
    pub since: OffsetDateTime,
    /// The claimed events are not due again until `now + lease`, so
    /// concurrent dispatchers (several instances) never send the same
    /// event at once; a dispatcher that dies mid-delivery only delays it.
    pub lease: time::Duration,
    pub limit: u32,
}

/// One signed HTTP delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Delivers events over HTTP (an adapter of the server).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync + 'static {
    /// POST `request`; `Ok` only for a `2xx` answer.
    ///
    /// # Errors
    /// A description of the failure (connection refused, timeout, status).
    async fn send(&self, request: WebhookRequest) -> Result<(), String>;

    /// The addresses the DNS name `host` resolves to, so that a webhook's
    /// target can be judged when it is registered (delivery judges the
    /// address it connects to again).
    ///
    /// # Errors
    /// A description of the failure (no such name, resolver down).
    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, String>;
}

/// A tenant whose webhook takes its events created at or after `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    pub tenant: TenantId,
    pub since: OffsetDateTime,
}

/// What a subscriber's outbox holds that was never delivered (created at
/// or after its `since`): enough for the dispatcher to know whom to give a
/// turn, and whose count of the backlog is still right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undelivered {
    pub tenant: TenantId,
    /// Some await delivery (not dead): due, leased by a dispatcher, or
    /// waiting for a retry.
    pub awaiting: bool,
    /// One of them is due (`next_attempt_at` reached): what
    /// [`EventOutbox::claim_events`] with that `since` would take, unless
    /// another dispatcher takes it first.
    pub due: bool,
    /// Some are dead-lettered.
    pub dead: bool,
}

/// A tenant with events a dispatcher may still deliver, or with one
/// dead-lettered lately: the answer of [`UndeliveredEvents::pending_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub tenant: TenantId,
    /// The oldest of its events not delivered, not dead and not passed
    /// over (see [`EventOutbox::pass_over`]); `None` when it has none (it
    /// is listed for a dead letter only). Older than its webhook's `since`,
    /// or with no webhook at all, such events wait to be passed over.
    pub oldest: Option<OffsetDateTime>,
    /// One of those is due (`next_attempt_at` reached).
    pub due: bool,
    /// One of its events was dead-lettered at or after the instant asked.
    pub dead_lately: bool,
}

/// Which tenants have a webhook, as the dispatcher knows them (in memory).
pub trait Subscribed: Send + Sync {
    fn subscribed(&self, tenant: TenantId) -> bool;
}

impl<V: Send + Sync, S: std::hash::BuildHasher + Send + Sync> Subscribed
    for std::collections::HashMap<TenantId, V, S>
{
    fn subscribed(&self, tenant: TenantId) -> bool {
        self.contains_key(&tenant)
    }
}

impl<S: std::hash::BuildHasher + Send + Sync> Subscribed
    for std::collections::HashSet<TenantId, S>
{
    fn subscribed(&self, tenant: TenantId) -> bool {
        self.contains(&tenant)
    }
}

/// Which tenants have undelivered events, asked across tenants (the
/// platform path) so that the dispatcher's round costs one question, not
/// one per tenant with a webhook.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UndeliveredEvents: Send + Sync + 'static {
    /// Every tenant with events a dispatcher may still deliver (see
    /// [`Pending`]) or with an event dead-lettered at or after
    /// `dead_since`, in no particular order: what a round asks. Its cost
    /// grows with those tenants, never with tenants that have nothing
    /// pending. The shared database answers for every tenant, webhook or
    /// not (those without one have their events passed over); a tenant
    /// with a database of its own is asked there only when `subscribed`
    /// says it has a webhook, and answered as due when that database cannot
    /// be reached.
    ///
    /// # Errors
    /// `Unavailable`, `Internal` (the shared database).
    async fn pending_events(
        &self,
        now: OffsetDateTime,
        dead_since: OffsetDateTime,
        subscribed: std::sync::Arc<dyn Subscribed>,
    ) -> Result<Vec<Pending>, MetadataError>;

    /// Of `subscribers`, those with undelivered events as of `now` (see
    /// [`Undelivered`]), in no particular order; a subscriber with none is
    /// left out. One query over the shared database; a tenant whose data
    /// is in a database of its own is asked there too. A tenant whose own
    /// database cannot be reached is answered as due, so that its turn
    /// meets (and reports) the failure.
    ///
    /// # Errors
    /// `Unavailable`, `Internal` (the shared database).
    async fn undelivered_events(
        &self,
        now: OffsetDateTime,
        subscribers: &[Subscriber],
    ) -> Result<Vec<Undelivered>, MetadataError>;
}

/// A tenant's outbox of events (written by each change's [`Journal`]):
/// polled by clients, claimed and delivered by the dispatcher.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait EventOutbox: Send + Sync + 'static {
    /// The tenant's events, oldest first, created before `settled_before`
    /// (so that a poller never skips an event whose transaction commits
    /// after a later one's), keyset-paged by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError>;

    /// Claim the tenant's events due for delivery (not delivered, not dead,
    /// due by `claim.now`), oldest first, skipping those another
    /// dispatcher holds, and lease them (see [`EventClaim::lease`]).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError>;

    /// How many of the tenant's events created at or after `since` await
    /// delivery, and how many are dead-lettered.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn backlog(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> Result<OutboxBacklog, MetadataError>;

    /// Record a change made outside the tenant's own data (in the
    /// registry: a share link made or revoked) in its audit log and, when
    /// announced, its outbox — in one transaction, like a change's own.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn record_journal(
        &self,
        scope: &TenantScope,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// Pass over the tenant's events created before `before` that are not
    /// delivered, dead or passed over yet: they are never delivered (their
    /// tenant had no webhook then, or they precede its webhook's `since`),
    /// stay listed for polling, and no longer count as pending (see
    /// [`UndeliveredEvents::pending_events`]). How many were passed over.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn pass_over(
        &self,
        scope: &TenantScope,
        before: OffsetDateTime,
    ) -> Result<u64, MetadataError>;

    /// Record what became of delivering an event.
    ///
    /// # Errors
    /// `NotFound` for an unknown event.
    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError>;
}
