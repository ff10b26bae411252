//! The event dispatcher's decisions over mocked ports: what it sends, how
//! it signs, and what it records after each attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_domain::{TenantStatus, webhook};
use coffer_ports::{DeliveryOutcome, Event, TenantScope, WebhookRequest};
use coffer_service::DeliveryPolicy;
use serde_json::json;

use crate::support::*;

const SECRET: &str = "whsec_test";

type Sent = Arc<Mutex<Vec<WebhookRequest>>>;
type Recorded = Arc<Mutex<Vec<(uuid::Uuid, DeliveryOutcome)>>>;

fn event(tenant: &coffer_domain::Tenant, attempts: u32) -> Event {
    Event {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        kind: "file.trashed".into(),
        data: json!({ "file": { "id": "f" } }),
        created_at: now() - time::Duration::minutes(1),
        attempts,
    }
}

/// A fixture with one tenant whose webhook is set, `events` due, and a
/// policy of 3 attempts with a 10 s base; records what is sent and what
/// outcomes are recorded.
fn fixture(
    tenants: Vec<coffer_domain::Tenant>,
    hooked: Option<coffer_domain::TenantId>,
    events: Vec<Event>,
    send: impl Fn(&WebhookRequest) -> Result<(), String> + Send + Sync + 'static,
) -> (coffer_service::Events, Sent, Recorded) {
    let mut fx = EventsFx::default();
    fx.config.delivery = DeliveryPolicy {
        max_attempts: 3,
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(60),
        ..DeliveryPolicy::default()
    };
    // Each tenant with a webhook is looked up (its row says where its
    // events are) and its data resolved once per round.
    let rows = tenants.clone();
    fx.registry.expect_get_tenant().returning(move |id| {
        rows.iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| meta_err(coffer_ports::MetadataErrorKind::NotFound))
    });
    fx.resolutions = Some(usize::from(hooked.is_some()));
    // The store answers the tenants with a webhook, in one query.
    fx.settings
        .expect_setting_across_tenants()
        .times(1)
        .returning(move |key| {
            assert_eq!(key, "webhook");
            Ok(tenants
                .iter()
                .filter(|t| Some(t.id) == hooked)
                .map(|t| {
                    let hook = json!({ "url": "https://hooks.example/x", "secret": SECRET, "since": "2020-01-01T00:00:00Z" });
                    (t.id, t.slug.clone(), hook)
                })
                .collect())
        });
    fx.events
        .expect_claim_events()
        .times(usize::from(hooked.is_some()))
        .returning(move |_, claim| {
            assert_eq!(claim.now, now());
            assert!(claim.lease > time::Duration::ZERO);
            Ok(events.clone())
        });
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let recorded = outcomes.clone();
    fx.events
        .expect_record_delivery()
        .returning(move |_: &TenantScope, id, outcome| {
            recorded.lock().unwrap().push((id, outcome));
            Ok(())
        });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    fx.sender.expect_send().returning(move |request| {
        let result = send(&request);
        log.lock().unwrap().push(request);
        result
    });
    (fx.build(), sent, outcomes)
}

#[tokio::test]
async fn a_delivered_event_is_signed_and_recorded_delivered() {
    let t = tenant(TenantStatus::Active);
    let e = event(&t, 0);
    let (events, sent, outcomes) =
        fixture(vec![t.clone()], Some(t.id), vec![e.clone()], |_| Ok(()));
    let report = events.dispatch_events().await.unwrap();
    assert_eq!((report.delivered, report.retried, report.dead), (1, 0, 0));

    let sent = sent.lock().unwrap();
    let request = &sent[0];
    assert_eq!(request.url, "https://hooks.example/x");
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    webhook::verify(
        SECRET.as_bytes(),
        &header("coffer-signature"),
        &request.body,
        now().unix_timestamp(),
        0,
    )
    .unwrap();
    assert_eq!(header("coffer-event-id"), e.id.to_string());
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], json!(e.id));
    assert_eq!(body["type"], "file.trashed");
    assert_eq!(body["tenant"]["slug"], "acme");
    assert_eq!(body["data"], e.data);
    assert_eq!(
        outcomes.lock().unwrap().as_slice(),
        &[(e.id, DeliveryOutcome::Delivered { at: now() })]
    );
}

#[tokio::test]
async fn a_failure_is_retried_with_backoff_until_the_last_attempt() {
    let t = tenant(TenantStatus::Active);
    let first = event(&t, 0);
    let second = event(&t, 1);
    let last = event(&t, 2);
    let (events, _, outcomes) = fixture(
        vec![t.clone()],
        Some(t.id),
        vec![first.clone(), second.clone(), last.clone()],
        |_| Err("connection refused".into()),
    );
    let report = events.dispatch_events().await.unwrap();
    assert_eq!((report.delivered, report.retried, report.dead), (0, 2, 1));
    let retry = |secs| DeliveryOutcome::Retry {
        error: "connection refused".into(),
        retry_at: now() + time::Duration::seconds(secs),
    };
    assert_eq!(
        outcomes.lock().unwrap().as_slice(),
        &[
            (first.id, retry(10)),
            (second.id, retry(20)),
            (
                last.id,
                DeliveryOutcome::Dead {
                    error: "connection refused".into(),
                    at: now()
                }
            ),
        ]
    );
}

#[tokio::test]
async fn tenants_without_a_webhook_are_not_claimed() {
    let hooked = tenant(TenantStatus::Active);
    let quiet = tenant(TenantStatus::Active);
    let e = event(&hooked, 0);
    // `claim_events` is expected once: for the hooked tenant only.
    let (events, sent, _) = fixture(
        vec![quiet, hooked.clone()],
        Some(hooked.id),
        vec![e],
        |_| Ok(()),
    );
    assert_eq!(events.dispatch_events().await.unwrap().delivered, 1);
    assert_eq!(sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tenant_gone_since_its_webhook_was_read_is_skipped() {
    let gone = tenant(TenantStatus::Active);
    let mut fx = EventsFx::default();
    let (id, slug) = (gone.id, gone.slug.clone());
    fx.settings
        .expect_setting_across_tenants()
        .times(1)
        .returning(move |_| {
            let hook = json!({ "url": "https://hooks.example/x", "secret": SECRET, "since": "2020-01-01T00:00:00Z" });
            Ok(vec![(id, slug.clone(), hook)])
        });
    fx.registry
        .expect_get_tenant()
        .times(1)
        .returning(|_| Err(meta_err(coffer_ports::MetadataErrorKind::NotFound)));
    fx.resolutions = Some(0);
    fx.events.expect_claim_events().never();
    let report = fx.build().dispatch_events().await.unwrap();
    assert_eq!((report.delivered, report.retried, report.dead), (0, 0, 0));
}
