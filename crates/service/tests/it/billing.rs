//! Billing events over mocked ports: signature first, then the mapping of
//! each event type to its effect, recorded with its id exactly once.

use std::sync::{Arc, Mutex};

use coffer_domain::{Plan, Role, Tenant, TenantStatus, webhook};
use coffer_ports::{
    BillingChange, BillingEffect, BillingRecorded, MetadataErrorKind, NewBillingEvent,
};
use coffer_service::{BillingOutcome, BillingReceipt, BillingWebhook, ErrorKind, RequestMeta};
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &[u8] = b"whsec_unit";

fn hook() -> BillingWebhook<'static> {
    BillingWebhook {
        secret: SECRET,
        tolerance_secs: 300,
    }
}

fn event(kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "evt_1", "object": "event", "type": kind, "created": now().unix_timestamp() - 5,
        "data": { "object": object },
    }))
    .unwrap()
}

fn subscription(t: &Tenant, lookup_key: &str) -> Value {
    json!({
        "id": "sub_1", "object": "subscription",
        "metadata": { "tenant_id": t.id.to_string() },
        "items": { "data": [{ "price": { "lookup_key": lookup_key } }] },
    })
}

type Seen = Arc<Mutex<Vec<(NewBillingEvent, Option<BillingEffect>)>>>;

/// The tenant resolves by id and slug; every record is kept and answered with `answer`.
fn serves(fx: &mut BillingFx, t: &Tenant, answer: BillingRecorded) -> Seen {
    let by_id = t.clone();
    fx.registry.expect_get_tenant().returning(move |id| {
        if id == by_id.id {
            Ok(by_id.clone())
        } else {
            Err(meta_err(MetadataErrorKind::NotFound))
        }
    });
    let by_slug = t.clone();
    fx.registry
        .expect_find_tenant_by_slug()
        .returning(move |slug| {
            if *slug == by_slug.slug {
                Ok(by_slug.clone())
            } else {
                Err(meta_err(MetadataErrorKind::NotFound))
            }
        });
    let seen: Seen = Arc::default();
    let keep = seen.clone();
    fx.billing
        .expect_record_billing_event()
        .returning(move |e, effect| {
            keep.lock().unwrap().push((e, effect));
            Ok(answer.clone())
        });
    seen
}

async fn receive(
    fx: BillingFx,
    body: &[u8],
) -> Result<BillingReceipt, coffer_service::ServiceError> {
    let header = webhook::sign(SECRET, now().unix_timestamp(), body);
    fx.build()
        .receive_billing_event(hook(), Some(&header), body, RequestMeta::default())
        .await
}

fn only(seen: &Seen) -> (NewBillingEvent, Option<BillingEffect>) {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "recorded once");
    seen[0].clone()
}

#[tokio::test]
async fn a_subscription_update_changes_the_plan_as_the_billing_system() {
    let t = tenant(TenantStatus::Active);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(Some(t.clone())));
    let receipt = receive(
        fx,
        &event(
            "customer.subscription.updated",
            subscription(&t, "professional_monthly"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(receipt.outcome, BillingOutcome::Applied);
    assert_eq!(receipt.id, "evt_1");
    let (recorded, effect) = only(&seen);
    assert_eq!(recorded.id, "evt_1");
    assert_eq!(recorded.tenant, Some(t.id));
    assert_eq!(recorded.outcome, "applied");
    assert_eq!(
        recorded.occurred_at.map(|t| t.unix_timestamp()),
        Some(now().unix_timestamp() - 5)
    );
    let effect = effect.unwrap();
    assert_eq!(effect.tenant, t.id);
    let BillingChange::Tenant(patch) = effect.change else {
        panic!("a tenant change");
    };
    assert_eq!(patch.plan, Some(Plan::Professional));
    assert_eq!(patch.status, None);
    assert_eq!(effect.journal.audit.actor.as_str(), "system:billing");
    assert_eq!(effect.journal.audit.action, "tenant.updated");
    assert_eq!(effect.journal.audit.detail["billing_event"], "evt_1");
    assert_eq!(effect.journal.audit.detail["plan"], "professional");
    assert!(
        effect.journal.event.is_some(),
        "announced like any tenant change"
    );
}

#[tokio::test]
async fn the_plan_named_already_changes_nothing_and_an_unknown_plan_is_ignored() {
    let t = tenant(TenantStatus::Active);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
    let receipt = receive(
        fx,
        &event("customer.subscription.updated", subscription(&t, "starter")),
    )
    .await
    .unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Unchanged, Some("same_plan"))
    );
    assert_eq!(only(&seen).1, None);

    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
    let receipt = receive(
        fx,
        &event("customer.subscription.updated", subscription(&t, "gold")),
    )
    .await
    .unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Ignored, Some("unknown_plan"))
    );
    let (recorded, effect) = only(&seen);
    assert_eq!(effect, None);
    assert_eq!(recorded.outcome, "ignored");
    assert_eq!(recorded.detail["reason"], "unknown_plan");
}

#[tokio::test]
async fn a_deleted_subscription_suspends_an_active_tenant_only() {
    let t = tenant(TenantStatus::Active);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(Some(t.clone())));
    let receipt = receive(
        fx,
        &event("customer.subscription.deleted", subscription(&t, "starter")),
    )
    .await
    .unwrap();
    assert_eq!(receipt.outcome, BillingOutcome::Applied);
    let effect = only(&seen).1.unwrap();
    let BillingChange::Tenant(patch) = effect.change else {
        panic!("a tenant change");
    };
    assert_eq!(patch.status, Some(TenantStatus::Suspended));
    assert_eq!(patch.suspended_at, Some(Some(now())));
    assert_eq!(effect.journal.audit.detail["status"], "suspended");

    let suspended = tenant(TenantStatus::Suspended);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &suspended, BillingRecorded::Recorded(None));
    let receipt = receive(
        fx,
        &event(
            "customer.subscription.deleted",
            subscription(&suspended, "starter"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Unchanged, Some("already_suspended"))
    );
    assert_eq!(only(&seen).1, None);

    let cancelled = tenant(TenantStatus::Cancelled);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &cancelled, BillingRecorded::Recorded(None));
    let receipt = receive(
        fx,
        &event(
            "customer.subscription.deleted",
            subscription(&cancelled, "starter"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Ignored, Some("invalid_transition"))
    );
    assert_eq!(only(&seen).1, None);
}

#[tokio::test]
async fn a_failed_payment_records_a_notice_and_suspends_nothing() {
    let t = tenant(TenantStatus::Active);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
    let invoice = json!({
        "id": "in_1", "object": "invoice", "amount_due": 4900, "currency": "eur", "attempt_count": 2,
        "metadata": {},
        "subscription_details": { "metadata": { "tenant": "acme" } },
    });
    let receipt = receive(fx, &event("invoice.payment_failed", invoice))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, BillingOutcome::Applied);
    let effect = only(&seen).1.unwrap();
    assert_eq!(effect.tenant, t.id);
    let BillingChange::Setting { key, value } = effect.change else {
        panic!("a notice, not a tenant change");
    };
    assert_eq!(key, "billing");
    let notice = value.unwrap();
    assert_eq!(notice["invoice"], "in_1");
    assert_eq!(notice["amount_due"], 4900);
    assert_eq!(notice["currency"], "eur");
    assert_eq!(notice["attempt_count"], 2);
    assert_eq!(notice["event"], "evt_1");
    assert!(notice["payment_failed_at"].is_string());
    assert_eq!(effect.journal.audit.action, "billing.payment_failed");
    assert_eq!(effect.journal.audit.actor.as_str(), "system:billing");
}

#[tokio::test]
async fn a_paid_invoice_clears_the_notice_if_there_is_one() {
    let t = tenant(TenantStatus::Active);
    let invoice = json!({ "id": "in_2", "metadata": { "tenant": "acme" } });
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
    fx.settings
        .expect_get_setting()
        .withf(|_, key| key == "billing")
        .returning(|_, _| Ok(Some(json!({ "invoice": "in_1" }))));
    let receipt = receive(fx, &event("invoice.paid", invoice.clone()))
        .await
        .unwrap();
    assert_eq!(receipt.outcome, BillingOutcome::Applied);
    let effect = only(&seen).1.unwrap();
    assert_eq!(
        effect.change,
        BillingChange::Setting {
            key: "billing".into(),
            value: None
        }
    );
    assert_eq!(effect.journal.audit.action, "billing.payment_succeeded");

    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
    fx.settings.expect_get_setting().returning(|_, _| Ok(None));
    let receipt = receive(fx, &event("invoice.paid", invoice)).await.unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Unchanged, Some("no_notice"))
    );
    assert_eq!(only(&seen).1, None);
}

#[tokio::test]
async fn unmappable_events_are_recorded_as_ignored() {
    let t = tenant(TenantStatus::Active);
    let cases = [
        (
            "customer.created",
            json!({ "metadata": { "tenant": "acme" } }),
            "unhandled_type",
        ),
        (
            "customer.subscription.updated",
            json!({ "metadata": {} }),
            "no_tenant",
        ),
        (
            "customer.subscription.updated",
            json!({ "metadata": { "tenant": "globex" } }),
            "unknown_tenant",
        ),
        (
            "customer.subscription.deleted",
            json!({ "metadata": { "tenant_id": uuid::Uuid::new_v4().to_string() } }),
            "unknown_tenant",
        ),
        (
            "invoice.payment_failed",
            json!({ "metadata": { "tenant_id": "x" } }),
            "invalid_tenant",
        ),
    ];
    for (kind, object, reason) in cases {
        let mut fx = BillingFx::default();
        let seen = serves(&mut fx, &t, BillingRecorded::Recorded(None));
        let receipt = receive(fx, &event(kind, object)).await.unwrap();
        assert_eq!(
            (receipt.outcome, receipt.reason),
            (BillingOutcome::Ignored, Some(reason)),
            "{kind}"
        );
        let (recorded, effect) = only(&seen);
        assert_eq!(effect, None, "{kind}");
        assert_eq!(recorded.kind, kind);
        assert_eq!(recorded.outcome, "ignored");
        assert_eq!(recorded.tenant, None, "{kind}");
    }
}

#[tokio::test]
async fn a_replayed_id_reports_a_replay() {
    let t = tenant(TenantStatus::Active);
    let mut fx = BillingFx::default();
    let seen = serves(&mut fx, &t, BillingRecorded::Replay);
    let receipt = receive(
        fx,
        &event(
            "customer.subscription.updated",
            subscription(&t, "enterprise"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (receipt.outcome, receipt.reason),
        (BillingOutcome::Replay, None)
    );
    // The effect went to the store, which alone knows the id was seen.
    assert!(only(&seen).1.is_some());
}

#[tokio::test]
async fn a_vanished_tenant_is_not_found_and_a_down_store_unavailable() {
    let t = tenant(TenantStatus::Active);
    for (kind, error, code) in [
        (
            MetadataErrorKind::NotFound,
            ErrorKind::NotFound,
            "not_found",
        ),
        (
            MetadataErrorKind::Unavailable,
            ErrorKind::Unavailable,
            "metadata_unavailable",
        ),
    ] {
        let mut fx = BillingFx::default();
        let by_id = t.clone();
        fx.registry
            .expect_get_tenant()
            .returning(move |_| Ok(by_id.clone()));
        fx.billing
            .expect_record_billing_event()
            .returning(move |_, _| Err(meta_err(kind)));
        assert_err(
            receive(
                fx,
                &event(
                    "customer.subscription.updated",
                    subscription(&t, "enterprise"),
                ),
            )
            .await,
            error,
            code,
        );
    }
}

#[tokio::test]
async fn bad_signatures_and_bad_events_are_refused_before_anything_is_read() {
    let body = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#;
    let at = now().unix_timestamp();
    let cases: Vec<(Option<String>, Vec<u8>, &str)> = vec![
        (None, body.to_vec(), "invalid_signature"),
        (Some("garbage".into()), body.to_vec(), "invalid_signature"),
        (
            Some(webhook::sign(b"other secret", at, body)),
            body.to_vec(),
            "invalid_signature",
        ),
        (
            Some(webhook::sign(SECRET, at, b"{}")),
            body.to_vec(),
            "invalid_signature",
        ),
        (
            Some(webhook::sign(SECRET, at - 301, body)),
            body.to_vec(),
            "stale_signature",
        ),
        (
            Some(webhook::sign(SECRET, at + 301, body)),
            body.to_vec(),
            "stale_signature",
        ),
        (
            Some(webhook::sign(SECRET, at, b"{not json")),
            b"{not json".to_vec(),
            "malformed_json",
        ),
        (
            Some(webhook::sign(SECRET, at, b"[]")),
            b"[]".to_vec(),
            "malformed_event",
        ),
        (
            Some(webhook::sign(SECRET, at, br#"{"type":"invoice.paid"}"#)),
            br#"{"type":"invoice.paid"}"#.to_vec(),
            "malformed_event",
        ),
        (
            Some(webhook::sign(SECRET, at, br#"{"id":"evt_1"}"#)),
            br#"{"id":"evt_1"}"#.to_vec(),
            "malformed_event",
        ),
    ];
    for (header, body, code) in cases {
        let mut fx = BillingFx::default();
        fx.registry.expect_get_tenant().never();
        fx.registry.expect_find_tenant_by_slug().never();
        fx.billing.expect_record_billing_event().never();
        let result = fx
            .build()
            .receive_billing_event(hook(), header.as_deref(), &body, RequestMeta::default())
            .await;
        assert_err(result, ErrorKind::Malformed, code);
    }
}

#[tokio::test]
async fn the_notice_is_shown_to_tenant_admins_only() {
    let t = tenant(TenantStatus::Active);
    let mut fx = TenantsFx::default();
    fx.files
        .expect_usage()
        .returning(|_| Ok(Default::default()));
    fx.settings
        .expect_get_setting()
        .withf(|_, key| key == "billing")
        .times(1)
        .returning(|_, _| Ok(Some(json!({ "invoice": "in_1" }))));
    let app = fx.build();
    let view = app
        .current_tenant(&caller(&t, "boss", &[Role::Admin]))
        .await
        .unwrap();
    assert_eq!(view.billing, Some(json!({ "invoice": "in_1" })));
    let view = app
        .current_tenant(&caller(&t, "v", &[Role::Viewer]))
        .await
        .unwrap();
    assert_eq!(view.billing, None);
}
