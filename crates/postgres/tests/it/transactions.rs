//! The transaction discipline as PostgreSQL sees it: after any call, success
//! or failure, read or write, no service connection is left inside a
//! transaction (and so none carries a tenant setting into its next use).

use coffer_domain::{FileId, TenantId};
use coffer_ports::{
    FileCatalog, FilePatch, Grants, MetadataErrorKind, MetadataReadiness, ReadFilter,
    TenantRegistry, TenantScope,
};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::support::{at, file, query, record, tenant};

#[derive(QueryableByName)]
struct State {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn app_connection_states(db: &TestDb) -> Vec<(String, i64)> {
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    diesel::sql_query(
        "SELECT coalesce(state, '') AS state, count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND usename = 'coffer_app'
         GROUP BY state ORDER BY state",
    )
    .load::<State>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|s| (s.state, s.n))
    .collect()
}

#[tokio::test]
async fn no_connection_is_left_in_a_transaction() {
    let db = TestDb::new().await;
    // One connection, so every call below runs on the connection inspected.
    let store = db.store(1).unwrap();
    let (t, owner) = tenant(&store, "acme").await;
    let s = TenantScope::new(t.id);
    let f = file(&store, &t, owner, "a.txt").await;
    // Reads and writes, each succeeding and failing.
    store.get_file(&s, f.id).await.unwrap();
    assert!(store.get_file(&s, FileId::new_v7()).await.is_err());
    store.list_files(&s, &query(ReadFilter::All)).await.unwrap();
    store.usage(&s).await.unwrap();
    assert!(store.list_grants(&s, FileId::new_v7()).await.is_err());
    assert!(store.trash_file(&s, f.id, at(5), record()).await.is_err());
    store
        .update_file(&s, f.id, FilePatch::default(), at(6), record())
        .await
        .unwrap();
    assert!(store.get_tenant(TenantId::new_random()).await.is_err());
    // Last, a successful read: the path that ends its transaction by hand.
    store.get_file(&s, f.id).await.unwrap();

    let states = app_connection_states(&db).await;
    assert_eq!(
        states,
        vec![("idle".to_owned(), 1)],
        "the pooled connection is idle, not idle in transaction"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    // Nothing listens on port 1.
    let store =
        coffer_postgres::PgMetadataStore::connect("postgres://coffer_app:x@127.0.0.1:1/coffer", 1)
            .unwrap();
    let ready = store.check_ready().await.unwrap_err();
    assert!(ready.is(MetadataErrorKind::Unavailable), "{ready}");
    let read = store.get_tenant(TenantId::new_random()).await.unwrap_err();
    assert!(read.is(MetadataErrorKind::Unavailable), "{read}");
    let usage = store
        .usage(&TenantScope::new(TenantId::new_random()))
        .await
        .unwrap_err();
    assert!(usage.is(MetadataErrorKind::Unavailable), "{usage}");
}

#[tokio::test]
async fn the_pool_replaces_a_lost_connection() {
    let db = TestDb::new().await;
    let store = db.store(1).unwrap();
    let (t, _) = tenant(&store, "acme").await;
    let s = TenantScope::new(t.id);
    store.usage(&s).await.unwrap();
    let mut owner = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let terminated = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND usename = 'coffer_app'",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    assert_eq!(terminated, 1, "the pool's one connection was killed");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The pool notices the dead connection before lending it again.
    store.usage(&s).await.unwrap();
}
