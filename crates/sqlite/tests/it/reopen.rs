//! What is specific to a database in a file: it survives re-opening, and
//! re-opening does not re-run migrations over existing data.

use coffer_contract::metadata::limits;
use coffer_contract::metadata::record;
use coffer_ports::{FileCatalog, Members, MetadataReadiness, TenantRegistry, TenantScope};
use coffer_sqlite::SqliteMetadataStore;

use crate::support::{new_file, tenant};

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("coffer.db");
    let (tenant_row, file) = {
        let store = SqliteMetadataStore::open(&path).await.unwrap();
        let (t, owner) = tenant(&store, "keeper").await;
        let f = store
            .reserve_upload(
                &TenantScope::new(t.id),
                new_file(&t, owner, "kept.pdf", 42),
                &limits(),
                record(),
            )
            .await
            .unwrap();
        (t, f)
    };
    let reopened = SqliteMetadataStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.get_tenant(tenant_row.id).await.unwrap(),
        tenant_row
    );
    let scope = TenantScope::new(tenant_row.id);
    assert_eq!(reopened.get_file(&scope, file.id).await.unwrap().file, file);
    assert_eq!(reopened.usage(&scope).await.unwrap().reserved_bytes, 42);
    reopened.check_ready().await.unwrap();
}

#[tokio::test]
async fn the_database_is_private_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let store = SqliteMetadataStore::open(&path).await.unwrap();
    store.check_ready().await.unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the database is private to its owner");
    // WAL mode is persistent in the file: its -wal companion appears on write.
    let (t, _) = tenant(&store, "walled").await;
    assert!(dir.path().join("coffer.db-wal").exists());
    // A user of a tenant that does not exist is refused by the foreign key.
    let missing = TenantScope::new(coffer_domain::TenantId::new_random());
    let refused = store
        .upsert_user(&missing, &coffer_domain::Subject::new("x").unwrap(), &[])
        .await
        .unwrap_err();
    assert!(
        refused.is(coffer_ports::MetadataErrorKind::NotFound),
        "{refused}"
    );
    store.get_tenant(t.id).await.unwrap();
}
