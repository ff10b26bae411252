//! Moving a tenant end to end (docs/tenants-placement.md): a Starter tenant
//! upgraded to Enterprise moves its rows to a database of its own and its
//! objects to a bucket of its own; reads go on while its writes wait for
//! the switch, and a server killed in the middle of a move leaves one the
//! restarted server finishes, with nothing lost or doubled.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::*;

/// Moves run on the onboarding tick, with a freeze long enough to be seen
/// and a lease short enough for a restarted server to take a move over.
pub const MOVES: &[(&str, &str)] = &[
    ("COFFER__JOBS__ONBOARDING_INTERVAL_MS", "200"),
    ("COFFER__JOBS__MOVE_FREEZE_GRACE_MS", "2500"),
    ("COFFER__JOBS__ONBOARDING_LEASE_SECS", "2"),
];

async fn server() -> TestServer {
    let mut extra = vec![DEDICATED_DATABASES];
    extra.extend_from_slice(MOVES);
    TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await
}

struct Starter {
    id: String,
    slug: String,
    admin: String,
    reader: String,
    /// Each file's id and the SHA-256 of its bytes.
    files: Vec<(String, Vec<u8>)>,
}

async fn starter(server: &TestServer) -> Starter {
    on_plan(server, "starter").await
}

/// A tenant of eu-west on `plan`, with three files and a grant.
async fn on_plan(server: &TestServer, plan: &str) -> Starter {
    let slug = format!("mover-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Mover", "plan": plan, "region": "eu-west",
            "admin_subject": "boss",
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let view = server.wait_onboarded(&id).await;
    assert_eq!(view["dedicated_database"], Value::Null);
    let admin = server.token(Some(&slug), "boss", &["admin"]).await;
    let reader = server.token(Some(&slug), "reader", &["viewer"]).await;
    let mut files = Vec::new();
    for (name, bytes) in [("a.pdf", PDF), ("b.png", PNG), ("c.pdf", PDF)] {
        let file = upload(server, &admin, name, bytes, json!({})).await;
        let id = file["id"].as_str().unwrap().to_owned();
        files.push((id, Sha256::digest(bytes).to_vec()));
    }
    // The reader sees a.pdf through a grant.
    let grant = server
        .req(
            Method::POST,
            &format!("/api/v1/files/{}/permissions", files[0].0),
            &admin,
        )
        .json(&json!({"subject": "user:reader", "access": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), StatusCode::CREATED);
    Starter {
        id,
        slug,
        admin,
        reader,
        files,
    }
}

/// A file's bytes, fetched from the presigned URL Coffer hands out: `None`
/// when the download is refused.
async fn downloaded(server: &TestServer, token: &str, id: &str) -> Option<Vec<u8>> {
    let response = server
        .req(
            Method::GET,
            &format!("/api/v1/files/{id}/download?redirect=false"),
            token,
        )
        .send()
        .await
        .unwrap();
    if response.status() != StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    let bytes = reqwest::get(url).await.unwrap();
    assert_eq!(bytes.status(), StatusCode::OK, "{url}");
    Some(Sha256::digest(bytes.bytes().await.unwrap()).to_vec())
}

async fn assert_every_file_reads_the_same(server: &TestServer, t: &Starter) {
    for (id, sha) in &t.files {
        assert_eq!(
            downloaded(server, &t.admin, id).await.as_ref(),
            Some(sha),
            "file {id}"
        );
    }
    assert_eq!(
        downloaded(server, &t.reader, &t.files[0].0).await.as_ref(),
        Some(&t.files[0].1),
        "the grant came along"
    );
}

/// `POST /api/v1/tenants/{id}/move` with `body`, as `token`.
async fn move_tenant(server: &TestServer, id: &str, token: &str, body: Value) -> reqwest::Response {
    server
        .req(Method::POST, &format!("/api/v1/tenants/{id}/move"), token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The actions of the tenant's audit log, as its admin reads them.
async fn audit_actions(server: &TestServer, token: &str) -> Vec<String> {
    let audit = ok_json(
        server
            .req(Method::GET, "/api/v1/audit?limit=200", token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// The tenant's plan changed to Enterprise.
async fn upgrade(server: &TestServer, id: &str, root: &str) {
    let upgraded = server
        .req(Method::PATCH, &format!("/api/v1/tenants/{id}"), root)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .await
        .unwrap();
    ok_json(upgraded, StatusCode::OK).await;
}

async fn view(server: &TestServer, id: &str) -> Value {
    server.tenant_admin_view(id).await
}

/// Polls the tenant view until `until` holds of it.
pub async fn wait_for(server: &TestServer, id: &str, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = view(server, id).await;
        if until(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "the move did not get there: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rows(server: &TestServer, database: &str, table: &str, tenant: &str) -> i64 {
    server
        .db()
        .unwrap()
        .count_rows(database, table, tenant.parse().unwrap())
        .await
        .unwrap()
}

/// `coffer audit verify --tenant <slug>` passes: every chain of the
/// tenant is whole.
fn assert_audit_verifies(server: &TestServer, slug: &str) {
    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["audit", "verify", "--tenant", slug])
        .envs(server.vars().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[actix_web::test]
async fn a_starter_tenant_moved_to_its_own_database_and_bucket_reads_the_same_throughout() {
    let server = server().await;
    let t = starter(&server).await;
    let shared = server.db().unwrap().name().to_owned();
    assert_every_file_reads_the_same(&server, &t).await;
    let root = server.platform_admin().await;
    let bucket = format!("moved-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // A platform administrator moves it; the plan follows.
    let queued = move_tenant(
        &server,
        &t.id,
        &root,
        json!({"dedicated_database": true, "dedicated_bucket": bucket}),
    )
    .await;
    let queued = ok_json(queued, StatusCode::ACCEPTED).await;
    assert_eq!(
        queued["to"]["dedicated_bucket"],
        bucket.as_str(),
        "{queued}"
    );
    let twice = move_tenant(&server, &t.id, &root, json!({"dedicated_database": true})).await;
    problem(twice, StatusCode::CONFLICT, "move_in_progress").await;

    // While its writes are frozen, reads go on and writes wait.
    wait_for(&server, &t.id, |v| !v["writes_frozen_at"].is_null()).await;
    let write = server
        .req(Method::POST, "/api/v1/files", &t.admin)
        .json(
            &json!({"filename": "late.pdf", "content_type": "application/pdf", "size": PDF.len()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        write
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("5".to_owned())
    );
    problem(write, StatusCode::SERVICE_UNAVAILABLE, "tenant_moving").await;
    assert_every_file_reads_the_same(&server, &t).await;

    let placed = wait_for(&server, &t.id, |v| v["placement_status"] == "placed").await;
    let database = placed["dedicated_database"].as_str().unwrap().to_owned();
    assert_eq!(placed["dedicated_bucket"], bucket.as_str(), "{placed}");
    assert_eq!(placed["writes_frozen_at"], Value::Null);
    assert_eq!(placed["move"]["state"], "done", "{placed}");

    // Its rows are in its database only, its objects in its bucket.
    for (table, expected) in [("files", 3), ("users", 2), ("grants", 1)] {
        assert_eq!(
            rows(&server, &database, table, &t.id).await,
            expected,
            "{table}"
        );
        assert_eq!(
            rows(&server, &shared, table, &t.id).await,
            0,
            "{table} left in the shared tables"
        );
    }
    for (id, _) in &t.files {
        let record = file_record(
            &server,
            coffer_domain::TenantId::from_uuid(t.id.parse().unwrap()),
            coffer_domain::FileId::from_uuid(id.parse().unwrap()),
        )
        .await;
        assert_eq!(record.bucket.as_str(), bucket, "file {id}");
    }
    assert_every_file_reads_the_same(&server, &t).await;

    // An upgrade now keeps it where it is; new writes land in its database.
    upgrade(&server, &t.id, &root).await;
    upload(&server, &t.admin, "after.pdf", PDF, json!({})).await;
    assert_eq!(rows(&server, &database, "files", &t.id).await, 4);

    // Its audit log reads whole (what came before the move included), and
    // both of its chains verify.
    let actions = audit_actions(&server, &t.admin).await;
    for action in ["file.download_url", "tenant.move_queued", "tenant.moved"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_audit_verifies(&server, &t.slug);
}

#[actix_web::test]
async fn an_upgrade_killed_mid_move_is_finished_by_the_restarted_server_with_nothing_lost_or_doubled()
 {
    let server = server().await;
    let t = starter(&server).await;
    let shared = server.db().unwrap().name().to_owned();
    let root = server.platform_admin().await;
    assert_every_file_reads_the_same(&server, &t).await;

    // The plan change queues the move its placement calls for.
    upgrade(&server, &t.id, &root).await;
    let copying = wait_for(&server, &t.id, |v| {
        v["placement_status"] == "moving:copy_rows"
    })
    .await;
    assert_eq!(
        copying["dedicated_database"],
        Value::Null,
        "not switched yet"
    );

    // Killed while it copies (or waits to); the restarted server takes the
    // move over once the dead worker's lease has run out.
    let server = server.kill_and_restart().await;
    let placed = wait_for(&server, &t.id, |v| v["placement_status"] == "placed").await;
    assert!(
        placed["move"]["attempts"].as_u64().unwrap() >= 2,
        "{placed}"
    );
    let database = placed["dedicated_database"].as_str().unwrap().to_owned();
    for (table, expected) in [
        ("files", 3),
        ("users", 2),
        ("grants", 1),
        ("usage_counters", 1),
    ] {
        assert_eq!(
            rows(&server, &database, table, &t.id).await,
            expected,
            "{table}"
        );
    }
    for table in ["files", "users", "grants"] {
        assert_eq!(rows(&server, &shared, table, &t.id).await, 0, "{table}");
    }
    let usage = &placed["usage"];
    assert_eq!(usage["file_count"], 3, "{placed}");
    assert_every_file_reads_the_same(&server, &t).await;
}

#[actix_web::test]
async fn moves_are_refused_where_there_is_nowhere_to_go() {
    let server = TestServer::start(Mode::Production).await;
    let root = server.platform_admin().await;
    let t = starter(&server).await;
    let refused = move_tenant(&server, &t.id, &root, json!({"dedicated_database": true})).await;
    problem(refused, StatusCode::CONFLICT, "move_unsupported").await;
    let not_admin = move_tenant(&server, &t.id, &t.admin, json!({})).await;
    problem(not_admin, StatusCode::FORBIDDEN, "platform_admin_required").await;
    let unknown = move_tenant(&server, &t.id, &root, json!({"somewhere": "else"})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn a_regional_tenant_upgraded_out_of_its_schema_takes_its_audit_chain_to_its_database() {
    let eu = coffer_postgres::testing::TestDb::new().await;
    let (url, owner) = (eu.app_url(), eu.owner_url());
    let mut extra = vec![
        DEDICATED_DATABASES,
        TENANT_SCHEMAS,
        ("COFFER__METADATA__REGIONS__EU_WEST__URL", url.as_str()),
        (
            "COFFER__METADATA__REGIONS__EU_WEST__MIGRATION_URL",
            owner.as_str(),
        ),
    ];
    extra.extend_from_slice(MOVES);
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await;
    let t = on_plan(&server, "professional").await;
    let placed = view(&server, &t.id).await;
    let schema = placed["dedicated_schema"].as_str().unwrap().to_owned();
    assert_eq!(placed["metadata_region"], "eu-west", "{placed}");
    let id: uuid::Uuid = t.id.parse().unwrap();
    assert_eq!(
        eu.count_rows(eu.name(), &format!("{schema}.files"), id)
            .await,
        Ok(3)
    );
    assert_every_file_reads_the_same(&server, &t).await;
    let entries_before = eu
        .count_rows(eu.name(), &format!("{schema}.audit_events"), id)
        .await
        .unwrap();
    assert!(entries_before > 0);

    // The upgrade to Enterprise moves it out of its schema.
    let root = server.platform_admin().await;
    upgrade(&server, &t.id, &root).await;
    wait_for(&server, &t.id, |v| !v["writes_frozen_at"].is_null()).await;
    let write = server
        .req(
            Method::DELETE,
            &format!("/api/v1/files/{}", t.files[2].0),
            &t.admin,
        )
        .send()
        .await
        .unwrap();
    problem(write, StatusCode::SERVICE_UNAVAILABLE, "tenant_moving").await;
    assert_every_file_reads_the_same(&server, &t).await;
    let placed = wait_for(&server, &t.id, |v| v["placement_status"] == "placed").await;
    let database = placed["dedicated_database"].as_str().unwrap().to_owned();
    assert_eq!(placed["dedicated_schema"], Value::Null, "{placed}");

    // Its rows, chain and events are in its database; the schema is gone.
    for (table, expected) in [("files", 3), ("users", 2), ("grants", 1)] {
        assert_eq!(
            rows(&server, &database, table, &t.id).await,
            expected,
            "{table}"
        );
    }
    let carried = rows(&server, &database, "audit_events", &t.id).await;
    assert!(
        carried >= entries_before,
        "{carried} entries carried of at least {entries_before}"
    );
    assert!(
        eu.count_rows(eu.name(), &format!("{schema}.files"), id)
            .await
            .is_err(),
        "the schema was dropped"
    );
    assert_every_file_reads_the_same(&server, &t).await;
    upload(&server, &t.admin, "after.pdf", PDF, json!({})).await;
    assert_eq!(rows(&server, &database, "files", &t.id).await, 4);

    // Everything it recorded in its schema reads on from its database,
    // and the chain verifies across the move.
    let actions = audit_actions(&server, &t.admin).await;
    for action in ["file.download_url", "grant.added", "tenant.moved"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_audit_verifies(&server, &t.slug);
}

#[actix_web::test]
async fn a_tenant_moved_to_another_region_once_confirmed_keeps_nothing_in_the_old_one() {
    use crate::regions::{objects_of, s3, shared_store};
    use crate::weed::{MOVED_REGION_WEED_BASE, Weed};
    let weed = Weed::start(MOVED_REGION_WEED_BASE).await;
    let (eu, us) = (
        coffer_postgres::testing::TestDb::new().await,
        coffer_postgres::testing::TestDb::new().await,
    );
    let short = || uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (eu_bucket, us_bucket) = (format!("mv-eu-{}", short()), format!("mv-us-{}", short()));
    let settings = [
        // us-east: a bucket on the default endpoint and a database.
        (
            "COFFER__STORAGE__REGIONS__US_EAST__BUCKET",
            us_bucket.clone(),
        ),
        ("COFFER__METADATA__REGIONS__US_EAST__URL", us.app_url()),
        (
            "COFFER__METADATA__REGIONS__US_EAST__MIGRATION_URL",
            us.owner_url(),
        ),
        // eu-west: a bucket on an endpoint of its own, and a database.
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__BUCKET",
            eu_bucket.clone(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__ENDPOINT",
            weed.endpoint(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__ACCESS_KEY_ID",
            "coffer-test".to_owned(),
        ),
        (
            "COFFER__STORAGE__REGIONS__EU_WEST__S3__SECRET_ACCESS_KEY",
            weed.secret.clone(),
        ),
        ("COFFER__METADATA__REGIONS__EU_WEST__URL", eu.app_url()),
        (
            "COFFER__METADATA__REGIONS__EU_WEST__MIGRATION_URL",
            eu.owner_url(),
        ),
    ];
    let mut extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.extend_from_slice(MOVES);
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &extra).await;
    let t = starter(&server).await;
    let id = coffer_domain::TenantId::from_uuid(t.id.parse().unwrap());
    let (eu_store, us_store) = (
        s3(&weed.endpoint(), "coffer-test", &weed.secret),
        shared_store(),
    );
    assert_eq!(objects_of(&eu_store, id).await.len(), 3);
    assert_every_file_reads_the_same(&server, &t).await;
    let root = server.platform_admin().await;

    // Residency is a promise: not without saying so.
    let to_us = json!({"region": "us-east"});
    let unconfirmed = move_tenant(&server, &t.id, &root, to_us).await;
    problem(
        unconfirmed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "region_change_unconfirmed",
    )
    .await;
    let nowhere = move_tenant(
        &server,
        &t.id,
        &root,
        json!({"region": "ap-south", "confirm_region_change": true}),
    )
    .await;
    problem(
        nowhere,
        StatusCode::UNPROCESSABLE_ENTITY,
        "region_not_placed",
    )
    .await;
    let queued = move_tenant(
        &server,
        &t.id,
        &root,
        json!({"region": "us-east", "confirm_region_change": true}),
    )
    .await;
    let queued = ok_json(queued, StatusCode::ACCEPTED).await;
    assert_eq!(queued["to"]["region"], "us-east", "{queued}");
    assert_eq!(queued["to"]["metadata_region"], "us-east", "{queued}");

    let placed = wait_for(&server, &t.id, |v| v["placement_status"] == "placed").await;
    assert_eq!(placed["region"], "us-east", "{placed}");
    assert_eq!(placed["metadata_region"], "us-east", "{placed}");

    // Its rows and audit chain are in us-east's database, none in eu-west's;
    // its objects in us-east's bucket, none left on eu-west's endpoint.
    let uuid = *id.as_uuid();
    for (table, expected) in [("files", 3), ("users", 2), ("grants", 1)] {
        assert_eq!(
            us.count_rows(us.name(), table, uuid).await,
            Ok(expected),
            "{table}"
        );
        assert_eq!(
            eu.count_rows(eu.name(), table, uuid).await,
            Ok(0),
            "{table}"
        );
    }
    assert!(
        us.count_rows(us.name(), "audit_events", uuid)
            .await
            .unwrap()
            > 0
    );
    assert_eq!(eu.count_rows(eu.name(), "audit_events", uuid).await, Ok(0));
    assert!(
        objects_of(&eu_store, id).await.is_empty(),
        "objects left in eu-west"
    );
    let in_us = objects_of(&us_store, id).await;
    assert_eq!(in_us.len(), 3, "{in_us:?}");
    assert!(
        in_us.iter().all(|(bucket, _)| *bucket == us_bucket),
        "{in_us:?}"
    );
    assert_every_file_reads_the_same(&server, &t).await;
    upload(&server, &t.admin, "after.pdf", PDF, json!({})).await;
    assert_eq!(us.count_rows(us.name(), "files", uuid).await, Ok(4));

    assert_audit_verifies(&server, &t.slug);
}

#[actix_web::test]
async fn a_move_to_a_bucket_of_its_own_alone_leaves_the_rows_where_they_are() {
    let server = server().await;
    let t = starter(&server).await;
    let shared = server.db().unwrap().name().to_owned();
    assert_every_file_reads_the_same(&server, &t).await;
    let root = server.platform_admin().await;
    let bucket = format!("own-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let queued = move_tenant(
        &server,
        &t.id,
        &root,
        json!({"dedicated_database": false, "dedicated_bucket": bucket}),
    )
    .await;
    ok_json(queued, StatusCode::ACCEPTED).await;
    let placed = wait_for(&server, &t.id, |v| v["placement_status"] == "placed").await;
    assert_eq!(placed["dedicated_bucket"], bucket.as_str(), "{placed}");
    assert_eq!(placed["dedicated_database"], Value::Null, "{placed}");
    // Same tables, every row still there, naming the new bucket.
    for (table, expected) in [("files", 3), ("users", 2), ("grants", 1)] {
        assert_eq!(
            rows(&server, &shared, table, &t.id).await,
            expected,
            "{table}"
        );
    }
    for (id, _) in &t.files {
        let record = file_record(
            &server,
            coffer_domain::TenantId::from_uuid(t.id.parse().unwrap()),
            coffer_domain::FileId::from_uuid(id.parse().unwrap()),
        )
        .await;
        assert_eq!(record.bucket.as_str(), bucket, "file {id}");
    }
    assert_every_file_reads_the_same(&server, &t).await;
}
