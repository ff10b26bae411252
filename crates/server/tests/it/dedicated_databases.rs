//! Dedicated databases end to end: Enterprise tenants get a PostgreSQL
//! database of their own that holds their files, users, grants, usage and
//! their records; the shared database stays the registry. Isolation holds
//! across databases, the audit log and events read from both places in
//! order, platform metrics count what dedicated databases hold, and `coffer
//! migrate` migrates every placement, going on past a failure.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use coffer_domain::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::audit::audit_pages;
use crate::events::{FAST_DELIVERY, Received, free_port, polled, receiver, set_webhook};
use crate::support::*;

struct Placed {
    slug: String,
    id: TenantId,
    /// Its own database, or the shared one's name.
    database: String,
    admin: String,
}

async fn server() -> TestServer {
    let mut extra = vec![DEDICATED_DATABASES];
    extra.extend_from_slice(FAST_DELIVERY);
    TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await
}

async fn onboard(server: &TestServer, plan: &str) -> Placed {
    let slug = format!("{plan}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Placed", "plan": plan, "region": "eu-west",
            "admin_subject": "boss",
        }))
        .await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    let database = view["dedicated_database"]
        .as_str()
        .map_or_else(|| server.db().unwrap().name().to_owned(), str::to_owned);
    Placed {
        admin: server.token(Some(&slug), "boss", &["admin"]).await,
        id: TenantId::from_uuid(view["id"].as_str().unwrap().parse().unwrap()),
        slug,
        database,
    }
}

async fn rows(server: &TestServer, database: &str, table: &str, tenant: &Placed) -> i64 {
    server
        .db()
        .unwrap()
        .count_rows(database, table, *tenant.id.as_uuid())
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_enterprise_tenants_data_lives_in_its_own_database_only() {
    let server = server().await;
    let shared = server.db().unwrap().name().to_owned();
    let a = onboard(&server, "enterprise").await;
    let b = onboard(&server, "enterprise").await;
    let s = onboard(&server, "starter").await;
    assert_ne!(a.database, shared);
    assert_ne!(a.database, b.database);
    assert_eq!(s.database, shared);

    let mut files = Vec::new();
    for t in [&a, &b, &s] {
        let file = upload(&server, &t.admin, "a.pdf", PDF, json!({})).await;
        files.push(file["id"].as_str().unwrap().to_owned());
    }
    // Each tenant's rows are where its placement says, and nowhere else.
    for (t, others) in [(&a, [&b, &s]), (&b, [&a, &s])] {
        assert_eq!(rows(&server, &t.database, "files", t).await, 1);
        assert_eq!(rows(&server, &shared, "files", t).await, 0);
        assert_eq!(rows(&server, &shared, "users", t).await, 0);
        assert!(rows(&server, &t.database, "audit_events", t).await > 0);
        for other in others {
            for table in ["tenants", "files", "users"] {
                assert_eq!(
                    rows(&server, &t.database, table, other).await,
                    0,
                    "{table} of {} in {}",
                    other.slug,
                    t.database
                );
            }
        }
    }
    assert_eq!(rows(&server, &shared, "files", &s).await, 1);

    // Another tenant's file is 404 whichever database it lives in.
    for (who, whose) in [
        (&b, &files[0]),
        (&a, &files[1]),
        (&s, &files[0]),
        (&a, &files[2]),
    ] {
        let response = server
            .req(Method::GET, &format!("/api/v1/files/{whose}"), &who.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{}", who.slug);
    }

    // Platform metrics count what the dedicated databases hold.
    let root = server.platform_admin().await;
    let metrics = ok_json(
        server
            .req(Method::GET, "/api/v1/platform/metrics", &root)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(metrics["files"], 3, "{metrics}");
    assert_eq!(metrics["bytes"], 3 * PDF.len(), "{metrics}");
    assert_eq!(metrics["users"], 3, "{metrics}");
}

#[actix_web::test]
async fn the_audit_log_and_events_of_a_dedicated_tenant_come_from_both_databases_in_order() {
    let server = server().await;
    let a = onboard(&server, "enterprise").await;
    let port = free_port();
    let received = Received::default();
    let hook = receiver(port, received.clone());
    // A registry change (the webhook setting, in the shared database) …
    set_webhook(&server, &a.admin, &format!("http://127.0.0.1:{port}/hook")).await;
    // … data changes (in its own database) …
    let file = upload(&server, &a.admin, "a.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap();
    // … and another registry change: the platform renames the tenant.
    let root = server.platform_admin().await;
    ok_json(
        server
            .req(Method::PATCH, &format!("/api/v1/tenants/{}", a.id), &root)
            .json(&json!({ "display_name": "Renamed" }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;

    let entries = audit_pages(&server, &a.admin, 1).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "tenant.created",
        "webhook.set",
        "file.upload_initiated",
        "tenant.updated",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(
        entries.iter().any(|e| e["file_id"] == id),
        "the file's entries are listed: {actions:?}"
    );
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, newest_first, "one page at a time, newest first");
    let ids: BTreeSet<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), entries.len(), "no entry listed twice");

    // Polled, the events of both places come once each, oldest first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = polled(&server, &a.admin).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"tenant.updated"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.starts_with("file.")), "{kinds:?}");
    let polled_ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(polled_ids.len(), events.len());

    // Delivered, too: the dispatcher claims from both databases (events
    // from before the webhook was set are for polling only).
    let due: BTreeSet<&str> = events
        .iter()
        .filter(|e| {
            let kind = e["type"].as_str().unwrap();
            kind == "tenant.updated" || kind.starts_with("file.")
        })
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let delivered: BTreeSet<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, id, _)| id.clone())
            .collect();
        if due.iter().all(|id| delivered.contains(*id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered {delivered:?} of {due:?} ({kinds:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hook.stop(false).await;
}

#[actix_web::test]
async fn coffer_migrate_migrates_every_placement_and_goes_on_past_a_failure() {
    let server = server().await;
    let a = onboard(&server, "enterprise").await;
    let b = onboard(&server, "enterprise").await;
    let db = server.db().unwrap();
    // A's database lost its newest migration (as if made by an older
    // Coffer); B's database is gone.
    db.execute_in(
        &a.database,
        concat!(
            include_str!(
                "../../../../migrations/postgres/2026-12-01-000009_dedicated_database/down.sql"
            ),
            "\nDELETE FROM __diesel_schema_migrations WHERE version = '20261201000009';"
        ),
    )
    .await
    .unwrap();
    assert!(
        db.execute_in(&a.database, "SELECT dedicated_database FROM tenants")
            .await
            .is_err(),
        "the column is gone"
    );
    db.execute_in(
        "postgres",
        &format!("DROP DATABASE {} WITH (FORCE)", b.database),
    )
    .await
    .unwrap();

    // Without its database, B is unavailable; A and the instance are not.
    problem(
        server
            .req(Method::GET, "/api/v1/files", &b.admin)
            .send()
            .await
            .unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "metadata_unavailable",
    )
    .await;
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let config = server.config(&[("COFFER__METADATA__MIGRATION_URL", db.owner_url())]);
    let report = coffer_server::cli::migrate_all(&config).await.unwrap();
    assert!(
        report.shared.is_empty(),
        "the shared database was up to date"
    );
    assert_eq!(report.dedicated.len(), 2, "{report:?}");
    assert_eq!(report.failures(), 1, "{report:?}");
    let outcome = |t: &Placed| {
        report
            .dedicated
            .iter()
            .find(|d| d.database == t.database)
            .map(|d| d.outcome.clone())
            .unwrap()
    };
    assert_eq!(outcome(&a).unwrap().len(), 1, "A got its migration back");
    assert!(outcome(&b).is_err(), "B's failure is reported");
    db.execute_in(&a.database, "SELECT dedicated_database FROM tenants")
        .await
        .unwrap();
    // A works on its migrated database.
    let file = upload(&server, &a.admin, "after.pdf", PDF, json!({})).await;
    assert_eq!(file["status"], "available");
}

/// The value of an unlabelled or labelled sample in a scrape.
fn sample(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[actix_web::test]
async fn the_pools_of_dedicated_databases_are_gauged() {
    let server = server().await;
    assert_eq!(
        sample(&server.prometheus().await, "coffer_db_dedicated_pools "),
        0
    );
    let enterprise = onboard(&server, "enterprise").await;
    let listing = server
        .req(Method::GET, "/api/v1/files", &enterprise.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);
    let text = server.prometheus().await;
    assert_eq!(sample(&text, "coffer_db_dedicated_pools "), 1, "{text}");
    let connections = sample(
        &text,
        r#"coffer_db_dedicated_pool_connections{state="idle"} "#,
    ) + sample(
        &text,
        r#"coffer_db_dedicated_pool_connections{state="in_use"} "#,
    );
    assert!(connections >= 1, "{text}");
    sample(&text, "coffer_db_dedicated_pool_waiting ");
    // The shared pool's gauges are its own.
    sample(&text, r#"coffer_db_pool_connections{state="idle"} "#);
}
