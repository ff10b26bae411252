//! [`coffer_ports::EventOutbox`] and the [`coffer_ports::Journal`] that
//! fills it: every change on record exactly when it happens (its audit
//! entry, and its event when announced), and events claimed under a lease,
//! delivered, retried or dead-lettered, and polled once settled.

use coffer_domain::{Filename, PageCursor, Role};
use coffer_ports::{
    DeliveryOutcome, Event, EventClaim, FilePatch, MetadataErrorKind, MetadataPorts, OutboxBacklog,
    Pending, Subscriber, Undelivered,
};
use serde_json::json;

use super::fixtures::{
    T0, at, audited, available, change, data, events, facts, file, scope, tenant, user,
};

/// The cases of [`coffer_ports::EventOutbox`] and of the journal (see
/// [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! event_outbox_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; events;
            changes_are_recorded_exactly_when_they_happen,
            events_are_claimed_leased_and_settled,
            a_journal_of_a_change_elsewhere_is_recorded_in_its_tenant,
            undelivered_events_are_found_across_tenants,
            pending_events_are_found_and_passed_over,
        );
    };
}

pub async fn changes_are_recorded_exactly_when_they_happen(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let files = data(&ports, &t).await.files.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;

    let trash = change("file.trashed", Some(f.id), 30, true);
    let event_id = trash.event.as_ref().unwrap().id;
    files.trash_file(&s, f.id, at(30), trash).await.unwrap();
    // A change that does not happen leaves no record.
    let again = files
        .trash_file(
            &s,
            f.id,
            at(31),
            change("file.trashed", Some(f.id), 31, true),
        )
        .await;
    assert_eq!(again.unwrap_err().kind(), MetadataErrorKind::InvalidState);
    assert_eq!(audited(&ports, &t, "file.trashed").await, 1);
    let listed = events(&ports, &t).await;
    assert_eq!(listed.len(), 1, "one event, for the one change");
    assert_eq!(listed[0].id, event_id);
    assert_eq!(listed[0].kind, "file.trashed");
    assert_eq!(listed[0].tenant_id, t.id);
    assert_eq!(listed[0].data, json!({ "n": 30 }));
    assert_eq!(listed[0].created_at, at(30));

    // Completing what is already available changes nothing: no record.
    let g = available(&ports, &t, file(&t, (o, "alice"), "/", "g", 1, 2)).await;
    files
        .mark_available(
            &s,
            g.id,
            facts(&g, 1, 40),
            change("file.uploaded", Some(g.id), 40, true),
        )
        .await
        .unwrap();
    assert_eq!(audited(&ports, &t, "file.uploaded").await, 0);
    // A conflict rolls the record back with the change.
    let h = available(&ports, &t, file(&t, (o, "alice"), "/", "h", 1, 3)).await;
    let clash = FilePatch {
        filename: Some(Filename::new("g").unwrap()),
        ..FilePatch::default()
    };
    let conflict = files
        .update_file(
            &s,
            h.id,
            clash,
            at(50),
            change("file.updated", Some(h.id), 50, true),
        )
        .await;
    assert_eq!(conflict.unwrap_err().kind(), MetadataErrorKind::Conflict);
    assert_eq!(audited(&ports, &t, "file.updated").await, 0);
    files
        .remove_file(&s, h.id, Some(change("file.erased", Some(h.id), 60, true)))
        .await
        .unwrap();
    assert_eq!(audited(&ports, &t, "file.erased").await, 1);
    let kinds: Vec<String> = events(&ports, &t)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["file.trashed", "file.erased"]);
    assert!(
        events(&ports, &other).await.is_empty(),
        "events stay in their tenant"
    );
}

pub async fn events_are_claimed_leased_and_settled(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let outbox = data(&ports, &t).await.events.clone();
    let theirs = data(&ports, &other).await.events.clone();
    let s = scope(&t);
    for secs in [10, 11, 12] {
        ports
            .settings
            .put_setting(
                &s,
                "k",
                Some(json!(secs)),
                change("setting.changed", None, secs, true),
            )
            .await
            .unwrap();
    }
    let claim = |now: i64, since: i64, limit: u32| EventClaim {
        now: at(now),
        since: at(since),
        lease: time::Duration::seconds(60),
        limit,
    };
    let secs = |events: &[Event]| -> Vec<i64> {
        events
            .iter()
            .map(|e| e.created_at.unix_timestamp() - T0)
            .collect()
    };
    let backlog = |awaiting, dead| OutboxBacklog { awaiting, dead };
    assert_eq!(outbox.backlog(&s, at(0)).await.unwrap(), backlog(3, 0));
    let first = outbox.claim_events(&s, &claim(100, 0, 2)).await.unwrap();
    assert_eq!(secs(&first), vec![10, 11], "oldest first, up to the limit");
    let rest = outbox.claim_events(&s, &claim(100, 0, 10)).await.unwrap();
    assert_eq!(
        secs(&rest),
        vec![12],
        "claimed events are leased to the first claim"
    );
    assert!(
        theirs
            .claim_events(&scope(&other), &claim(100, 0, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        outbox
            .claim_events(&s, &claim(100, 0, 10))
            .await
            .unwrap()
            .is_empty()
    );

    use DeliveryOutcome::{Dead, Delivered, Retry};
    outbox
        .record_delivery(&s, first[0].id, Delivered { at: at(101) })
        .await
        .unwrap();
    outbox
        .record_delivery(
            &s,
            first[1].id,
            Retry {
                error: "refused".into(),
                retry_at: at(110),
            },
        )
        .await
        .unwrap();
    outbox
        .record_delivery(
            &s,
            rest[0].id,
            Dead {
                error: "gone".into(),
                at: at(102),
            },
        )
        .await
        .unwrap();
    let unknown = outbox
        .record_delivery(&s, uuid::Uuid::now_v7(), Delivered { at: at(103) })
        .await;
    assert_eq!(unknown.unwrap_err().kind(), MetadataErrorKind::NotFound);
    let foreign = theirs
        .record_delivery(&scope(&other), first[1].id, Delivered { at: at(103) })
        .await;
    assert_eq!(foreign.unwrap_err().kind(), MetadataErrorKind::NotFound);

    assert!(
        outbox
            .claim_events(&s, &claim(109, 0, 10))
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    // After the lease and the retry time: only the retried one, never the
    // delivered or the dead-lettered one.
    let retried = outbox.claim_events(&s, &claim(200, 0, 10)).await.unwrap();
    assert_eq!(secs(&retried), vec![11]);
    assert_eq!(retried[0].attempts, 1);
    assert!(
        outbox
            .claim_events(&s, &claim(400, 12, 10))
            .await
            .unwrap()
            .is_empty(),
        "older than since"
    );

    // The gauges: one awaits its retry, one is dead, one is delivered;
    // counted from `since`, and in the tenant's outbox only.
    assert_eq!(outbox.backlog(&s, at(0)).await.unwrap(), backlog(1, 1));
    assert_eq!(outbox.backlog(&s, at(12)).await.unwrap(), backlog(0, 1));
    assert_eq!(
        theirs.backlog(&scope(&other), at(0)).await.unwrap(),
        backlog(0, 0)
    );

    // Polling sees every event, delivered or not, once settled.
    let all = outbox.list_events(&s, None, at(1000), 2).await.unwrap();
    assert_eq!(secs(&all.items), vec![10, 11]);
    let after = PageCursor::decode(all.next_cursor.as_deref().unwrap()).unwrap();
    let next = outbox
        .list_events(&s, Some(after), at(1000), 2)
        .await
        .unwrap();
    assert_eq!(secs(&next.items), vec![12]);
    assert_eq!(next.next_cursor, None);
    let unsettled = outbox.list_events(&s, None, at(12), 10).await.unwrap();
    assert_eq!(
        secs(&unsettled.items),
        vec![10, 11],
        "events from `settled_before` on wait"
    );
}

pub async fn a_journal_of_a_change_elsewhere_is_recorded_in_its_tenant(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let outbox = data(&ports, &t).await.events.clone();
    let announced = change("link.created", None, 40, true);
    let event_id = announced.event.as_ref().unwrap().id;
    outbox.record_journal(&scope(&t), announced).await.unwrap();
    outbox
        .record_journal(&scope(&t), change("link.revoked", None, 41, false))
        .await
        .unwrap();
    assert_eq!(audited(&ports, &t, "link.created").await, 1);
    assert_eq!(audited(&ports, &t, "link.revoked").await, 1);
    let listed: Vec<_> = events(&ports, &t).await.into_iter().map(|e| e.id).collect();
    assert_eq!(
        listed,
        vec![event_id],
        "announced only when the journal says so"
    );
    assert_eq!(audited(&ports, &other, "link.created").await, 0);
    assert!(
        events(&ports, &other).await.is_empty(),
        "in its own tenant only"
    );
}

/// A tenant of each of `names`, every one but `quiet` with an event at 10
/// (in its own data: its own database, where it has one).
async fn with_an_event<'a>(
    ports: &MetadataPorts,
    names: &[&'a str],
) -> std::collections::HashMap<&'a str, coffer_domain::Tenant> {
    let mut tenants = std::collections::HashMap::new();
    for name in names {
        let t = tenant(ports, name).await;
        if *name != "quiet" {
            data(ports, &t)
                .await
                .events
                .record_journal(&scope(&t), change("file.updated", None, 10, true))
                .await
                .unwrap();
        }
        tenants.insert(*name, t);
    }
    tenants
}

/// `answers` as `(name, what)` by `row`, named after their tenant (one
/// of `names`), sorted.
fn by_name<'a, T, W: Ord>(
    answers: Vec<T>,
    names: &[&'a str],
    tenants: &std::collections::HashMap<&str, coffer_domain::Tenant>,
    row: impl Fn(T) -> (coffer_domain::TenantId, W),
) -> Vec<(&'a str, W)> {
    let mut found: Vec<(&'a str, W)> = answers
        .into_iter()
        .map(|answer| {
            let (id, what) = row(answer);
            let name = names.iter().find(|name| tenants[**name].id == id).unwrap();
            (*name, what)
        })
        .collect();
    found.sort();
    found
}

/// The dispatcher's one question per round: of the tenants asked about
/// (each with its webhook's `since`), those with undelivered events —
/// awaiting (due, leased or waiting for a retry) or dead — and never those
/// whose events are delivered, older than `since`, or who were not asked.
pub async fn undelivered_events_are_found_across_tenants(ports: MetadataPorts) {
    use DeliveryOutcome::{Dead, Delivered, Retry};
    let names = [
        "due",
        "leased",
        "retrying",
        "delivered",
        "dead",
        "older",
        "unasked",
        "quiet",
    ];
    let tenants = with_an_event(&ports, &names).await;
    let claim = |lease: i64| EventClaim {
        now: at(100),
        since: at(0),
        lease: time::Duration::seconds(lease),
        limit: 10,
    };
    let settle = |name: &'static str, lease: i64, outcome: Option<DeliveryOutcome>| {
        let t = tenants[name].clone();
        let ports = &ports;
        async move {
            let outbox = data(ports, &t).await.events.clone();
            let claimed = outbox
                .claim_events(&scope(&t), &claim(lease))
                .await
                .unwrap();
            assert_eq!(claimed.len(), 1, "{name}");
            if let Some(outcome) = outcome {
                outbox
                    .record_delivery(&scope(&t), claimed[0].id, outcome)
                    .await
                    .unwrap();
            }
        }
    };
    settle("leased", 3600, None).await;
    let retry = Retry {
        error: "refused".into(),
        retry_at: at(500),
    };
    settle("retrying", 60, Some(retry)).await;
    settle("delivered", 60, Some(Delivered { at: at(101) })).await;
    let dead = Dead {
        error: "gone".into(),
        at: at(101),
    };
    settle("dead", 60, Some(dead)).await;

    let asked: Vec<Subscriber> = names
        .iter()
        .filter(|name| **name != "unasked")
        .map(|name| Subscriber {
            tenant: tenants[name].id,
            since: at(if *name == "older" { 20 } else { 0 }),
        })
        .collect();
    let found = |now: i64| {
        let (ports, asked, tenants) = (&ports, &asked, &tenants);
        async move {
            let answer = ports.undelivered.undelivered_events(at(now), asked).await;
            by_name(answer.unwrap(), &names, tenants, |u: Undelivered| {
                (u.tenant, (u.awaiting, u.due, u.dead))
            })
        }
    };
    // (tenant, awaiting, due, dead)
    assert_eq!(
        found(200).await,
        vec![
            ("dead", (false, false, true)),
            ("due", (true, true, false)),
            ("leased", (true, false, false)),
            ("retrying", (true, false, false)),
        ]
    );
    assert_eq!(
        found(5000).await,
        vec![
            ("dead", (false, false, true)),
            ("due", (true, true, false)),
            ("leased", (true, true, false)),
            ("retrying", (true, true, false)),
        ],
        "due again once the lease ends and at the retry time"
    );
    assert!(
        ports
            .undelivered
            .undelivered_events(at(200), &[])
            .await
            .unwrap()
            .is_empty()
    );
}

/// The dispatcher's question at every round: the tenants with events it
/// may still deliver (not delivered, dead or passed over) — the oldest of
/// them and whether one is due — and those with an event dead-lettered
/// lately; never those whose events are delivered, dead long ago, passed
/// over, or who have none. Passing over takes a tenant's pending events
/// older than the instant given off that list (and off its claims and
/// backlog), once, and keeps them listed for polling.
pub async fn pending_events_are_found_and_passed_over(ports: MetadataPorts) {
    use DeliveryOutcome::{Dead, Delivered, Retry};
    let names = ["due", "retrying", "delivered", "dead", "passed", "quiet"];
    let tenants = with_an_event(&ports, &names).await;
    let claim = EventClaim {
        now: at(100),
        since: at(0),
        lease: time::Duration::seconds(60),
        limit: 10,
    };
    for (name, outcome) in [
        (
            "retrying",
            Retry {
                error: "refused".into(),
                retry_at: at(500),
            },
        ),
        ("delivered", Delivered { at: at(101) }),
        (
            "dead",
            Dead {
                error: "gone".into(),
                at: at(101),
            },
        ),
    ] {
        let t = &tenants[name];
        let outbox = data(&ports, t).await.events.clone();
        let claimed = outbox.claim_events(&scope(t), &claim).await.unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        outbox
            .record_delivery(&scope(t), claimed[0].id, outcome)
            .await
            .unwrap();
    }
    let subscribed: std::sync::Arc<dyn coffer_ports::Subscribed> = std::sync::Arc::new(
        tenants
            .values()
            .map(|t| t.id)
            .collect::<std::collections::HashSet<_>>(),
    );
    let found = |dead_since: i64| {
        let (ports, tenants, subscribed) = (&ports, &tenants, subscribed.clone());
        async move {
            let answer = ports
                .undelivered
                .pending_events(at(200), at(dead_since), subscribed)
                .await;
            by_name(answer.unwrap(), &names, tenants, |p: Pending| {
                (p.tenant, (p.oldest, p.due, p.dead_lately))
            })
        }
    };
    // (tenant, oldest, due, dead lately)
    assert_eq!(
        found(100).await,
        vec![
            ("dead", (None, false, true)),
            ("due", (Some(at(10)), true, false)),
            ("passed", (Some(at(10)), true, false)),
            ("retrying", (Some(at(10)), false, false)),
        ]
    );
    assert_eq!(
        found(102).await,
        vec![
            ("due", (Some(at(10)), true, false)),
            ("passed", (Some(at(10)), true, false)),
            ("retrying", (Some(at(10)), false, false)),
        ],
        "dead-lettered before the instant asked"
    );

    let passed = &tenants["passed"];
    let outbox = data(&ports, passed).await.events.clone();
    let pass = |before: i64| {
        let outbox = outbox.clone();
        async move { outbox.pass_over(&scope(passed), at(before)).await.unwrap() }
    };
    assert_eq!(pass(10).await, 0, "not older than the instant given");
    assert_eq!(pass(20).await, 1);
    assert_eq!(pass(20).await, 0, "passed over once");
    assert_eq!(
        found(102).await,
        vec![
            ("due", (Some(at(10)), true, false)),
            ("retrying", (Some(at(10)), false, false)),
        ]
    );
    assert!(
        outbox
            .claim_events(&scope(passed), &claim)
            .await
            .unwrap()
            .is_empty(),
        "never claimed"
    );
    assert_eq!(
        outbox.backlog(&scope(passed), at(0)).await.unwrap(),
        OutboxBacklog::default()
    );
    assert_eq!(events(&ports, passed).await.len(), 1, "still polled");
}
