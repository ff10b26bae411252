//! Billing events from a Stripe-compatible payment provider: a signed
//! event is verified, mapped to a tenant and an effect, and recorded by its
//! id together with the effect, once (docs/billing.md).
//!
//! | event type | effect |
//! |---|---|
//! | `customer.subscription.updated` | the tenant's plan follows the subscription's |
//! | `customer.subscription.deleted` | the tenant is suspended |
//! | `invoice.payment_failed` | a billing notice, visible to tenant admins; no suspension |
//! | `invoice.paid` | the billing notice is cleared |
//! | anything else | recorded as seen, ignored |
//!
//! Whatever cannot be mapped (no tenant, an unknown one, an unknown plan)
//! is answered as received and recorded as ignored with its reason: the
//! provider retries anything but a `2xx`, and a retry could not fix it.

use std::sync::Arc;

use coffer_domain::{
    ErrorCode, Plan, Principal, Subject, Tenant, TenantId, TenantSlug, TenantStatus, webhook,
};
use coffer_ports::{
    BillingChange, BillingEffect, BillingLedger, BillingRecorded, Clock, MetadataErrorKind,
    NewBillingEvent, TenantClaim, TenantRegistry, TenantSettings,
};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::recorder::Recorder;
use crate::tenants::tenant_patch;
use crate::{
    Caller, EffectiveConfigs, ErrorKind, RequestMeta, ServiceError, TenantCaches, TenantUpdate,
};

/// The tenant setting that holds the billing notice.
pub const BILLING_SETTING: &str = "billing";

/// The actor the audit log shows for changes made by billing events.
pub const BILLING_ACTOR: &str = "system:billing";

/// The longest event id accepted.
const MAX_ID_LEN: usize = 255;

/// What became of a billing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingOutcome {
    /// Its effect was made.
    Applied,
    /// It asked for what already was (the plan it names, a suspended tenant).
    Unchanged,
    /// Nothing to do with it (see the reason).
    Ignored,
    /// Its id was processed before: nothing was done again.
    Replay,
}

impl BillingOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Ignored => "ignored",
            Self::Replay => "replay",
        }
    }
}

/// The answer to a billing event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingReceipt {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub outcome: BillingOutcome,
    /// Why it was ignored or unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The tenant as the event left it, when it changed it (its plan may
    /// call for another placement: [`crate::Mover::follow_plan`]).
    #[serde(skip)]
    pub changed: Option<Tenant>,
}

/// How billing events are authenticated: the endpoint's signing secret and
/// how far the signed timestamp may be from now.
#[derive(Clone, Copy)]
pub struct BillingWebhook<'a> {
    pub secret: &'a [u8],
    pub tolerance_secs: i64,
}

impl std::fmt::Debug for BillingWebhook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingWebhook")
            .field("tolerance_secs", &self.tolerance_secs)
            .finish_non_exhaustive()
    }
}

/// The decision about one event, before it is recorded.
struct Decision {
    outcome: BillingOutcome,
    reason: Option<&'static str>,
    tenant: Option<TenantId>,
    detail: Value,
    effect: Option<BillingEffect>,
}

impl Decision {
    fn ignored(reason: &'static str) -> Self {
        Self {
            outcome: BillingOutcome::Ignored,
            reason: Some(reason),
            tenant: None,
            detail: json!({}),
            effect: None,
        }
    }

    fn unchanged(tenant: &Tenant, reason: &'static str, detail: Value) -> Self {
        Self {
            outcome: BillingOutcome::Unchanged,
            reason: Some(reason),
            tenant: Some(tenant.id),
            detail,
            effect: None,
        }
    }

    fn applied(
        tenant: &Tenant,
        detail: Value,
        change: BillingChange,
        journal: coffer_ports::Journal,
    ) -> Self {
        Self {
            outcome: BillingOutcome::Applied,
            reason: None,
            tenant: Some(tenant.id),
            detail,
            effect: Some(BillingEffect {
                tenant: tenant.id,
                change,
                journal,
            }),
        }
    }
}

fn malformed(code: ErrorCode, detail: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Malformed, code, detail)
}

/// Billing events from the payment provider, and the tenant changes they
/// make.
#[derive(Clone)]
pub struct Billing {
    registry: Arc<dyn TenantRegistry>,
    settings: Arc<dyn TenantSettings>,
    billing: Arc<dyn BillingLedger>,
    configs: EffectiveConfigs,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl Billing {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        settings: Arc<dyn TenantSettings>,
        billing: Arc<dyn BillingLedger>,
        configs: EffectiveConfigs,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry,
            settings,
            billing,
            configs,
            caches,
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// Receive one billing event: `signature` is the `Stripe-Signature`
    /// header, `body` the raw request body it signs.
    ///
    /// # Errors
    /// `Malformed` (400): `invalid_signature` (missing, malformed or not
    /// matching), `stale_signature` (timestamp outside the tolerance),
    /// `malformed_json`, `malformed_event` (no `id` or `type`). `NotFound`
    /// when the tenant vanished meanwhile; `Unavailable` when the database
    /// is down (the provider retries).
    pub async fn receive_billing_event(
        &self,
        webhook: BillingWebhook<'_>,
        signature: Option<&str>,
        body: &[u8],
        request: RequestMeta,
    ) -> Result<BillingReceipt, ServiceError> {
        let now = self.clock.now();
        let signature = signature.ok_or_else(|| {
            malformed(
                ErrorCode::InvalidSignature,
                "the Stripe-Signature header is missing",
            )
        })?;
        webhook::verify(
            webhook.secret,
            signature,
            body,
            now.unix_timestamp(),
            webhook.tolerance_secs,
        )
        .map_err(|err| match err {
            webhook::SignatureError::Stale => malformed(
                ErrorCode::StaleSignature,
                "the signature's timestamp is outside the tolerance",
            ),
            other => malformed(ErrorCode::InvalidSignature, other.to_string()),
        })?;
        let event: Value = serde_json::from_slice(body).map_err(|e| {
            malformed(
                ErrorCode::MalformedJson,
                format!("the event is not JSON: {e}"),
            )
        })?;
        let id = event
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
            .ok_or_else(|| malformed(ErrorCode::MalformedEvent, "the event has no id"))?
            .to_owned();
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(ErrorCode::MalformedEvent, "the event has no type"))?
            .to_owned();
        let occurred_at = event
            .get("created")
            .and_then(Value::as_i64)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        let object = event.pointer("/data/object").unwrap_or(&Value::Null);

        let decision = self
            .decide_billing(&id, &kind, object, occurred_at.unwrap_or(now), request)
            .await?;
        let mut detail = decision.detail;
        if let (Some(reason), Some(map)) = (decision.reason, detail.as_object_mut()) {
            map.insert("reason".into(), json!(reason));
        }
        let record = NewBillingEvent {
            id: id.clone(),
            kind: kind.clone(),
            tenant: decision.tenant,
            outcome: decision.outcome.as_str().to_owned(),
            detail,
            occurred_at,
            received_at: now,
            stream: stream_of(&kind).map(str::to_owned),
        };
        let recorded = self
            .billing
            .record_billing_event(record, decision.effect)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::NotFound) {
                    ServiceError::not_found("tenant")
                } else {
                    err.into()
                }
            })?;
        let (outcome, reason, changed) = match recorded {
            BillingRecorded::Replay => (BillingOutcome::Replay, None, None),
            BillingRecorded::Superseded => (BillingOutcome::Ignored, Some("superseded"), None),
            BillingRecorded::Recorded(changed) => {
                if let Some(tenant) = &changed {
                    self.caches.forget_tenant(tenant);
                }
                (decision.outcome, decision.reason, changed)
            }
        };
        match outcome {
            BillingOutcome::Ignored => {
                tracing::warn!(event = %id, %kind, reason, "billing event ignored");
            }
            _ => tracing::info!(event = %id, %kind, outcome = outcome.as_str(), "billing event"),
        }
        Ok(BillingReceipt {
            id,
            kind,
            outcome,
            reason,
            changed,
        })
    }

    async fn decide_billing(
        &self,
        id: &str,
        kind: &str,
        object: &Value,
        occurred_at: OffsetDateTime,
        request: RequestMeta,
    ) -> Result<Decision, ServiceError> {
        let handled = matches!(
            kind,
            "customer.subscription.updated"
                | "customer.subscription.deleted"
                | "invoice.payment_failed"
                | "invoice.paid"
        );
        if !handled {
            return Ok(Decision::ignored("unhandled_type"));
        }
        let claim = match tenant_reference(object) {
            Reference::None => return Ok(Decision::ignored("no_tenant")),
            Reference::Invalid => return Ok(Decision::ignored("invalid_tenant")),
            Reference::Claim(claim) => claim,
        };
        let found = match &claim {
            TenantClaim::Id(id) => self.registry.get_tenant(*id).await,
            TenantClaim::Slug(slug) => self.registry.find_tenant_by_slug(slug).await,
        };
        let tenant = match found {
            Ok(tenant) => tenant,
            Err(err) if err.is(MetadataErrorKind::NotFound) => {
                return Ok(Decision::ignored("unknown_tenant"));
            }
            Err(err) => return Err(err.into()),
        };
        let caller = billing_caller(&tenant, request)?;
        let object_id = object.get("id").and_then(Value::as_str);
        match kind {
            "customer.subscription.updated" => {
                let Some(plan) = plan_of(object) else {
                    let mut decision = Decision::ignored("unknown_plan");
                    decision.tenant = Some(tenant.id);
                    decision.detail = json!({ "subscription": object_id });
                    return Ok(decision);
                };
                let detail = json!({ "subscription": object_id, "plan": plan });
                if plan == tenant.plan {
                    return Ok(Decision::unchanged(&tenant, "same_plan", detail));
                }
                let update = TenantUpdate {
                    plan: Some(plan),
                    ..TenantUpdate::default()
                };
                self.tenant_change(&tenant, &caller, id, kind, &update, detail)
                    .await
            }
            "customer.subscription.deleted" => {
                let detail = json!({ "subscription": object_id });
                if tenant.status == TenantStatus::Suspended {
                    return Ok(Decision::unchanged(&tenant, "already_suspended", detail));
                }
                let update = TenantUpdate {
                    status: Some(TenantStatus::Suspended),
                    ..TenantUpdate::default()
                };
                self.tenant_change(&tenant, &caller, id, kind, &update, detail)
                    .await
            }
            "invoice.payment_failed" => {
                let notice = json!({
                    "payment_failed_at": rfc3339(occurred_at),
                    "invoice": object_id,
                    "amount_due": object.get("amount_due").and_then(Value::as_i64),
                    "currency": object.get("currency").and_then(Value::as_str),
                    "attempt_count": object.get("attempt_count").and_then(Value::as_i64),
                    "next_payment_attempt": object
                        .get("next_payment_attempt")
                        .and_then(Value::as_i64)
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                        .map(rfc3339),
                    "hosted_invoice_url": object.get("hosted_invoice_url").and_then(Value::as_str),
                    "event": id,
                });
                let detail = json!({ "invoice": object_id });
                let journal = self.recorder.announce_tenant(
                    &caller,
                    "billing.payment_failed",
                    json!({ "billing_event": id, "notice": notice }),
                );
                let change = BillingChange::Setting {
                    key: BILLING_SETTING.to_owned(),
                    value: Some(notice),
                };
                Ok(Decision::applied(&tenant, detail, change, journal))
            }
            _ => {
                // invoice.paid: the notice goes, if there is one.
                let detail = json!({ "invoice": object_id });
                let scope = coffer_ports::TenantScope::new(tenant.id);
                if self
                    .settings
                    .get_setting(&scope, BILLING_SETTING)
                    .await?
                    .is_none()
                {
                    return Ok(Decision::unchanged(&tenant, "no_notice", detail));
                }
                let journal = self.recorder.announce_tenant(
                    &caller,
                    "billing.payment_succeeded",
                    json!({ "billing_event": id, "invoice": object_id }),
                );
                let change = BillingChange::Setting {
                    key: BILLING_SETTING.to_owned(),
                    value: None,
                };
                Ok(Decision::applied(&tenant, detail, change, journal))
            }
        }
    }

    /// A plan or status change through the lifecycle rules of
    /// [`crate::Tenants::update_tenant`], made by the billing system.
    async fn tenant_change(
        &self,
        tenant: &Tenant,
        caller: &Caller,
        id: &str,
        kind: &str,
        update: &TenantUpdate,
        detail: Value,
    ) -> Result<Decision, ServiceError> {
        let patch = match tenant_patch(&self.configs, self.clock.now(), tenant, update).await {
            Ok(patch) => patch,
            Err(err) if err.kind == ErrorKind::Conflict => {
                let mut decision = Decision::ignored("invalid_transition");
                decision.tenant = Some(tenant.id);
                decision.detail = detail;
                return Ok(decision);
            }
            Err(err) => return Err(err),
        };
        let journal = self.recorder.announce_tenant(
            caller,
            "tenant.updated",
            json!({
                "status": patch.status.unwrap_or(tenant.status),
                "plan": patch.plan.unwrap_or(tenant.plan),
                "billing_event": id,
                "billing_type": kind,
            }),
        );
        Ok(Decision::applied(
            tenant,
            detail,
            BillingChange::Tenant(patch),
            journal,
        ))
    }
}

/// The series an event type belongs to: the latest event of a series
/// decides its state, so an older one arriving late changes nothing.
/// Subscription events decide plan and status; invoice events the notice.
fn stream_of(kind: &str) -> Option<&'static str> {
    if kind.starts_with("customer.subscription.") {
        Some("subscription")
    } else if kind.starts_with("invoice.") {
        Some("invoice")
    } else {
        None
    }
}

/// The trusted caller billing events act as: no token, no roles, the
/// tenant the event names.
fn billing_caller(tenant: &Tenant, request: RequestMeta) -> Result<Caller, ServiceError> {
    Ok(Caller {
        principal: Principal {
            subject: Subject::new(BILLING_ACTOR)?,
            tenant: Some(tenant.id),
            user_id: None,
            roles: Vec::new(),
        },
        tenant: Some(tenant.clone()),
        request,
        acting: None,
    })
}

enum Reference {
    None,
    Invalid,
    Claim(TenantClaim),
}

/// The tenant an event's object names in its metadata: `tenant_id` (a
/// UUID) or `tenant` (a slug, or a UUID), looked for in the object's own
/// metadata, then — for invoices — in the metadata its subscription passes
/// on (`subscription_details.metadata`, or `parent.subscription_details.metadata`
/// in newer API versions).
fn tenant_reference(object: &Value) -> Reference {
    const SOURCES: [&str; 3] = [
        "/metadata",
        "/subscription_details/metadata",
        "/parent/subscription_details/metadata",
    ];
    for source in SOURCES {
        let Some(metadata) = object.pointer(source) else {
            continue;
        };
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(raw) = text("tenant_id") {
            return match uuid::Uuid::parse_str(raw) {
                Ok(id) => Reference::Claim(TenantClaim::Id(TenantId::from_uuid(id))),
                Err(_) => Reference::Invalid,
            };
        }
        if let Some(raw) = text("tenant") {
            if let Ok(id) = uuid::Uuid::parse_str(raw) {
                return Reference::Claim(TenantClaim::Id(TenantId::from_uuid(id)));
            }
            return match TenantSlug::new(raw) {
                Ok(slug) => Reference::Claim(TenantClaim::Slug(slug)),
                Err(_) => Reference::Invalid,
            };
        }
    }
    Reference::None
}

/// The plan a subscription is for: its first item's price lookup key (what
/// is actually billed), else the subscription's `metadata.plan`. A name
/// matches a plan exactly or as a prefix before `_` or `-`
/// (`professional_monthly`, `enterprise-yearly`).
pub(crate) fn plan_of(subscription: &Value) -> Option<Plan> {
    let named = |raw: &str| {
        let raw = raw.trim().to_ascii_lowercase();
        Plan::ALL.iter().copied().find(|plan| {
            let name = plan.as_str();
            raw == name
                || raw
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['_', '-']))
        })
    };
    subscription
        .pointer("/items/data/0/price/lookup_key")
        .and_then(Value::as_str)
        .and_then(named)
        .or_else(|| {
            subscription
                .pointer("/metadata/plan")
                .and_then(Value::as_str)
                .and_then(named)
        })
}

fn rfc3339(at: OffsetDateTime) -> Option<String> {
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_come_from_the_price_lookup_key_then_the_metadata() {
        let sub = |lookup: Value, meta: Value| json!({ "items": { "data": [{ "price": { "lookup_key": lookup } }] }, "metadata": { "plan": meta } });
        assert_eq!(
            plan_of(&sub(json!("enterprise"), json!(null))),
            Some(Plan::Enterprise)
        );
        assert_eq!(
            plan_of(&sub(json!("professional_monthly"), json!("starter"))),
            Some(Plan::Professional)
        );
        assert_eq!(
            plan_of(&sub(json!("Enterprise-Yearly"), json!(null))),
            Some(Plan::Enterprise)
        );
        assert_eq!(
            plan_of(&sub(json!("addon"), json!("starter"))),
            Some(Plan::Starter)
        );
        assert_eq!(
            plan_of(&sub(json!(null), json!("professional"))),
            Some(Plan::Professional)
        );
        assert_eq!(plan_of(&sub(json!("starterkit"), json!(null))), None);
        assert_eq!(plan_of(&sub(json!(null), json!("gold"))), None);
        assert_eq!(plan_of(&json!({})), None);
    }

    #[test]
    fn tenants_come_from_the_object_or_its_subscription_metadata() {
        let id = uuid::Uuid::new_v4();
        let claim = |object: Value| match tenant_reference(&object) {
            Reference::Claim(TenantClaim::Id(t)) => format!("id:{t}"),
            Reference::Claim(TenantClaim::Slug(s)) => format!("slug:{s}"),
            Reference::Invalid => "invalid".into(),
            Reference::None => "none".into(),
        };
        assert_eq!(
            claim(json!({ "metadata": { "tenant_id": id.to_string() } })),
            format!("id:{id}")
        );
        assert_eq!(
            claim(json!({ "metadata": { "tenant": "acme" } })),
            "slug:acme"
        );
        assert_eq!(
            claim(json!({ "metadata": { "tenant": id.to_string() } })),
            format!("id:{id}")
        );
        assert_eq!(
            claim(
                json!({ "metadata": {}, "subscription_details": { "metadata": { "tenant": "acme" } } })
            ),
            "slug:acme"
        );
        assert_eq!(
            claim(
                json!({ "parent": { "subscription_details": { "metadata": { "tenant": "acme" } } } })
            ),
            "slug:acme"
        );
        assert_eq!(
            claim(json!({ "metadata": { "tenant_id": "nope" } })),
            "invalid"
        );
        assert_eq!(claim(json!({ "metadata": { "tenant": "A B" } })), "invalid");
        assert_eq!(claim(json!({ "metadata": {} })), "none");
        assert_eq!(claim(json!(null)), "none");
    }
}
