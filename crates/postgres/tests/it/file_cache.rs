//! The file cache of the shared database's tenants: a read answers from
//! this instance's cache, and is still exactly as fresh as a read of the
//! database — a change made anywhere (another instance, an operator's
//! SQL, this instance a moment ago) is seen by the very next read.

use std::sync::Arc;

use coffer_domain::{
    Access, ContentType, FileId, FileRecord, FileStatus, Filename, GrantId, Sha256Digest, Subject,
    Tenant,
};
use coffer_ports::{
    FileCatalog as _, FilePatch, Grants as _, NewGrant, ObjectFacts, StoredFile, TenantData,
    TenantScope,
};
use coffer_postgres::testing::TestDb;
use coffer_postgres::{DatabaseRouter, PgMetadataStore};

use crate::support::{at, file, record, tenant};

/// Two instances over one database: their own pools and their own caches.
async fn instance(db: &TestDb, tenant: &Tenant) -> Arc<TenantData> {
    let ports = DatabaseRouter::new(db.store(4).unwrap(), None).ports();
    ports.tenant_data.tenant_data(tenant).await.unwrap()
}

/// The file's read as coffer_app may not make it: only a cache answers.
const NO_READS: &str =
    "REVOKE EXECUTE ON FUNCTION coffer_tenant_file_read(uuid, uuid) FROM PUBLIC, coffer_app";
const READS: &str = "GRANT EXECUTE ON FUNCTION coffer_tenant_file_read(uuid, uuid) TO coffer_app";

async fn read(data: &TenantData, scope: &TenantScope, id: FileId) -> StoredFile {
    data.files.get_file(scope, id).await.unwrap()
}

/// Read, and read again once the instance's listener is up (the first read
/// starts it; until it listens, nothing is cached).
async fn cached(data: &TenantData, scope: &TenantScope, id: FileId) -> StoredFile {
    read(data, scope, id).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    read(data, scope, id).await
}

/// A tenant `acme` with one available file, on a fresh database.
async fn available_file() -> (TestDb, PgMetadataStore, Tenant, FileRecord) {
    let db = TestDb::new().await;
    let store = db.store(4).unwrap();
    let (acme, owner) = tenant(&store, "acme").await;
    let scope = TenantScope::new(acme.id);
    let pending = file(&store, &acme, owner, "a.pdf").await;
    let facts = ObjectFacts {
        key: pending.key.clone(),
        size_bytes: 1,
        checksum_sha256: Some(Sha256Digest::from_bytes([7; 32])),
        content_type: ContentType::new("application/pdf").unwrap(),
        at: at(5),
        awaits_scan: false,
        retention: None,
    };
    let available = store
        .mark_available(&scope, pending.id, facts, record())
        .await
        .unwrap();
    (db, store, acme, available)
}

#[tokio::test]
async fn a_cached_read_sees_every_change_committed_before_it_from_anywhere() {
    let (db, store, acme, pending) = available_file().await;
    let scope = TenantScope::new(acme.id);
    let grant = store
        .put_grant(
            &scope,
            NewGrant {
                id: GrantId::new_random(),
                file_id: pending.id,
                subject: "user:bob".parse().unwrap(),
                access: Access::Read,
                expires_at: None,
                created_by: Subject::new("owner").unwrap(),
                created_at: at(6),
            },
            record(),
        )
        .await
        .unwrap();
    let (one, two) = (instance(&db, &acme).await, instance(&db, &acme).await);

    // Read once through each instance, then take the database's read away:
    // the next reads answer from the caches, the store's own read fails.
    let first = cached(&two, &scope, pending.id).await;
    assert_eq!(first.grants.len(), 1);
    cached(&one, &scope, pending.id).await;
    db.execute_in(db.name(), NO_READS).await.unwrap();
    assert!(
        store.get_file(&scope, pending.id).await.is_err(),
        "the database's read is refused"
    );
    assert_eq!(
        read(&two, &scope, pending.id).await,
        first,
        "from the cache"
    );

    // A grant revoked through the other instance is gone at the next read:
    // the change dropped the entry, so the read goes to the database.
    one.grants
        .delete_grant(&scope, pending.id, grant.id, record())
        .await
        .unwrap();
    db.execute_in(db.name(), READS).await.unwrap();
    let revoked = read(&two, &scope, pending.id).await;
    assert!(revoked.grants.is_empty(), "revoked elsewhere: {revoked:?}");

    // Cached again; an operator's SQL renames the file; seen at once.
    read(&two, &scope, pending.id).await;
    let id = acme.id.as_uuid();
    db.execute_in(
        db.name(),
        &format!(
            "SET coffer.tenant_id = '{id}'; UPDATE files SET filename = 'renamed.pdf' WHERE id = '{}'",
            pending.id.as_uuid()
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        read(&two, &scope, pending.id).await.file.filename.as_str(),
        "renamed.pdf"
    );

    // Its own change a moment ago, and the trash through the other one.
    two.files
        .update_file(
            &scope,
            pending.id,
            FilePatch {
                filename: Some(Filename::new("mine.pdf").unwrap()),
                ..FilePatch::default()
            },
            at(7),
            record(),
        )
        .await
        .unwrap();
    assert_eq!(
        read(&two, &scope, pending.id).await.file.filename.as_str(),
        "mine.pdf"
    );
    one.files
        .trash_file(&scope, pending.id, at(8), record())
        .await
        .unwrap();
    assert_eq!(
        read(&two, &scope, pending.id).await.file.status,
        FileStatus::Deleted
    );
}

#[tokio::test]
async fn without_its_listener_the_cache_answers_nothing_until_it_is_back() {
    let (db, _store, acme, pending) = available_file().await;
    let scope = TenantScope::new(acme.id);
    let data = instance(&db, &acme).await;
    cached(&data, &scope, pending.id).await;
    db.execute_in(db.name(), NO_READS).await.unwrap();
    read(&data, &scope, pending.id).await;
    db.execute_in(db.name(), READS).await.unwrap();

    // Every connection of coffer_app ends, the listener's too: whatever
    // changed meanwhile is unknown, so nothing cached is served.
    db.execute_in(db.name(), NO_READS).await.unwrap();
    db.terminate_app_backends().await.unwrap();
    assert!(
        data.files.get_file(&scope, pending.id).await.is_err(),
        "read from the database (refused), not from the cache"
    );

    // The listener reconnects on its own; cached again, answered again.
    db.execute_in(db.name(), READS).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    read(&data, &scope, pending.id).await;
    db.execute_in(db.name(), NO_READS).await.unwrap();
    assert_eq!(
        read(&data, &scope, pending.id).await.file.id,
        pending.id,
        "from the cache again"
    );
}
