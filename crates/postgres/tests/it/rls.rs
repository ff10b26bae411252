//! Row-level security, proven with raw SQL through the service role: even
//! a query that forgets its tenant filter sees and changes only the tenant
//! of its transaction.

use coffer_domain::{Access, GrantId, Subject, Tenant, TenantId};
use coffer_ports::{AuditLog, FileCatalog, Grants, NewAudit, NewGrant, TenantScope};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use crate::support::{at, file, record, tenant};

#[derive(QueryableByName)]
struct TenantOf {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const TENANT_TABLES: [&str; 8] = [
    "tenant_settings",
    "tenant_features",
    "users",
    "files",
    "grants",
    "usage_counters",
    "audit_events",
    "outbox",
];

struct Loaded {
    db: TestDb,
    a: Tenant,
    b: Tenant,
}

/// Two tenants, each with two files, a grant, an audit record, a user and
/// a usage row, written through the adapter.
async fn two_tenants() -> Loaded {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let mut tenants = Vec::new();
    for slug in ["tenant-a", "tenant-b"] {
        let (t, owner) = tenant(&store, slug).await;
        let scope = TenantScope::new(t.id);
        let f = file(&store, &t, owner, "one.txt").await;
        file(&store, &t, owner, "two.txt").await;
        store
            .put_grant(
                &scope,
                NewGrant {
                    id: GrantId::new_random(),
                    file_id: f.id,
                    subject: "user:someone".parse().unwrap(),
                    access: Access::Read,
                    expires_at: None,
                    created_by: Subject::new("owner").unwrap(),
                    created_at: at(2),
                },
                record(),
            )
            .await
            .unwrap();
        store
            .append_audit(
                &scope,
                NewAudit {
                    actor: Subject::new("owner").unwrap(),
                    action: "file.create".into(),
                    file_id: Some(f.id),
                    detail: serde_json::json!({}),
                    request_id: None,
                    client_addr: None,
                    at: at(3),
                },
            )
            .await
            .unwrap();
        tenants.push(t);
    }
    let b = tenants.pop().unwrap();
    let a = tenants.pop().unwrap();
    Loaded { db, a, b }
}

async fn app(db: &TestDb) -> AsyncPgConnection {
    AsyncPgConnection::establish(&db.app_url()).await.unwrap()
}

/// Opens a transaction scoped the way the adapter scopes it.
async fn begin_as(conn: &mut AsyncPgConnection, tenant: TenantId) {
    conn.batch_execute(&format!("BEGIN; SET LOCAL coffer.tenant_id = '{tenant}'"))
        .await
        .unwrap();
}

async fn count(conn: &mut AsyncPgConnection, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn select_without_where_returns_only_the_scoped_tenants_rows() {
    let Loaded { db, a, .. } = two_tenants().await;
    let mut conn = app(&db).await;
    begin_as(&mut conn, a.id).await;
    let rows: Vec<TenantOf> = diesel::sql_query("SELECT * FROM files")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "A's two files, none of B's");
    assert!(rows.iter().all(|r| r.tenant_id == *a.id.as_uuid()));
    for table in ["users", "grants", "usage_counters", "audit_events"] {
        let rows: Vec<TenantOf> = diesel::sql_query(format!("SELECT tenant_id FROM {table}"))
            .load(&mut conn)
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table}: A has rows");
        assert!(
            rows.iter().all(|r| r.tenant_id == *a.id.as_uuid()),
            "{table} leaks another tenant"
        );
    }
    // The tenants table shows a tenant its own row only.
    assert_eq!(count(&mut conn, "tenants").await, 1);
    conn.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn update_and_delete_aimed_at_another_tenant_affect_nothing() {
    let Loaded { db, a, b } = two_tenants().await;
    let mut conn = app(&db).await;
    begin_as(&mut conn, a.id).await;
    let b_id = b.id;
    for sql in [
        format!("UPDATE files SET filename = 'pwned' WHERE tenant_id = '{b_id}'"),
        format!("DELETE FROM grants WHERE tenant_id = '{b_id}'"),
        format!("DELETE FROM files WHERE tenant_id = '{b_id}'"),
        format!("UPDATE usage_counters SET used_bytes = 0 WHERE tenant_id = '{b_id}'"),
        format!("UPDATE tenants SET display_name = 'pwned' WHERE id = '{b_id}'"),
        format!("DELETE FROM users WHERE tenant_id = '{b_id}'"),
    ] {
        let affected = diesel::sql_query(&sql).execute(&mut conn).await.unwrap();
        assert_eq!(affected, 0, "{sql}");
    }
    // Without any WHERE, only A's rows are touched.
    let affected = diesel::sql_query("UPDATE files SET filename = filename || '.bak'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(affected, 2);
    conn.batch_execute("COMMIT").await.unwrap();

    // B is intact, seen from B's own scope.
    begin_as(&mut conn, b.id).await;
    let untouched: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM files WHERE filename IN ('one.txt', 'two.txt')",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(untouched.n, 2);
    assert_eq!(count(&mut conn, "grants").await, 1);
    conn.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn writing_a_row_for_another_tenant_is_refused() {
    let Loaded { db, a, b } = two_tenants().await;
    let mut conn = app(&db).await;
    let b_id = b.id;
    let file_id = Uuid::new_v4();
    let attempts = [
        // RLS WITH CHECK runs before the other constraints, so the foreign
        // key to a user of B does not even come into play.
        format!(
            "INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path,
                                filename, content_type, size_bytes, visibility, status,
                                bucket, object_key, created_at, updated_at)
             VALUES ('{file_id}', '{b_id}', '{}', 'owner', 'documents', '/', 'planted.txt',
                     'text/plain', 1, 'private', 'available', 'coffer-files',
                     't/{b_id}/documents/{file_id}', now(), now())",
            Uuid::new_v4()
        ),
        format!(
            "INSERT INTO audit_events (id, tenant_id, actor, action, at)
             VALUES ('{}', '{b_id}', 'x', 'forged', now())",
            Uuid::new_v4()
        ),
        format!(
            "INSERT INTO users (id, tenant_id, subject) VALUES ('{}', '{b_id}', 'intruder')",
            Uuid::new_v4()
        ),
        // Moving one's own row into another tenant is refused too.
        format!("UPDATE files SET tenant_id = '{b_id}'"),
    ];
    for sql in attempts {
        begin_as(&mut conn, a.id).await;
        let err = diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .expect_err(&sql);
        assert!(
            err.to_string().contains("row-level security"),
            "{sql}: {err}"
        );
        conn.batch_execute("ROLLBACK").await.unwrap();
    }
}

#[tokio::test]
async fn without_a_tenant_nothing_is_visible() {
    let Loaded { db, a, .. } = two_tenants().await;
    let mut conn = app(&db).await;
    for table in TENANT_TABLES.iter().chain(&["tenants"]) {
        assert_eq!(
            count(&mut conn, table).await,
            0,
            "{table} outside any scope"
        );
    }
    // SET LOCAL ends with its transaction: nothing leaks to the next one
    // (which is what a pooled connection sees next).
    begin_as(&mut conn, a.id).await;
    assert_eq!(count(&mut conn, "files").await, 2);
    conn.batch_execute("COMMIT").await.unwrap();
    assert_eq!(count(&mut conn, "files").await, 0);
    conn.batch_execute("BEGIN").await.unwrap();
    assert_eq!(count(&mut conn, "files").await, 0);
    conn.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn the_audit_log_is_append_only_for_the_service() {
    let Loaded { db, a, .. } = two_tenants().await;
    let mut conn = app(&db).await;
    begin_as(&mut conn, a.id).await;
    let before = count(&mut conn, "audit_events").await;
    conn.batch_execute("COMMIT").await.unwrap();
    assert!(before >= 1, "the fixture's changes are on record");
    for sql in [
        "UPDATE audit_events SET action = 'rewritten'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        begin_as(&mut conn, a.id).await;
        let err = diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect_err(sql);
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
        conn.batch_execute("ROLLBACK").await.unwrap();
    }
    begin_as(&mut conn, a.id).await;
    assert_eq!(count(&mut conn, "audit_events").await, before);
    conn.batch_execute("COMMIT").await.unwrap();
}

/// The group commit's scope (`coffer.audit_batch`) spans tenants, so it
/// must stay as narrow as designed: the chain heads of the tenants it
/// names, inserts into their audit log, and nothing else.
#[tokio::test]
async fn an_audit_batch_reaches_only_the_chains_of_the_tenants_it_names() {
    let Loaded { db, a, b } = two_tenants().await;
    let mut conn = app(&db).await;
    let begin_batch = format!(
        "BEGIN; SELECT set_config('coffer.audit_batch', '{}', true)",
        a.id
    );
    conn.batch_execute(&begin_batch).await.unwrap();
    for table in TENANT_TABLES.iter().chain(&["tenants"]) {
        assert_eq!(
            count(&mut conn, table).await,
            0,
            "{table} in an audit batch"
        );
    }
    let heads: Vec<TenantOf> = diesel::sql_query("SELECT tenant_id FROM audit_chain_heads")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(heads.len(), 1, "A's head, not B's");
    assert_eq!(heads[0].tenant_id, *a.id.as_uuid());
    let b_head = format!(
        "UPDATE audit_chain_heads SET seq = seq + 1 WHERE tenant_id = '{}'",
        b.id
    );
    assert_eq!(
        diesel::sql_query(&b_head).execute(&mut conn).await.unwrap(),
        0
    );
    let insert = |tenant: TenantId| {
        format!(
            "INSERT INTO audit_events (id, tenant_id, actor, action, at)
             VALUES ('{}', '{tenant}', 'x', 'file.read', now())",
            Uuid::new_v4()
        )
    };
    let mine = diesel::sql_query(insert(a.id))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(mine, 1, "a tenant the batch names takes an entry");
    conn.batch_execute("COMMIT").await.unwrap();

    let refused = [
        insert(b.id),
        "UPDATE audit_events SET action = 'rewritten'".to_owned(),
        "DELETE FROM audit_chain_heads".to_owned(),
    ];
    for sql in refused {
        conn.batch_execute(&begin_batch).await.unwrap();
        let err = diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .expect_err(&sql);
        let err = err.to_string();
        assert!(
            err.contains("row-level security") || err.contains("permission denied"),
            "{sql}: {err}"
        );
        conn.batch_execute("ROLLBACK").await.unwrap();
    }
    // The setting ends with its transaction, like the tenant's.
    assert_eq!(count(&mut conn, "audit_chain_heads").await, 0);
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// The one-round-trip read of a file and its grants runs outside a
/// transaction block, each function entering the tenant it is given: it
/// must find nothing of another tenant and leave no tenant behind on the
/// connection.
#[tokio::test]
async fn the_one_trip_read_enters_only_the_tenant_it_names_and_leaves_none_behind() {
    let Loaded { db, a, b } = two_tenants().await;
    let mut conn = app(&db).await;
    begin_as(&mut conn, a.id).await;
    let granted: Id = diesel::sql_query("SELECT file_id AS id FROM grants")
        .get_result(&mut conn)
        .await
        .unwrap();
    conn.batch_execute("COMMIT").await.unwrap();
    let read = |function: &str, tenant: TenantId| {
        // The one-call read returns its file as a composite column.
        let tenant_of = match function {
            "coffer_tenant_file_read" => "(file_row).tenant_id AS tenant_id",
            _ => "tenant_id",
        };
        format!(
            "SELECT {tenant_of} FROM {function}('{tenant}', '{}')",
            granted.id
        )
    };
    for (function, tenant, expected) in [
        ("coffer_tenant_file", a.id, 1),
        ("coffer_tenant_file_grants", a.id, 1),
        ("coffer_tenant_file_read", a.id, 1),
        ("coffer_tenant_file", b.id, 0),
        ("coffer_tenant_file_grants", b.id, 0),
        ("coffer_tenant_file_read", b.id, 0),
    ] {
        let rows: Vec<TenantOf> = diesel::sql_query(read(function, tenant))
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(rows.len(), expected, "{function} in the scope of {tenant}");
        assert!(rows.iter().all(|r| r.tenant_id == *a.id.as_uuid()));
        for table in TENANT_TABLES {
            assert_eq!(count(&mut conn, table).await, 0, "{table} after {function}");
        }
    }
}

#[tokio::test]
async fn the_adapter_sees_nothing_of_another_tenant_through_scoped_calls() {
    let Loaded { db, a, b } = two_tenants().await;
    let store = db.store(2).unwrap();
    let usage_b = store.usage(&TenantScope::new(b.id)).await.unwrap();
    assert_eq!(usage_b.reserved_files, 2);
    // A tenant scope naming no tenant in the database sees an empty world.
    let ghost = TenantScope::new(TenantId::new_random());
    assert_eq!(store.usage(&ghost).await.unwrap(), Default::default());
    let _ = a;
}
