//! The dispatcher's question at every round costs nothing for tenants with
//! nothing pending: with thousands of idle tenants with a webhook — their
//! events delivered, passed over or dead long ago — the plan touches only
//! the partial indexes of what is pending or dead lately, and the rows it
//! reads are those of the few tenants with something pending.

use std::collections::HashSet;
use std::sync::Arc;

use coffer_ports::UndeliveredEvents;
use coffer_postgres::testing::TestDb;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// Tenants with a webhook and nothing pending.
const IDLE: usize = 2_000;

/// `IDLE` idle tenants (a webhook each, and events delivered, passed over
/// and dead-lettered a day ago) and three busy ones (two events pending
/// each, one due), by SQL as the database owner.
async fn seed(db: &TestDb) {
    db.seed_webhook_tenants("idle", IDLE).await.unwrap();
    db.seed_webhook_tenants("busy", 3).await.unwrap();
    db.execute_in(
        db.name(),
        "BEGIN;
             INSERT INTO outbox (id, tenant_id, topic, payload, created_at, published_at,
                                 next_attempt_at, dead_at, passed_at)
             SELECT gen_random_uuid(), t.id, 'file.updated', '{}', now() - interval '2 days',
                    CASE WHEN k <= 2 THEN now() - interval '2 days' END,
                    now() - interval '2 days',
                    CASE WHEN k = 3 THEN now() - interval '1 day' END,
                    CASE WHEN k >= 4 THEN now() - interval '2 days' END
             FROM tenants t, generate_series(1, 6) AS k
             WHERE starts_with(t.slug, 'idle-');
             INSERT INTO outbox (id, tenant_id, topic, payload, created_at, next_attempt_at)
             SELECT gen_random_uuid(), t.id, 'file.updated', '{}', now() - interval '1 hour',
                    CASE WHEN k = 1 THEN now() - interval '1 minute'
                         ELSE now() + interval '1 hour' END
             FROM tenants t, generate_series(1, 2) AS k
             WHERE starts_with(t.slug, 'busy-');
             COMMIT;
             ANALYZE;",
    )
    .await
    .unwrap();
}

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value, into: &mut Vec<Value>) {
    into.push(plan.clone());
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, into);
    }
}

fn number(node: &Value, key: &str) -> f64 {
    node[key].as_f64().unwrap_or(0.0)
}

#[tokio::test]
async fn the_round_question_reads_only_the_tenants_with_something_pending() {
    let db = TestDb::new().await;
    seed(&db).await;
    let now = OffsetDateTime::now_utc();
    let dead_since = now - Duration::minutes(1);

    // The answer: the busy tenants, each due, and no idle one.
    let store = db.store(2).unwrap();
    let found = store
        .pending_events(now, dead_since, Arc::new(HashSet::new()))
        .await
        .unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .all(|p| p.due && p.oldest.is_some() && !p.dead_lately)
    );

    let explained: Value =
        serde_json::from_str(&db.explain_pending_events(now, dead_since).await.unwrap()).unwrap();
    let mut all = Vec::new();
    nodes(&explained[0]["Plan"], &mut all);
    let scans: Vec<&Value> = all
        .iter()
        .filter(|n| n["Relation Name"].is_string())
        .collect();
    assert!(!scans.is_empty());
    for scan in &scans {
        assert_eq!(scan["Relation Name"], "outbox", "{scan}");
        assert_ne!(scan["Node Type"], "Seq Scan", "{scan}");
    }
    for node in all.iter().filter(|n| n["Index Name"].is_string()) {
        assert!(
            ["outbox_awaiting", "outbox_due", "outbox_dead_lately"]
                .contains(&node["Index Name"].as_str().unwrap_or_default()),
            "every read is one of the partial indexes of what is pending or dead lately: {node}"
        );
    }
    // The rows read: the busy tenants' pending events (at most two each,
    // and the descent that finds no further tenant) — never a row of an
    // idle tenant.
    let read: f64 = scans
        .iter()
        .map(|n| {
            let loops = number(n, "Actual Loops");
            (number(n, "Actual Rows") + number(n, "Rows Removed by Filter")) * loops
        })
        .sum();
    assert!(
        read <= 12.0,
        "{read} rows read for 3 tenants with something pending among {IDLE} idle ones: {explained}"
    );
    // The index descents: one per busy tenant and the one past the last,
    // a due probe per busy tenant, one range of dead letters — never one
    // per tenant with a webhook.
    let descents: f64 = scans.iter().map(|n| number(n, "Actual Loops")).sum();
    assert!(
        descents <= 12.0,
        "{descents} index descents for 3 tenants with something pending among {IDLE} idle ones: {explained}"
    );
}
