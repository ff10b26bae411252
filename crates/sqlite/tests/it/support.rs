//! A store on a fresh temp-file database, and small fixtures on top of the
//! contract suite's.

use coffer_contract::metadata::record;
use coffer_contract::metadata::{file as contract_file, new_tenant};
use coffer_domain::{Role, Subject, Tenant, UserId};
use coffer_ports::{Members, NewFile, TenantRegistry, TenantScope};
use coffer_sqlite::SqliteMetadataStore;
use tempfile::TempDir;

/// A store in its own temp dir; the dir (and database) goes with the guard.
pub async fn fresh() -> (SqliteMetadataStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(dir.path().join("coffer.db"))
        .await
        .unwrap();
    (store, dir)
}

/// A tenant and its user `owner`.
pub async fn tenant(store: &SqliteMetadataStore, slug: &str) -> (Tenant, UserId) {
    let tenant = store
        .create_tenant(new_tenant(slug, 0), record())
        .await
        .unwrap();
    let owner = store
        .upsert_user(
            &TenantScope::new(tenant.id),
            &Subject::new("owner").unwrap(),
            &[Role::Editor],
        )
        .await
        .unwrap();
    (tenant, owner)
}

pub fn new_file(tenant: &Tenant, owner: UserId, name: &str, size: u64) -> NewFile {
    contract_file(tenant, (owner, "owner"), "/", name, size, 1)
}
