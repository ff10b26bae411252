//! Upload reservations of one tenant, batched: concurrent initiates share
//! one transaction (and one lock of the tenant's counters), and each still
//! gets its own answer — admitted in order of arrival until the quota is
//! full, refused after, a taken name a conflict — with the counters, the
//! rows and the audit chain as if each had been reserved alone.

use coffer_domain::FileStatus;
use coffer_ports::{
    AuditChain, AuditLog, FileCatalog, Journal, MetadataErrorKind, NewEvent, TenantScope,
};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::support::{limits, new_file, record, tenant};

#[derive(QueryableByName)]
struct Names {
    #[diesel(sql_type = diesel::sql_types::Text)]
    names: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A reservation's record with an event, as the service writes it.
fn announced(name: &str) -> Journal {
    let mut audit = record().audit;
    audit.action = format!("file.initiated.{name}");
    Journal::announced(
        audit,
        NewEvent {
            id: uuid::Uuid::now_v7(),
            kind: "file.initiated".into(),
            data: serde_json::json!({ "name": name }),
        },
    )
}

#[tokio::test]
async fn concurrent_reservations_share_a_transaction_each_with_its_own_outcome() {
    let db = TestDb::new().await;
    let store = db.store(8).unwrap();
    let (t, owner) = tenant(&store, "acme").await;
    let scope = TenantScope::new(t.id);
    let mut small = limits();
    small.max_files = 5;
    // f0 finds the lane idle and is reserved alone; the rest arrive during
    // its transaction and go together: f1–f4 fill the quota, f5–f9 are
    // refused, and the second f3 finds its name taken.
    let names = [
        "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f3",
    ];
    let reservations = names.iter().map(|name| {
        let (store, small, t) = (&store, &small, &t);
        async move {
            store
                .reserve_upload(
                    &scope,
                    new_file(t, owner, &format!("{name}.pdf"), 10),
                    small,
                    announced(name),
                )
                .await
        }
    });
    let outcomes = futures::future::join_all(reservations).await;

    let kinds: Vec<Option<MetadataErrorKind>> = outcomes
        .iter()
        .map(|o| o.as_ref().err().map(|e| e.kind()))
        .collect();
    let quota = Some(MetadataErrorKind::QuotaExceeded);
    assert_eq!(
        kinds,
        [
            None,
            None,
            None,
            None,
            None,
            quota,
            quota,
            quota,
            quota,
            quota,
            Some(MetadataErrorKind::Conflict)
        ]
    );
    for (name, outcome) in names.iter().zip(&outcomes).take(5) {
        let file = outcome.as_ref().unwrap();
        assert_eq!(file.filename.as_str(), format!("{name}.pdf"));
        assert_eq!(file.status, FileStatus::Pending);
    }

    let usage = store.usage(&scope).await.unwrap();
    assert_eq!((usage.reserved_files, usage.reserved_bytes), (5, 50));
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let count = |sql: &str| diesel::sql_query(sql.to_owned());
    let rows: Names =
        count("SELECT string_agg(filename, ',' ORDER BY filename) AS names FROM files")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        rows.names, "f0.pdf,f1.pdf,f2.pdf,f3.pdf,f4.pdf",
        "no row of a refusal"
    );
    let transactions: Count = count("SELECT count(DISTINCT xmin::text) AS n FROM files")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(transactions.n, 2, "f0 alone, then the rest together");
    let events: Count = count("SELECT count(*) AS n FROM outbox WHERE topic = 'file.initiated'")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(events.n, 5, "an event for each admitted reservation only");

    let chain = store
        .read_chain(&scope, AuditChain::Main, 0, 100)
        .await
        .unwrap();
    let initiated: Vec<&str> = chain
        .iter()
        .filter_map(|e| e.action.strip_prefix("file.initiated."))
        .collect();
    assert_eq!(
        initiated,
        ["f0", "f1", "f2", "f3", "f4"],
        "in order of arrival"
    );
    let mut prev = coffer_domain::ChainHash::GENESIS;
    for e in &chain {
        prev = e.chained_fields().unwrap().hash(&prev);
        assert_eq!(e.hash, Some(prev));
    }
}
