//! Small fixtures shared by the PostgreSQL-specific tests, on top of the
//! contract suite's.

use coffer_contract::metadata::file as contract_file;
pub use coffer_contract::metadata::{at, limits, lock_soon, new_tenant, query, record};
use coffer_domain::{FileRecord, Role, Subject, Tenant, UserId};
use coffer_ports::{FileCatalog, Members, NewFile, TenantRegistry, TenantScope};
use coffer_postgres::PgMetadataStore;

/// A tenant and its user `owner`.
pub async fn tenant(store: &PgMetadataStore, slug: &str) -> (Tenant, UserId) {
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

/// A pending file of `size` bytes named `name` in `/`, owned by `owner`.
pub fn new_file(tenant: &Tenant, owner: UserId, name: &str, size: u64) -> NewFile {
    contract_file(tenant, (owner, "owner"), "/", name, size, 1)
}

/// A pending one-byte file.
pub async fn file(
    store: &PgMetadataStore,
    tenant: &Tenant,
    owner: UserId,
    name: &str,
) -> FileRecord {
    store
        .reserve_upload(
            &TenantScope::new(tenant.id),
            new_file(tenant, owner, name, 1),
            &limits(),
            record(),
        )
        .await
        .unwrap()
}
