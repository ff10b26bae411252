//! The audit chain on PostgreSQL beyond the contract: the group commit
//! writes concurrent appends in fewer transactions than entries, and rows
//! written before the chain existed are chained by `migrate`.

use coffer_domain::TenantId;
use coffer_domain::{ChainHash, Subject};
use coffer_ports::{AuditChain, AuditLog, NewAudit, TenantRegistry, TenantScope};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::support::{at, new_tenant, record, tenant};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn entry(action: String) -> NewAudit {
    NewAudit {
        actor: Subject::new("alice").unwrap(),
        action,
        file_id: None,
        detail: serde_json::json!({}),
        request_id: None,
        client_addr: None,
        at: at(5),
    }
}

/// The owner's view of the tenant's `file.read.*` rows: how many, and in
/// how many transactions they were written (rows of one transaction share
/// its `xmin`).
async fn reads_and_transactions(db: &TestDb, tenant: uuid::Uuid) -> (i64, i64) {
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let count =
        |sql: &str| diesel::sql_query(sql.to_owned()).bind::<diesel::sql_types::Uuid, _>(tenant);
    let rows: Count = count(
        "SELECT count(*) AS n FROM audit_events WHERE tenant_id = $1 AND action LIKE 'file.read.%'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    let txs: Count = count(
        "SELECT count(DISTINCT xmin::text) AS n FROM audit_events \
         WHERE tenant_id = $1 AND action LIKE 'file.read.%'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    (rows.n, txs.n)
}

#[tokio::test]
async fn concurrent_appends_share_transactions_and_return_once_readable() {
    const N: usize = 30;
    let db = TestDb::new().await;
    let store = db.store(8).unwrap();
    let (t, _) = tenant(&store, "acme").await;
    let scope = TenantScope::new(t.id);
    // All polled at once: the first finds the tenant's lane idle and
    // writes alone; the rest gather behind it into the next batch.
    let appends = (0..N).map(|i| {
        let store = &store;
        async move {
            let action = format!("file.read.{i}");
            store
                .append_audit(&scope, entry(action.clone()))
                .await
                .unwrap();
            let chain = store
                .read_chain(&scope, AuditChain::Main, 0, 1000)
                .await
                .unwrap();
            assert!(
                chain.iter().any(|e| e.action == action),
                "entry {i} is committed when its append returns"
            );
        }
    });
    futures::future::join_all(appends).await;

    let (rows, transactions) = reads_and_transactions(&db, *t.id.as_uuid()).await;
    assert_eq!(rows, N as i64, "every entry written once");
    assert!(
        transactions < rows,
        "{rows} entries in {transactions} transactions: batched"
    );
    assert_eq!(
        transactions, 2,
        "one alone, then everyone who queued behind it"
    );
}

#[tokio::test]
async fn migrate_chains_rows_written_before_the_chain() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (t, _) = tenant(&store, "acme").await;
    let scope = TenantScope::new(t.id);
    // Two rows as an older Coffer wrote them: no seq, no hash.
    db.execute_in(
        db.name(),
        &format!(
            "INSERT INTO audit_events (id, tenant_id, actor, action, detail, at) VALUES \
             ('00000000-0000-7000-8000-000000000002', '{0}', 'old', 'file.download_url', '{{}}', '2020-01-02T00:00:00Z'), \
             ('00000000-0000-7000-8000-000000000001', '{0}', 'old', 'file.download_url', '{{\"n\": 1.0}}', '2020-01-01T00:00:00Z')",
            t.id
        ),
    )
    .await
    .unwrap();
    let before = store.chain_heads(&scope).await.unwrap();
    assert_eq!(before[0].seq, 1, "only the tenant's creation is chained");

    coffer_postgres::migrate(&db.owner_url()).await.unwrap();

    let chain = store
        .read_chain(&scope, AuditChain::Main, 0, 100)
        .await
        .unwrap();
    let actors: Vec<(u64, &str)> = chain
        .iter()
        .map(|e| (e.seq.unwrap(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actors[1..],
        [(2, "old"), (3, "old")],
        "chained after the head, (at, id) order"
    );
    assert_eq!(
        chain[1].at.date(),
        time::Date::from_calendar_date(2020, time::Month::January, 1).unwrap()
    );
    let mut prev = ChainHash::GENESIS;
    for e in &chain {
        prev = e.chained_fields().unwrap().hash(&prev);
        assert_eq!(e.hash, Some(prev));
    }
    let head = store.chain_heads(&scope).await.unwrap();
    assert_eq!((head[0].seq, head[0].hash), (3, prev));
    // Appends go on after them.
    store
        .append_audit(&scope, entry("file.read.x".into()))
        .await
        .unwrap();
    assert_eq!(store.chain_heads(&scope).await.unwrap()[0].seq, 4);
}

#[tokio::test]
async fn appends_of_many_tenants_share_one_transaction_each_in_its_own_chain() {
    // More tenants than `try_join_all` polls from an array (30): the batch
    // goes through its ordered-queue path too. All in one lane (a store's
    // pool options give it one unless set).
    const TENANTS: usize = 40;
    let db = TestDb::new().await;
    let store = db.store(8).unwrap();
    let mut scopes = Vec::new();
    for i in 0..TENANTS {
        let mut new = new_tenant(&format!("tenant-{i}"), 0);
        new.id = TenantId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1));
        let t = store.create_tenant(new, record()).await.unwrap();
        scopes.push(TenantScope::new(t.id));
    }
    append_two_each_at_once(&store, &scopes).await;

    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let txs: Count = diesel::sql_query(
        "SELECT count(DISTINCT xmin::text) AS n FROM audit_events WHERE action LIKE 'file.read.%'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        txs.n,
        2,
        "{} entries of {TENANTS} tenants: one alone, then one batch across tenants",
        TENANTS * 2
    );
    for (i, scope) in scopes.iter().enumerate() {
        let chain = store
            .read_chain(scope, AuditChain::Main, 0, 100)
            .await
            .unwrap();
        let reads: Vec<&str> = chain
            .iter()
            .filter(|e| e.action.starts_with("file.read."))
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            reads,
            [format!("file.read.{i}.0"), format!("file.read.{i}.1")],
            "tenant {i} holds its own entries, in order, and no other's"
        );
        assert!(chain.iter().all(|e| e.tenant_id == scope.tenant_id()));
        let mut prev = ChainHash::GENESIS;
        for e in &chain {
            prev = e.chained_fields().unwrap().hash(&prev);
            assert_eq!(e.hash, Some(prev), "tenant {i}'s chain links");
        }
        let head = store.chain_heads(scope).await.unwrap();
        assert_eq!((head[0].seq, head[0].hash), (chain.len() as u64, prev));
    }
}

/// A batch starts the chain of a tenant that has no head yet at the
/// genesis, and a sealed head (its tenant moving) fails the whole batch,
/// which then leaves every chain as it was.
#[tokio::test]
async fn a_batch_starts_missing_chains_and_a_sealed_head_writes_none_of_it() {
    let db = TestDb::new().await;
    let store = db.store(4).unwrap();
    let (a, _) = tenant(&store, "acme").await;
    let (fresh, _) = tenant(&store, "fresh").await;
    let (moving, _) = tenant(&store, "moving").await;
    let mut owner = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let by_owner = |sql: &str, t: TenantId| {
        diesel::sql_query(sql.to_owned()).bind::<diesel::sql_types::Uuid, _>(*t.as_uuid())
    };
    // As a tenant from before the chain existed: no head, no entries.
    for sql in [
        "DELETE FROM audit_events WHERE tenant_id = $1",
        "DELETE FROM audit_chain_heads WHERE tenant_id = $1",
    ] {
        by_owner(sql, fresh.id).execute(&mut owner).await.unwrap();
    }
    let batch = |tenants: &[&coffer_domain::Tenant]| {
        tenants
            .iter()
            .map(|t| coffer_ports::TenantAudits {
                scope: TenantScope::new(t.id),
                entries: vec![entry(format!("file.read.{}", t.slug))],
            })
            .collect::<Vec<_>>()
    };
    store.append_audits(&batch(&[&a, &fresh])).await.unwrap();
    let chain = store
        .read_chain(&TenantScope::new(fresh.id), AuditChain::Main, 0, 10)
        .await
        .unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].seq, Some(1));
    let first = chain[0].chained_fields().unwrap().hash(&ChainHash::GENESIS);
    assert_eq!(chain[0].hash, Some(first), "linked after the genesis");

    by_owner(
        "UPDATE audit_chain_heads SET sealed_at = now() WHERE tenant_id = $1",
        moving.id,
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let seqs = || async {
        let mut seqs = Vec::new();
        for t in [&a, &fresh, &moving] {
            let heads = store.chain_heads(&TenantScope::new(t.id)).await.unwrap();
            seqs.push(heads[0].seq);
        }
        seqs
    };
    let before = seqs().await;
    let err = store
        .append_audits(&batch(&[&a, &fresh, &moving]))
        .await
        .unwrap_err();
    assert!(err.is(coffer_ports::MetadataErrorKind::Moving), "{err}");
    assert_eq!(before, seqs().await, "nothing of the batch written");
}

#[tokio::test]
async fn audit_appends_lock_no_tenant_row() {
    // An entry's foreign key names its chain head, which the append already
    // holds: checking it takes no lock on the tenant's row (a lock there is
    // a page write and a WAL record per tenant of every batch).
    let db = TestDb::new().await;
    let store = db.store(8).unwrap();
    let mut scopes = Vec::new();
    for i in 0..3 {
        let (t, _) = tenant(&store, &format!("lockless-{i}")).await;
        scopes.push(TenantScope::new(t.id));
    }
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let before = tenant_row_lockers(&mut conn).await;
    append_two_each_at_once(&store, &scopes).await;
    assert_eq!(tenant_row_lockers(&mut conn).await, before);
    for scope in &scopes {
        let chain = store
            .read_chain(scope, AuditChain::Main, 0, 100)
            .await
            .unwrap();
        assert_eq!(
            chain
                .iter()
                .filter(|e| e.action.starts_with("file.read."))
                .count(),
            2
        );
    }
}

/// Each tenant row's `xmax`: the last transaction that locked or replaced it.
async fn tenant_row_lockers(conn: &mut AsyncPgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Xmax {
        #[diesel(sql_type = diesel::sql_types::Text)]
        xmax: String,
    }
    diesel::sql_query("SELECT xmax::text AS xmax FROM tenants ORDER BY id")
        .load::<Xmax>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.xmax)
        .collect()
}

/// Two entries for each tenant of `scopes` (`file.read.<tenant>.<n>`), all
/// appended at once: the first alone, the rest in one batch across tenants.
async fn append_two_each_at_once(store: &coffer_postgres::PgMetadataStore, scopes: &[TenantScope]) {
    let appends = scopes.iter().enumerate().flat_map(|(i, scope)| {
        (0..2).map(move |n| async move {
            store
                .append_audit(scope, entry(format!("file.read.{i}.{n}")))
                .await
                .unwrap();
        })
    });
    futures::future::join_all(appends).await;
}
