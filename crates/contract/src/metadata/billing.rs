//! [`coffer_ports::BillingLedger`]: a billing event recorded once, with its
//! effect on the tenant in the same transaction, in the order of its stream.

use coffer_domain::{Plan, Tenant, TenantId};
use coffer_ports::{
    BillingChange, BillingEffect, BillingRecorded, MetadataErrorKind, MetadataPorts,
    NewBillingEvent, TenantPatch,
};
use serde_json::json;

use super::fixtures::{assert_kind, at, audited, change, events, scope, tenant};

/// The cases of [`coffer_ports::BillingLedger`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! billing_ledger_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; billing;
            billing_events_are_recorded_once_with_their_effect,
            billing_events_for_a_missing_tenant_record_nothing,
            concurrent_billing_events_with_one_id_apply_once,
            billing_events_older_than_their_stream_change_nothing,
            racing_billing_events_end_at_the_latest,
        );
    };
}

fn billing_event(id: &str, tenant: Option<&Tenant>, outcome: &str) -> NewBillingEvent {
    NewBillingEvent {
        id: id.to_owned(),
        kind: "customer.subscription.updated".to_owned(),
        tenant: tenant.map(|t| t.id),
        outcome: outcome.to_owned(),
        detail: json!({ "plan": "enterprise" }),
        occurred_at: Some(at(5)),
        received_at: at(6),
        stream: None,
    }
}

fn plan_effect(t: TenantId, plan: Plan, secs: i64) -> BillingEffect {
    BillingEffect {
        tenant: t,
        change: BillingChange::Tenant(TenantPatch {
            plan: Some(plan),
            ..TenantPatch::default()
        }),
        journal: change("tenant.updated", None, secs, true),
    }
}

fn notice_effect(t: TenantId, value: Option<serde_json::Value>, secs: i64) -> BillingEffect {
    BillingEffect {
        tenant: t,
        change: BillingChange::Setting {
            key: "billing".to_owned(),
            value,
        },
        journal: change("billing.notice", None, secs, false),
    }
}

pub async fn billing_events_are_recorded_once_with_their_effect(ports: MetadataPorts) {
    let (billing, registry, settings) = (&ports.billing, &ports.registry, &ports.settings);
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let first = billing
        .record_billing_event(
            billing_event("evt_1", Some(&t), "applied"),
            Some(plan_effect(t.id, Plan::Enterprise, 1)),
        )
        .await
        .unwrap();
    let BillingRecorded::Recorded(Some(changed)) = first else {
        panic!("the first delivery is recorded with its change: {first:?}");
    };
    assert_eq!(changed.plan, Plan::Enterprise);
    assert_eq!(
        registry.get_tenant(t.id).await.unwrap().plan,
        Plan::Enterprise
    );
    assert_eq!(audited(&ports, &t, "tenant.updated").await, 1);
    assert_eq!(events(&ports, &t).await.len(), 1);

    // The plan changes by other means; a replay of the first id changes nothing.
    registry
        .update_tenant(
            t.id,
            TenantPatch {
                plan: Some(Plan::Starter),
                ..TenantPatch::default()
            },
            change("tenant.admin", None, 2, false),
        )
        .await
        .unwrap();
    let replay = billing
        .record_billing_event(
            billing_event("evt_1", Some(&t), "applied"),
            Some(plan_effect(t.id, Plan::Enterprise, 3)),
        )
        .await
        .unwrap();
    assert_eq!(replay, BillingRecorded::Replay);
    assert_eq!(registry.get_tenant(t.id).await.unwrap().plan, Plan::Starter);
    assert_eq!(audited(&ports, &t, "tenant.updated").await, 1);
    assert_eq!(events(&ports, &t).await.len(), 1);

    // An event without an effect is recorded, and its id protected, too.
    assert_eq!(
        billing
            .record_billing_event(billing_event("evt_2", None, "ignored"), None)
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    assert_eq!(
        billing
            .record_billing_event(
                billing_event("evt_2", Some(&t), "applied"),
                Some(plan_effect(t.id, Plan::Enterprise, 4)),
            )
            .await
            .unwrap(),
        BillingRecorded::Replay
    );
    assert_eq!(registry.get_tenant(t.id).await.unwrap().plan, Plan::Starter);

    // A notice is a tenant setting, set and cleared with the event.
    let notice = json!({ "payment_failed_at": "2026-12-01T00:00:00Z", "invoice": "in_1" });
    assert_eq!(
        billing
            .record_billing_event(
                billing_event("evt_3", Some(&t), "applied"),
                Some(notice_effect(t.id, Some(notice.clone()), 5)),
            )
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    assert_eq!(
        settings.get_setting(&scope(&t), "billing").await.unwrap(),
        Some(notice)
    );
    assert_eq!(
        settings
            .get_setting(&scope(&other), "billing")
            .await
            .unwrap(),
        None
    );
    billing
        .record_billing_event(
            billing_event("evt_4", Some(&t), "applied"),
            Some(notice_effect(t.id, None, 6)),
        )
        .await
        .unwrap();
    assert_eq!(
        settings.get_setting(&scope(&t), "billing").await.unwrap(),
        None
    );
    assert_eq!(audited(&ports, &t, "billing.notice").await, 2);
    assert_eq!(audited(&ports, &other, "billing.notice").await, 0);
    assert_eq!(
        other.plan,
        registry.get_tenant(other.id).await.unwrap().plan
    );
}

pub async fn billing_events_for_a_missing_tenant_record_nothing(ports: MetadataPorts) {
    let billing = &ports.billing;
    let missing = TenantId::new_random();
    for (id, effect) in [
        ("evt_plan", plan_effect(missing, Plan::Enterprise, 1)),
        (
            "evt_notice",
            notice_effect(missing, Some(json!({"x": 1})), 1),
        ),
    ] {
        let mut event = billing_event(id, None, "applied");
        event.tenant = Some(missing);
        assert_kind(
            billing.record_billing_event(event, Some(effect)).await,
            MetadataErrorKind::NotFound,
            id,
        );
        // Nothing of the failed attempt was kept: the id is still new.
        assert_eq!(
            billing
                .record_billing_event(billing_event(id, None, "ignored"), None)
                .await
                .unwrap(),
            BillingRecorded::Recorded(None),
            "{id}"
        );
    }
}

pub async fn concurrent_billing_events_with_one_id_apply_once(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let attempts = (0..8).map(|n| {
        let billing = ports.billing.clone();
        let t = t.id;
        tokio::spawn(async move {
            billing
                .record_billing_event(
                    NewBillingEvent {
                        id: "evt_race".to_owned(),
                        kind: "customer.subscription.updated".to_owned(),
                        tenant: Some(t),
                        outcome: "applied".to_owned(),
                        detail: json!({}),
                        occurred_at: None,
                        received_at: at(n),
                        stream: None,
                    },
                    Some(plan_effect(t, Plan::Enterprise, n)),
                )
                .await
        })
    });
    let mut recorded = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap() {
            Ok(BillingRecorded::Recorded(_)) => recorded += 1,
            Ok(BillingRecorded::Replay) => {}
            Ok(BillingRecorded::Superseded) => panic!("an unordered event is never superseded"),
            Err(e) => assert!(
                e.is(MetadataErrorKind::Unavailable),
                "a concurrent delivery fails only as retryable: {e}"
            ),
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(audited(&ports, &t, "tenant.updated").await, 1);
}

/// A subscription event of `t` that occurred at `secs`, changing the plan.
fn subscription_event(id: &str, t: &Tenant, secs: i64) -> NewBillingEvent {
    NewBillingEvent {
        stream: Some("subscription".to_owned()),
        occurred_at: Some(at(secs)),
        received_at: at(100 + secs),
        ..billing_event(id, Some(t), "applied")
    }
}

pub async fn billing_events_older_than_their_stream_change_nothing(ports: MetadataPorts) {
    let (billing, registry) = (&ports.billing, &ports.registry);
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let newer = billing
        .record_billing_event(
            subscription_event("evt_new", &t, 20),
            Some(plan_effect(t.id, Plan::Enterprise, 20)),
        )
        .await
        .unwrap();
    assert!(
        matches!(newer, BillingRecorded::Recorded(Some(_))),
        "{newer:?}"
    );
    // Delivered late: it occurred before the event already applied.
    let late = billing
        .record_billing_event(
            subscription_event("evt_old", &t, 10),
            Some(plan_effect(t.id, Plan::Professional, 21)),
        )
        .await
        .unwrap();
    assert_eq!(late, BillingRecorded::Superseded);
    assert_eq!(
        registry.get_tenant(t.id).await.unwrap().plan,
        Plan::Enterprise
    );
    assert_eq!(audited(&ports, &t, "tenant.updated").await, 1);
    // It is on record: delivered again, it is a replay.
    assert_eq!(
        billing
            .record_billing_event(subscription_event("evt_old", &t, 10), None)
            .await
            .unwrap(),
        BillingRecorded::Replay
    );
    // Another stream of the tenant, and the same stream of another tenant,
    // are ordered on their own.
    let invoice = NewBillingEvent {
        stream: Some("invoice".to_owned()),
        ..subscription_event("evt_invoice", &t, 5)
    };
    assert_eq!(
        billing
            .record_billing_event(invoice, Some(notice_effect(t.id, Some(json!({})), 22)))
            .await
            .unwrap(),
        BillingRecorded::Recorded(None)
    );
    let theirs = billing
        .record_billing_event(
            subscription_event("evt_theirs", &other, 10),
            Some(plan_effect(other.id, Plan::Professional, 23)),
        )
        .await
        .unwrap();
    assert!(
        matches!(theirs, BillingRecorded::Recorded(Some(_))),
        "{theirs:?}"
    );
    // An event of the same second as the latest is not older: it applies.
    let same_second = billing
        .record_billing_event(
            subscription_event("evt_same", &t, 20),
            Some(plan_effect(t.id, Plan::Starter, 24)),
        )
        .await
        .unwrap();
    assert!(
        matches!(same_second, BillingRecorded::Recorded(Some(_))),
        "{same_second:?}"
    );
    assert_eq!(registry.get_tenant(t.id).await.unwrap().plan, Plan::Starter);
}

pub async fn racing_billing_events_end_at_the_latest(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let plans = [Plan::Enterprise, Plan::Starter, Plan::Professional];
    // Eight deliveries at once, occurred at 1..=8 s; whichever commits
    // first, the plan of the one that occurred last is where it ends.
    let attempts = (1..=8_i64).map(|n| {
        let billing = ports.billing.clone();
        let t = t.clone();
        let plan = plans[usize::try_from(n).unwrap() % plans.len()];
        tokio::spawn(async move {
            loop {
                let result = billing
                    .record_billing_event(
                        subscription_event(&format!("evt_{n}"), &t, n),
                        Some(plan_effect(t.id, plan, n)),
                    )
                    .await;
                match result {
                    Err(e) if e.is(MetadataErrorKind::Unavailable) => continue,
                    other => break other.unwrap(),
                }
            }
        })
    });
    for attempt in futures::future::join_all(attempts).await {
        attempt.unwrap();
    }
    assert_eq!(
        ports.registry.get_tenant(t.id).await.unwrap().plan,
        plans[8 % plans.len()]
    );
}
