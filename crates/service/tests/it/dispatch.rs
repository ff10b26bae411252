//! The event dispatcher's decisions over mocked ports: what it sends, how
//! it signs, and what it records after each attempt.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_domain::{TenantStatus, webhook};
use coffer_ports::{DeliveryOutcome, Event, Pending, TenantChange, TenantScope, WebhookRequest};
use coffer_service::{DeliveryPolicy, TenantCaches};
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

/// The registry answers the row of each of `tenants` (its row says where
/// its events are), and `NotFound` for any other.
fn registry_knows(fx: &mut EventsFx, tenants: &[coffer_domain::Tenant]) {
    let rows = tenants.to_vec();
    fx.registry.expect_get_tenant().returning(move |id| {
        rows.iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| meta_err(coffer_ports::MetadataErrorKind::NotFound))
    });
}

/// `t`'s webhook setting as the store answers it across tenants.
fn webhook_row(
    t: &coffer_domain::Tenant,
) -> (
    coffer_domain::TenantId,
    coffer_domain::TenantSlug,
    serde_json::Value,
) {
    let hook = json!({ "url": format!("https://{}.example/x", t.id), "secret": SECRET, "since": "2020-01-01T00:00:00Z" });
    (t.id, t.slug.clone(), hook)
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
    registry_knows(&mut fx, &tenants);
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
    // The outbox hands out each due event once, at most `limit` at a time.
    let due = Mutex::new(std::collections::VecDeque::from(events));
    let claims = fx.events.expect_claim_events();
    if hooked.is_none() {
        claims.never();
    }
    claims.returning(move |_, claim| {
        assert_eq!(claim.now, now());
        assert!(claim.lease > time::Duration::ZERO);
        let mut due = due.lock().unwrap();
        let n = due.len().min(claim.limit as usize);
        Ok(due.drain(..n).collect())
    });
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let recorded = outcomes.clone();
    fx.events
        .expect_record_delivery()
        .returning(move |_: &TenantScope, id, outcome| {
            recorded.lock().unwrap().push((id, outcome));
            Ok(())
        });
    // The outbox's backlog, counted after the turn: what was recorded
    // retried awaits, what was recorded dead is dead.
    let counted = outcomes.clone();
    let backlog = fx.events.expect_backlog();
    if hooked.is_none() {
        backlog.never();
    }
    backlog.returning(move |_, since| {
        assert_eq!(since, time::macros::datetime!(2020-01-01 00:00 UTC));
        let outcomes: &Vec<(uuid::Uuid, DeliveryOutcome)> = &counted.lock().unwrap();
        let count = |dead: bool| {
            outcomes
                .iter()
                .filter(|(_, o)| matches!(o, DeliveryOutcome::Dead { .. }) == dead)
                .filter(|(_, o)| !matches!(o, DeliveryOutcome::Delivered { .. }))
                .count() as u64
        };
        Ok(coffer_ports::OutboxBacklog {
            awaiting: count(false),
            dead: count(true),
        })
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
    // The gauges: two await their retry, one is dead.
    assert_eq!(
        (report.backlog.awaiting, report.backlog.dead),
        (2, 1),
        "{report:?}"
    );
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
    // `claim_events` is expected for the hooked tenant only.
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

/// Receivers by URL: the one at `stuck` never answers, the others answer
/// at once; what was sent is kept.
struct StuckReceiver {
    stuck: String,
    sent: Sent,
}

#[async_trait::async_trait]
impl coffer_ports::WebhookSender for StuckReceiver {
    async fn send(&self, request: WebhookRequest) -> Result<(), String> {
        let stuck = request.url == self.stuck;
        self.sent.lock().unwrap().push(request);
        if stuck {
            futures::future::pending::<()>().await;
        }
        Ok(())
    }

    async fn resolve(&self, _: &str) -> Result<Vec<std::net::IpAddr>, String> {
        Ok(Vec::new())
    }
}

type Due = Arc<Mutex<std::collections::HashMap<coffer_domain::TenantId, Vec<Event>>>>;
type Hooked = Arc<Mutex<Vec<coffer_domain::TenantId>>>;

/// Two tenants, `slow`'s receiver never answering; the tenants in the
/// returned list have a webhook (both at first), and each tenant's due
/// events are in `due` (claimed oldest first, `limit` at a time).
fn two_tenants(
    slow: &coffer_domain::Tenant,
    fast: &coffer_domain::Tenant,
    in_flight: u32,
) -> (coffer_service::Events, Due, Sent, Hooked, Arc<TenantCaches>) {
    let mut fx = EventsFx::default();
    fx.config.delivery = DeliveryPolicy {
        in_flight,
        ..DeliveryPolicy::default()
    };
    let rows = [slow.clone(), fast.clone()];
    let hooks: Vec<_> = rows.iter().map(webhook_row).collect();
    let hooked: Hooked = Arc::new(Mutex::new(vec![slow.id, fast.id]));
    let with_hook = hooked.clone();
    let stored = hooks.clone();
    fx.settings
        .expect_setting_across_tenants()
        .times(1)
        .returning(move |_| {
            let with_hook = with_hook.lock().unwrap();
            Ok(hooks
                .iter()
                .filter(|(id, _, _)| with_hook.contains(id))
                .cloned()
                .collect())
        });
    // A tenant's webhook read again after it changed.
    let with_hook = hooked.clone();
    fx.settings
        .expect_get_setting()
        .returning(move |scope, key| {
            assert_eq!(key, "webhook");
            let tenant = scope.tenant_id();
            Ok(stored
                .iter()
                .find(|(id, _, _)| *id == tenant && with_hook.lock().unwrap().contains(id))
                .map(|(_, _, hook)| hook.clone()))
        });
    registry_knows(&mut fx, &rows);
    let due: Due = Arc::default();
    let queues = due.clone();
    fx.events
        .expect_claim_events()
        .returning(move |scope, claim| {
            let mut queues = queues.lock().unwrap();
            let queue = queues.entry(scope.tenant_id()).or_default();
            let n = queue.len().min(claim.limit as usize);
            Ok(queue.drain(..n).collect())
        });
    fx.events
        .expect_record_delivery()
        .returning(|_, _, _| Ok(()));
    fx.events
        .expect_backlog()
        .returning(|_, _| Ok(coffer_ports::OutboxBacklog::default()));
    let sent: Sent = Arc::default();
    let sender = StuckReceiver {
        stuck: format!("https://{}.example/x", slow.id),
        sent: sent.clone(),
    };
    let config = fx.config.0.clone();
    let caches = caches(&config);
    let events = coffer_service::Events::new(
        Arc::new(fx.registry),
        Arc::new(fx.settings),
        resolver(
            coffer_ports::TenantData {
                events: Arc::new(fx.events),
                ..no_data()
            },
            None,
            None,
        ),
        Arc::new(AllDue::default()),
        Arc::new(sender),
        caches.clone(),
        clock(),
        Arc::new(config),
    );
    (events, due, sent, hooked, caches)
}

fn sent_to(sent: &Sent, tenant: &coffer_domain::Tenant) -> Vec<String> {
    let url = format!("https://{}.example/x", tenant.id);
    sent.lock()
        .unwrap()
        .iter()
        .filter(|r| r.url == url)
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Runs a round that cannot end (a receiver never answers) until `tenant`
/// has been sent something.
async fn run_until_sent(
    round: &mut (impl std::future::Future + Unpin),
    sent: &Sent,
    tenant: &coffer_domain::Tenant,
) {
    let served = async {
        while sent_to(sent, tenant).is_empty() {
            tokio::task::yield_now().await;
        }
    };
    tokio::select! {
        _ = round => panic!("the round ended though a receiver never answers"),
        () = served => {}
    }
}

/// Issue 21, finding 3: a receiver that never answers holds up its own
/// tenant's turn only. The round it is in still delivers the other
/// tenant's events, and the next round (started while it still runs)
/// serves the other tenant again and skips the busy one.
#[tokio::test]
async fn a_stuck_receiver_delays_only_its_own_tenant() {
    let (slow, fast) = (tenant(TenantStatus::Active), tenant(TenantStatus::Active));
    let (events, due, sent, _, _) = two_tenants(&slow, &fast, 64);
    let (slow_events, first) = (vec![event(&slow, 0), event(&slow, 0)], event(&fast, 0));
    due.lock().unwrap().insert(slow.id, slow_events.clone());
    due.lock().unwrap().insert(fast.id, vec![first.clone()]);

    let mut round = Box::pin(events.dispatch_events());
    run_until_sent(&mut round, &sent, &fast).await;
    assert_eq!(sent_to(&sent, &fast), [first.id.to_string()]);
    assert_eq!(sent_to(&sent, &slow), [slow_events[0].id.to_string()]);

    // A later event of the fast tenant, while the first round still waits.
    let second = event(&fast, 0);
    due.lock()
        .unwrap()
        .get_mut(&fast.id)
        .unwrap()
        .push(second.clone());
    let report = events.dispatch_events().await.unwrap();
    assert_eq!((report.delivered, report.busy), (1, 1));
    assert_eq!(
        sent_to(&sent, &fast),
        [first.id.to_string(), second.id.to_string()]
    );
    // One delivery at a time per tenant: the slow tenant's second event
    // was never sent.
    assert_eq!(sent_to(&sent, &slow), [slow_events[0].id.to_string()]);
}

/// Receivers in flight are bounded over all tenants: with one slot, held
/// by the stuck receiver, nobody else is sent anything until its turn ends
/// (here, its round is dropped), and then the other tenant is served.
#[tokio::test]
async fn deliveries_in_flight_are_bounded_over_all_tenants() {
    let (slow, fast) = (tenant(TenantStatus::Active), tenant(TenantStatus::Active));
    let (events, due, sent, hooked, caches) = two_tenants(&slow, &fast, 1);
    hooked.lock().unwrap().retain(|id| *id == slow.id);
    due.lock().unwrap().insert(slow.id, vec![event(&slow, 0)]);

    let mut stuck = Box::pin(events.dispatch_events());
    run_until_sent(&mut stuck, &sent, &slow).await;
    // The other tenant sets its webhook (this process hears of it) and has
    // an event due.
    hooked.lock().unwrap().push(fast.id);
    caches
        .follow_changes(Arc::new(Feed(vec![TenantChange::Tenant(fast.id)])))
        .await;
    let waiting = event(&fast, 0);
    due.lock().unwrap().insert(fast.id, vec![waiting.clone()]);
    let mut next = Box::pin(events.dispatch_events());
    for _ in 0..100 {
        assert!(
            futures::FutureExt::now_or_never(&mut next).is_none(),
            "the round finished without a free slot"
        );
        tokio::task::yield_now().await;
    }
    assert!(sent_to(&sent, &fast).is_empty(), "no slot was free");

    drop(stuck);
    let report = next.await.unwrap();
    // Delivered to the other tenant; the stuck one was busy when it began.
    assert_eq!((report.delivered, report.busy), (1, 1));
    assert_eq!(sent_to(&sent, &fast), [waiting.id.to_string()]);
}

/// `n` tenants with a webhook set in 2020, as the settings answer them
/// (read once, however many rounds run).
fn hooked_tenants(fx: &mut EventsFx, n: usize) -> Vec<coffer_domain::Tenant> {
    let tenants: Vec<_> = (0..n).map(|_| tenant(TenantStatus::Active)).collect();
    let answered = tenants.clone();
    fx.settings
        .expect_setting_across_tenants()
        .times(1)
        .returning(move |_| Ok(answered.iter().map(webhook_row).collect()));
    registry_knows(fx, &tenants);
    tenants
}

/// The store's answers to the rounds' questions: at the first round only,
/// what is undelivered for every tenant with a webhook (none counted yet),
/// asked in full; at every round, what is pending, one answer per round.
fn asked_by_round(
    fx: &mut EventsFx,
    tenants: usize,
    in_full: Vec<coffer_ports::Undelivered>,
    rounds: Vec<Vec<Pending>>,
) {
    let mut mock = coffer_ports::MockUndeliveredEvents::new();
    mock.expect_undelivered_events()
        .times(1)
        .returning(move |at, subscribers| {
            assert_eq!(at, now());
            assert_eq!(subscribers.len(), tenants, "every tenant with a webhook");
            assert!(
                subscribers
                    .iter()
                    .all(|s| s.since == time::macros::datetime!(2020-01-01 00:00 UTC))
            );
            Ok(in_full.clone())
        });
    let rounds = Mutex::new(std::collections::VecDeque::from(rounds));
    mock.expect_pending_events()
        .returning(move |at, dead_since, _| {
            assert_eq!(at, now());
            assert!(dead_since < at);
            Ok(rounds
                .lock()
                .unwrap()
                .pop_front()
                .expect("a round too many"))
        });
    fx.undelivered = Some(mock);
}

fn undelivered(
    tenant: &coffer_domain::Tenant,
    awaiting: bool,
    due: bool,
    dead: bool,
) -> coffer_ports::Undelivered {
    coffer_ports::Undelivered {
        tenant: tenant.id,
        awaiting,
        due,
        dead,
    }
}

/// `tenant` has events pending (the oldest a minute old), `due` or not.
fn pending(tenant: &coffer_domain::Tenant, due: bool) -> Pending {
    Pending {
        tenant: tenant.id,
        oldest: Some(now() - time::Duration::minutes(1)),
        due,
        dead_lately: false,
    }
}

/// `tenant` had an event dead-lettered lately, and has nothing pending.
fn dead_lately(tenant: &coffer_domain::Tenant) -> Pending {
    Pending {
        tenant: tenant.id,
        oldest: None,
        due: false,
        dead_lately: true,
    }
}

#[tokio::test]
async fn a_round_with_nothing_due_claims_and_counts_for_no_tenant() {
    let mut fx = EventsFx::default();
    hooked_tenants(&mut fx, 1000);
    // Three rounds, and the store has nothing undelivered for anyone: the
    // webhooks read once, one question per round (the first also asks
    // about every tenant in full), no tenant looked up, claimed from or
    // counted.
    asked_by_round(&mut fx, 1000, Vec::new(), vec![Vec::new(); 3]);
    fx.resolutions = Some(0);
    fx.registry.checkpoint();
    fx.registry.expect_get_tenant().never();
    fx.settings.expect_get_setting().never();
    fx.events.expect_claim_events().never();
    fx.events.expect_backlog().never();
    fx.events.expect_pass_over().never();
    fx.sender.expect_send().never();
    let events = fx.build();
    for _ in 0..3 {
        let report = events.dispatch_events().await.unwrap();
        assert_eq!(report, coffer_service::DispatchReport::default());
    }
}

#[tokio::test]
async fn only_tenants_with_events_due_or_a_wrong_count_get_a_turn() {
    let mut fx = EventsFx::default();
    fx.config.delivery.max_attempts = 3;
    let tenants = hooked_tenants(&mut fx, 1000);
    let (retried, dead, late) = (tenants[1].clone(), tenants[2].clone(), tenants[3].clone());
    asked_by_round(
        &mut fx,
        1000,
        // Round 1, never counted by this process: one due (its delivery
        // fails), one with dead letters only.
        vec![
            undelivered(&retried, true, true, false),
            undelivered(&dead, false, false, true),
        ],
        vec![
            // 1: what is pending.
            vec![pending(&retried, true)],
            // 2: the retry waits: nothing due is not a backlog of zero.
            vec![pending(&retried, false)],
            // 3: another instance delivered it: counted again, at zero.
            Vec::new(),
            // 4: nothing changed.
            Vec::new(),
            // 5: another instance dead-lettered one of `late`'s events
            // (counted at zero), and one more of `dead`'s (counted with
            // dead letters already).
            vec![dead_lately(&late), dead_lately(&dead)],
        ],
    );
    let due = Mutex::new(vec![event(&retried, 0)]);
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let log = claimed.clone();
    fx.events.expect_claim_events().returning(move |scope, _| {
        log.lock().unwrap().push(scope.tenant_id());
        Ok(due.lock().unwrap().drain(..).collect())
    });
    fx.events
        .expect_record_delivery()
        .times(1)
        .returning(|_, _, outcome| {
            assert!(matches!(outcome, DeliveryOutcome::Retry { .. }));
            Ok(())
        });
    fx.events.expect_pass_over().never();
    let counts = Arc::new(Mutex::new(Vec::new()));
    let log = counts.clone();
    let round = Arc::new(Mutex::new(1));
    let at_round = round.clone();
    let (r, d, l) = (retried.id, dead.id, late.id);
    fx.events.expect_backlog().returning(move |scope, _| {
        let tenant = scope.tenant_id();
        log.lock().unwrap().push(tenant);
        let round = *at_round.lock().unwrap();
        Ok(match (tenant, round) {
            (t, 1) if t == r => coffer_ports::OutboxBacklog {
                awaiting: 1,
                dead: 0,
            },
            (t, _) if t == r => coffer_ports::OutboxBacklog::default(),
            (t, _) if t == d => coffer_ports::OutboxBacklog {
                awaiting: 0,
                dead: 2,
            },
            (t, 5) if t == l => coffer_ports::OutboxBacklog {
                awaiting: 0,
                dead: 1,
            },
            _ => panic!("counted a tenant with nothing undelivered"),
        })
    });
    fx.sender
        .expect_send()
        .times(1)
        .returning(|_| Err("refused".into()));
    let events = fx.build();
    let backlog = |awaiting, dead| coffer_ports::OutboxBacklog { awaiting, dead };

    let first = events.dispatch_events().await.unwrap();
    assert_eq!((first.retried, first.backlog), (1, backlog(1, 2)));
    let mut turns = claimed.lock().unwrap().clone();
    turns.sort();
    turns.dedup();
    let mut both = vec![retried.id, dead.id];
    both.sort();
    assert_eq!(turns, both, "the due tenant and the uncounted one");

    *round.lock().unwrap() = 2;
    let second = events.dispatch_events().await.unwrap();
    assert_eq!(
        second.backlog,
        backlog(1, 2),
        "the waiting retry still counts"
    );
    *round.lock().unwrap() = 3;
    let third = events.dispatch_events().await.unwrap();
    assert_eq!(
        third.backlog,
        backlog(0, 2),
        "delivered elsewhere: back to zero"
    );
    *round.lock().unwrap() = 4;
    let fourth = events.dispatch_events().await.unwrap();
    assert_eq!(fourth.backlog, backlog(0, 2));
    *round.lock().unwrap() = 5;
    let fifth = events.dispatch_events().await.unwrap();
    assert_eq!(fifth.backlog, backlog(0, 3), "dead-lettered elsewhere");
    assert_eq!(
        counts.lock().unwrap().len(),
        4,
        "counted in round 1 (both), round 3 (the one delivered elsewhere) and round 5 (the one dead-lettered elsewhere) only"
    );
    // Round 1: the due tenant claims its event, then finds none left; the
    // uncounted one finds none. Rounds 3 and 5: the recounted one finds none.
    assert_eq!(claimed.lock().unwrap().len(), 5);
}

/// Pending events that will never be delivered are passed over, so that
/// they stop being pending: a tenant with no webhook (read again first)
/// has those older than the settle time passed over, and is not claimed
/// from; a tenant with a webhook, those older than its `since`, and then
/// its turn goes on.
#[tokio::test]
async fn events_that_will_never_be_delivered_are_passed_over() {
    let mut fx = EventsFx::default();
    let (hooked, unhooked) = (tenant(TenantStatus::Active), tenant(TenantStatus::Active));
    registry_knows(&mut fx, &[hooked.clone(), unhooked.clone()]);
    let row = webhook_row(&hooked);
    fx.settings
        .expect_setting_across_tenants()
        .times(1)
        .returning(move |_| Ok(vec![row.clone()]));
    let (h, u) = (hooked.id, unhooked.id);
    fx.settings
        .expect_get_setting()
        .times(1)
        .returning(move |scope, key| {
            assert_eq!((scope.tenant_id(), key), (u, "webhook"));
            Ok(None)
        });
    let mut mock = coffer_ports::MockUndeliveredEvents::new();
    // Nothing from the webhook's `since` on.
    mock.expect_undelivered_events()
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    mock.expect_pending_events()
        .times(1)
        .returning(move |_, _, subscribed| {
            assert!(subscribed.subscribed(h) && !subscribed.subscribed(u));
            Ok(vec![
                Pending {
                    tenant: h,
                    oldest: Some(time::macros::datetime!(2019-06-01 00:00 UTC)),
                    due: true,
                    dead_lately: false,
                },
                pending(&unhooked, true),
            ])
        });
    fx.undelivered = Some(mock);
    let passed = Arc::new(Mutex::new(Vec::new()));
    let log = passed.clone();
    fx.events
        .expect_pass_over()
        .times(2)
        .returning(move |scope, before| {
            log.lock().unwrap().push((scope.tenant_id(), before));
            Ok(1)
        });
    fx.events.expect_claim_events().returning(move |scope, _| {
        assert_eq!(scope.tenant_id(), h, "only the tenant with a webhook");
        Ok(Vec::new())
    });
    fx.events
        .expect_backlog()
        .times(1)
        .returning(|_, _| Ok(coffer_ports::OutboxBacklog::default()));
    fx.sender.expect_send().never();
    let settle = fx.config.delivery.settle;
    let events = fx.build();
    let report = events.dispatch_events().await.unwrap();
    assert_eq!((report.delivered, report.failed), (0, 0));
    let mut passed = passed.lock().unwrap().clone();
    passed.sort_by_key(|(tenant, _)| *tenant != h);
    assert_eq!(
        passed,
        vec![
            (h, time::macros::datetime!(2020-01-01 00:00 UTC)),
            (u, now() - time::Duration::try_from(settle).unwrap()),
        ]
    );
}
