//! The scanning migration rebuilds `files` (SQLite cannot change a CHECK
//! constraint). Dropping the old table cascades to `grants`; the migration
//! keeps them aside and puts them back. Replaying its rebuild on a database
//! with a file and a grant, foreign keys on as the store runs migrations,
//! must lose neither.

use coffer_contract::metadata::{at, limits, record};
use coffer_domain::{Access, GrantId, GrantSubject, Subject};
use coffer_ports::{FileCatalog, Grants, NewGrant, TenantScope};
use coffer_sqlite::SqliteMetadataStore;
use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;

use crate::support::{new_file, tenant};

const SCANNING: &str =
    include_str!("../../../../migrations/sqlite/2026-12-02-000001_scanning/up.sql");
/// Later migrations add columns to `files`, which the replayed rebuild
/// does not know: they are added back after it, as those migrations did.
const RECORDS: &str =
    include_str!("../../../../migrations/sqlite/2026-12-02-000004_records/up.sql");
const VERSIONS: &str =
    include_str!("../../../../migrations/sqlite/2026-12-02-000005_versions/up.sql");

#[tokio::test]
async fn rebuilding_files_keeps_files_and_their_grants() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let store = SqliteMetadataStore::open(&path).await.unwrap();
    let (t, owner) = tenant(&store, "rebuilt").await;
    let scope = TenantScope::new(t.id);
    let file = store
        .reserve_upload(
            &scope,
            new_file(&t, owner, "kept.pdf", 42),
            &limits(),
            record(),
        )
        .await
        .unwrap();
    let grant = store
        .put_grant(
            &scope,
            NewGrant {
                id: GrantId::new_random(),
                file_id: file.id,
                subject: GrantSubject::User(Subject::new("bob").unwrap()),
                access: Access::Read,
                expires_at: None,
                created_by: Subject::new("owner").unwrap(),
                created_at: at(2),
            },
            record(),
        )
        .await
        .unwrap();
    drop(store);

    // The rebuild only: the queue table it creates after exists already.
    let rebuild = SCANNING
        .split("CREATE TABLE scan_jobs")
        .next()
        .unwrap()
        .to_owned()
        + RECORDS.split("CREATE TABLE legal_holds").next().unwrap()
        + VERSIONS.split("CREATE TABLE file_versions").next().unwrap();
    let path_str = path.to_string_lossy().into_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::SqliteConnection::establish(&path_str).unwrap();
        conn.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
        conn.transaction(|conn| conn.batch_execute(&rebuild))
            .unwrap();
    })
    .await
    .unwrap();

    let reopened = SqliteMetadataStore::open(&path).await.unwrap();
    assert_eq!(reopened.get_file(&scope, file.id).await.unwrap().file, file);
    assert_eq!(
        reopened.list_grants(&scope, file.id).await.unwrap(),
        vec![grant]
    );
}
