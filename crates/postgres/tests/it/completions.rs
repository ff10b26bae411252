//! Upload completions of one tenant, batched: concurrent completes share
//! one transaction (one lock of the tenant's counters, one append to its
//! chain), and each still gets its own answer — a retried complete the
//! file's, an unknown file `NotFound` — with the counters, the versions
//! and the audit chain as if each had been completed alone.

use coffer_domain::{ContentType, FileId, FileStatus, ObjectKey, Sha256Digest};
use coffer_ports::{
    AuditChain, AuditLog, FileCatalog, Journal, MetadataErrorKind, ObjectFacts, TenantScope,
};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::support::{at, limits, new_file, record, tenant};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A complete's record, named after its file.
fn completed(name: &str) -> Journal {
    let mut journal = record();
    journal.audit.action = format!("file.completed.{name}");
    journal
}

#[tokio::test]
async fn concurrent_completions_share_a_transaction_each_with_its_own_outcome() {
    let db = TestDb::new().await;
    let store = db.store(8).unwrap();
    let (t, owner) = tenant(&store, "acme").await;
    let scope = TenantScope::new(t.id);
    let mut pending = Vec::new();
    for i in 0..10 {
        let name = format!("f{i}");
        let file = store
            .reserve_upload(
                &scope,
                new_file(&t, owner, &format!("{name}.pdf"), 10),
                &limits(),
                record(),
            )
            .await
            .unwrap();
        pending.push((name, file));
    }
    // f0 finds the lane idle and completes alone; f1–f8 arrive during its
    // transaction and go together with a retry of f3 and a file that does
    // not exist. f9 stays pending. Each stores 12 bytes for the 10 reserved.
    let mut calls: Vec<(String, FileId, ObjectKey)> = pending[..9]
        .iter()
        .map(|(name, file)| (name.clone(), file.id, file.key.clone()))
        .collect();
    calls.push(("f3".into(), pending[3].1.id, pending[3].1.key.clone()));
    calls.push(("unknown".into(), FileId::new_v7(), pending[0].1.key.clone()));
    let completions = calls.iter().map(|(name, id, key)| {
        let facts = ObjectFacts {
            key: key.clone(),
            size_bytes: 12,
            checksum_sha256: Some(Sha256Digest::from_bytes([7; 32])),
            content_type: ContentType::new("application/pdf").unwrap(),
            at: at(5),
            awaits_scan: false,
            retention: None,
        };
        store.mark_available(&scope, *id, facts, completed(name))
    });
    let outcomes = futures::future::join_all(completions).await;

    for ((name, _, _), outcome) in calls.iter().zip(&outcomes).take(10) {
        let file = outcome.as_ref().unwrap();
        assert_eq!(file.filename.as_str(), format!("{name}.pdf"));
        assert_eq!((file.status, file.size_bytes), (FileStatus::Available, 12));
    }
    assert_eq!(
        outcomes[10].as_ref().err().map(|e| e.kind()),
        Some(MetadataErrorKind::NotFound)
    );

    let usage = store.usage(&scope).await.unwrap();
    assert_eq!(
        (
            usage.file_count,
            usage.used_bytes,
            usage.reserved_files,
            usage.reserved_bytes
        ),
        (9, 108, 1, 10),
        "each completed once, f9 still reserved"
    );
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let count = |sql: &str| diesel::sql_query(sql.to_owned());
    let transactions: Count =
        count("SELECT count(DISTINCT xmin::text) AS n FROM files WHERE status = 'available'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(transactions.n, 2, "f0 alone, then the rest together");
    let versions: Count = count("SELECT count(*) AS n FROM file_versions")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(versions.n, 9, "one version per completed file");

    let chain = store
        .read_chain(&scope, AuditChain::Main, 0, 100)
        .await
        .unwrap();
    let recorded: Vec<&str> = chain
        .iter()
        .filter_map(|e| e.action.strip_prefix("file.completed."))
        .collect();
    assert_eq!(
        recorded,
        ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8"],
        "in order of arrival, the retry and the unknown file unrecorded"
    );
    let mut prev = coffer_domain::ChainHash::GENESIS;
    for e in &chain {
        prev = e.chained_fields().unwrap().hash(&prev);
        assert_eq!(e.hash, Some(prev));
    }
}
