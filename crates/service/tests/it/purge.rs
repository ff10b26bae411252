//! The purge of a cancelled tenant past its retention, over mocks: its
//! objects, then its dedicated database, then its registry rows — and its
//! database is dropped only while the tenant is still cancelled.

use std::sync::{Arc, Mutex};

use coffer_domain::{Tenant, TenantStatus};
use coffer_ports::{MockTenantDatabases, ObjectList, Page};
use coffer_service::SweepReport;

use crate::support::*;

fn cancelled(database: Option<&str>) -> Tenant {
    Tenant {
        dedicated_database: database.map(str::to_owned),
        cancelled_at: Some(now() - time::Duration::days(91)),
        purge_after: Some(now() - time::Duration::days(1)),
        ..tenant(TenantStatus::Cancelled)
    }
}

/// What the mocks saw, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// A sweep that finds `listed` due for purge, with no uploads in progress
/// and no objects left; the registry answers `current` when asked afresh.
fn fixture(listed: &Tenant, current: Tenant, log: &Log) -> SweeperFx {
    let mut fx = SweeperFx::default();
    let page = listed.clone();
    fx.registry.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![page.clone()],
            next_cursor: None,
        })
    });
    fx.integrity
        .expect_list_file_objects()
        .returning(|_, _| Ok(vec![]));
    fx.store.expect_list().returning(|_, _, _| {
        Ok(ObjectList {
            objects: vec![],
            next: None,
        })
    });
    let l = log.clone();
    fx.registry.expect_get_tenant().returning(move |_| {
        l.lock().unwrap().push("get_tenant".into());
        Ok(current.clone())
    });
    let l = log.clone();
    fx.registry
        .expect_purge_tenant()
        .returning(move |_, record| {
            assert_eq!(record.action, "tenant.purged");
            l.lock().unwrap().push("purge_tenant".into());
            Ok(())
        });
    fx
}

fn databases(log: &Log) -> MockTenantDatabases {
    let mut databases = MockTenantDatabases::new();
    databases.expect_provision_database().never();
    let l = log.clone();
    databases.expect_drop_database().returning(move |t| {
        l.lock().unwrap().push(format!(
            "drop_database {}",
            t.dedicated_database.as_deref().unwrap_or("-")
        ));
        Ok(())
    });
    databases
}

fn purged(tenants_purged: u64, failed: u64) -> SweepReport {
    SweepReport {
        tenants: 1,
        tenants_purged,
        failed,
        ..SweepReport::default()
    }
}

#[tokio::test]
async fn a_dedicated_database_is_dropped_before_the_registry_rows() {
    let t = cancelled(Some("coffer_t_acme"));
    let log = Log::default();
    let mut fx = fixture(&t, t.clone(), &log);
    fx.databases = Some(databases(&log));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(report, purged(1, 0));
    assert_eq!(
        *log.lock().unwrap(),
        ["get_tenant", "drop_database coffer_t_acme", "purge_tenant"]
    );
}

#[tokio::test]
async fn a_tenant_reactivated_meanwhile_keeps_its_database_and_rows() {
    let t = cancelled(Some("coffer_t_acme"));
    let reactivated = Tenant {
        status: TenantStatus::Active,
        cancelled_at: None,
        purge_after: None,
        ..t.clone()
    };
    let log = Log::default();
    let mut fx = fixture(&t, reactivated, &log);
    fx.databases = Some(databases(&log));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(report, purged(0, 1));
    assert_eq!(*log.lock().unwrap(), ["get_tenant"]);
}

#[tokio::test]
async fn a_dedicated_tenant_is_not_purged_where_there_are_no_dedicated_databases() {
    let t = cancelled(Some("coffer_t_acme"));
    let log = Log::default();
    let report = fixture(&t, t.clone(), &log).build().sweep().await.unwrap();
    assert_eq!(report, purged(0, 1));
    assert_eq!(*log.lock().unwrap(), ["get_tenant"]);
}

#[tokio::test]
async fn a_tenant_in_the_shared_database_is_purged_by_the_registry_alone() {
    let t = cancelled(None);
    let log = Log::default();
    let mut fx = fixture(&t, t.clone(), &log);
    fx.databases = Some(databases(&log));
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(report, purged(1, 0));
    assert_eq!(*log.lock().unwrap(), ["purge_tenant"]);
}

#[tokio::test]
async fn retained_records_stop_the_purge_before_anything_is_deleted() {
    let t = cancelled(None);
    let log = Log::default();
    let mut fx = fixture(&t, t.clone(), &log);
    // Nothing may go: no object listed for deletion, no row purged.
    fx.store.checkpoint();
    fx.store.expect_list().never();
    fx.store.expect_delete().never();
    fx.registry.checkpoint();
    let page = t.clone();
    fx.registry.expect_list_tenants().returning(move |_, _| {
        Ok(Page {
            items: vec![page.clone()],
            next_cursor: None,
        })
    });
    fx.registry.expect_purge_tenant().never();
    let held = coffer_domain::FileId::new_v7();
    let mut records = coffer_ports::MockRecords::new();
    records
        .expect_binding_records()
        .withf(|_, at, _| *at == now())
        .returning(move |_, _, _| {
            Ok(vec![coffer_ports::BindingRecord {
                file_id: held,
                retention: None,
                legal_hold: true,
            }])
        });
    fx.records = Some(records);
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            tenants: 1,
            purges_held: 1,
            ..SweepReport::default()
        }
    );
    assert!(log.lock().unwrap().is_empty());
}
