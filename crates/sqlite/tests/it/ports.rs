//! The store as a deployment's metadata ports: every port from one file,
//! and what the registry reports of each tenant's users and placement.

use std::sync::Arc;

use coffer_contract::metadata::{new_tenant, record};
use coffer_domain::{Role, Subject};
use coffer_ports::{MetadataPorts, TenantRegistry, TenantScope};

use crate::support::fresh;

#[tokio::test]
async fn one_store_is_every_port_of_a_deployment() {
    let (store, _dir) = fresh().await;
    let ports = MetadataPorts::in_one(Arc::new(store));
    assert!(
        ports.databases.is_none(),
        "SQLite has no dedicated databases"
    );
    ports.readiness.check_ready().await.unwrap();
    let busy = ports
        .registry
        .create_tenant(new_tenant("busy", 0), record())
        .await
        .unwrap();
    let quiet = ports
        .registry
        .create_tenant(new_tenant("quiet", 1), record())
        .await
        .unwrap();
    let data = ports.tenant_data.tenant_data(&busy).await.unwrap();
    let (busy_scope, quiet_scope) = (TenantScope::new(busy.id), TenantScope::new(quiet.id));
    for subject in ["ann", "bob", "ann"] {
        data.members
            .upsert_user(
                &busy_scope,
                &Subject::new(subject).unwrap(),
                &[Role::Viewer],
            )
            .await
            .unwrap();
    }
    assert_eq!(data.members.count_users(&busy_scope).await.unwrap(), 2);
    assert_eq!(data.members.count_users(&quiet_scope).await.unwrap(), 0);
    let usage = ports.registry.tenant_usage(None, 10).await.unwrap().items;
    let users: Vec<_> = usage
        .iter()
        .map(|u| (u.slug.as_str(), u.users, u.dedicated))
        .collect();
    assert_eq!(users, [("busy", 2, false), ("quiet", 0, false)]);
}

#[tokio::test]
async fn a_tenant_row_naming_a_database_is_reported_dedicated() {
    let (store, _dir) = fresh().await;
    let mut apart = new_tenant("apart", 0);
    apart.dedicated_database = Some("coffer_t_apart".to_owned());
    store.create_tenant(apart, record()).await.unwrap();
    store
        .create_tenant(new_tenant("shared", 1), record())
        .await
        .unwrap();
    let usage = store.tenant_usage(None, 10).await.unwrap().items;
    let dedicated: Vec<_> = usage
        .iter()
        .map(|u| (u.slug.as_str(), u.dedicated))
        .collect();
    assert_eq!(dedicated, [("apart", true), ("shared", false)]);
}
