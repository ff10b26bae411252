//! Events: a tenant's webhook, polling, and the dispatcher that delivers
//! the outbox to the webhook — signed, retried with exponential backoff,
//! dead-lettered after the last attempt, at least once.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::outbound::TargetRefused;
use coffer_domain::webhook::{self, WebhookUrl};
use coffer_domain::{ErrorCode, PageCursor, TenantId, TenantSlug};
use coffer_ports::{
    Clock, DeliveryOutcome, Event, EventClaim, Page, TenantClaim, TenantData, TenantDataResolver,
    TenantRegistry, TenantScope, TenantSettings, WebhookRequest, WebhookSender,
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
    /// [`EventClaim::lease`]); longer than one delivery may take.
    pub lease: Duration,
    /// Events per tenant and round.
    pub batch: u32,
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
    webhooks: Arc<dyn WebhookSender>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl Events {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        settings: Arc<dyn TenantSettings>,
        tenant_data: Arc<dyn TenantDataResolver>,
        webhooks: Arc<dyn WebhookSender>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            settings,
            tenant_data,
            webhooks,
            caches,
            recorder: Recorder::new(clock.clone()),
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

    /// One round of delivery: every tenant with a webhook gets its due
    /// events. Safe on several instances at once (claims are leased).
    ///
    /// # Errors
    /// Only when tenants or events cannot be read (the database down); a
    /// failed delivery is recorded and retried later.
    pub async fn dispatch_events(&self) -> Result<DispatchReport, ServiceError> {
        let mut report = DispatchReport::default();
        // One query for the tenants with a webhook, not one per tenant.
        for (tenant, slug, value) in self
            .settings
            .setting_across_tenants(WEBHOOK_SETTING)
            .await?
        {
            let hook: Webhook = match serde_json::from_value(value) {
                Ok(hook) => hook,
                Err(err) => {
                    tracing::error!(tenant = %slug, error = %err, "unreadable webhook setting; skipped");
                    continue;
                }
            };
            // Where its events are: the tenant row says (cached, as on
            // the request path).
            let claim = TenantClaim::Id(tenant);
            let Some(row) = self.caches.resolve(self.registry.as_ref(), &claim).await? else {
                tracing::debug!(tenant = %slug, "tenant gone since its webhook was read; skipped");
                continue;
            };
            let data = self.tenant_data.tenant_data(&row).await?;
            let scope = TenantScope::new(tenant);
            self.dispatch_tenant(&data, tenant, &slug, &scope, &hook, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn dispatch_tenant(
        &self,
        data: &TenantData,
        tenant: TenantId,
        slug: &TenantSlug,
        scope: &TenantScope,
        hook: &Webhook,
        report: &mut DispatchReport,
    ) -> Result<(), ServiceError> {
        let policy = &self.config.delivery;
        let claim = EventClaim {
            now: self.clock.now(),
            since: hook.since,
            lease: to_time(policy.lease),
            limit: policy.batch,
        };
        for event in data.events.claim_events(scope, &claim).await? {
            let request = signed_request(tenant, slug, hook, &event, self.clock.now());
            let outcome = match self.webhooks.send(request).await {
                Ok(()) => {
                    report.delivered += 1;
                    DeliveryOutcome::Delivered {
                        at: self.clock.now(),
                    }
                }
                Err(error) => match policy.retry_after(event.attempts + 1) {
                    Some(wait) => {
                        report.retried += 1;
                        DeliveryOutcome::Retry {
                            error,
                            retry_at: self.clock.now() + to_time(wait),
                        }
                    }
                    None => {
                        report.dead += 1;
                        tracing::warn!(tenant = %slug, event = %event.id, error, "event dead-lettered");
                        DeliveryOutcome::Dead {
                            error,
                            at: self.clock.now(),
                        }
                    }
                },
            };
            data.events
                .record_delivery(scope, event.id, outcome)
                .await?;
        }
        Ok(())
    }
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
