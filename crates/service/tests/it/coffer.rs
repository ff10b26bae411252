//! The composition root: the groups it builds share one tenant cache, and
//! a store added after `Coffer::new` reaches them.

use std::sync::{Arc, Mutex};

use coffer_domain::{Role, Subject, TenantStatus, UserId};
use coffer_ports::{
    MetadataPorts, MockBillingLedger, MockIdentityProvider, MockJobLocks, MockMembers,
    MockMetadataReadiness, MockObjectStore, MockOnboardingQueue, MockScanQueue, MockTenantRegistry,
    MockTenantSettings, TenantClaim, TenantData, TenantRegistry, VerifiedIdentity,
};
use coffer_service::{Coffer, RequestMeta, TenantUpdate};

use crate::support::*;

fn ports(registry: MockTenantRegistry, members: MockMembers) -> MetadataPorts {
    let data = TenantData {
        members: Arc::new(members),
        ..no_data()
    };
    MetadataPorts {
        registry: Arc::new(registry) as Arc<dyn TenantRegistry>,
        settings: unset(MockTenantSettings::new()),
        onboarding: Arc::new(MockOnboardingQueue::new()),
        scans: Arc::new(MockScanQueue::new()),
        sessions: Arc::new(coffer_ports::MockUploadSessions::new()),
        links: Arc::new(coffer_ports::MockShareLinks::new()),
        upload_requests: Arc::new(coffer_ports::MockUploadRequests::new()),
        billing: Arc::new(MockBillingLedger::new()),
        undelivered: Arc::new(coffer_ports::MockUndeliveredEvents::new()),
        jobs: Arc::new(MockJobLocks::new()),
        tenant_data: resolver(data, None, None),
        databases: None,
        moves: None,
        readiness: Arc::new(readiness_ok()),
    }
}

fn readiness_ok() -> MockMetadataReadiness {
    let mut readiness = MockMetadataReadiness::new();
    readiness.expect_check_ready().returning(|| Ok(()));
    readiness
}

fn coffer(ports: MetadataPorts, identity: MockIdentityProvider, store: MockObjectStore) -> Coffer {
    Coffer::new(
        ports,
        Arc::new(store),
        Arc::new(identity),
        clock(),
        Config::default().0,
    )
}

#[tokio::test]
async fn a_tenant_changed_through_one_group_is_read_afresh_by_another() {
    let t = tenant(TenantStatus::Active);
    let id = t.id;
    let mut identity = MockIdentityProvider::new();
    identity.expect_verify().returning(move |_, _| {
        Ok(VerifiedIdentity {
            subject: Subject::new("alice").unwrap(),
            tenant: Some(TenantClaim::Id(id)),
            roles: vec![Role::Viewer],
            client_id: None,
            expires_at: now() + time::Duration::hours(1),
        })
    });
    let row = Arc::new(Mutex::new(t.clone()));
    let mut registry = MockTenantRegistry::new();
    // Authentication reads it once (then cached), the update once (afresh),
    // and authentication once more: the update dropped the cached row.
    let current = row.clone();
    registry
        .expect_get_tenant()
        .times(3)
        .returning(move |_| Ok(current.lock().unwrap().clone()));
    let changed = row.clone();
    registry
        .expect_update_tenant()
        .times(1)
        .returning(move |_, patch, _| {
            let mut t = changed.lock().unwrap();
            t.status = patch.status.unwrap_or(t.status);
            Ok(t.clone())
        });
    let mut members = MockMembers::new();
    members
        .expect_upsert_user()
        .returning(|_, _, _| Ok(UserId::new_random()));
    let app = coffer(ports(registry, members), identity, MockObjectStore::new());
    let authenticate = || {
        app.authentication()
            .authenticate("token", None, RequestMeta::default())
    };
    for _ in 0..2 {
        let caller = authenticate().await.unwrap();
        assert_eq!(caller.tenant.map(|t| t.status), Some(TenantStatus::Active));
    }
    let suspend = TenantUpdate {
        status: Some(TenantStatus::Suspended),
        ..TenantUpdate::default()
    };
    app.tenants()
        .update_tenant(&platform_admin(), id, suspend)
        .await
        .unwrap();
    let caller = authenticate().await.unwrap();
    assert_eq!(
        caller.tenant.map(|t| t.status),
        Some(TenantStatus::Suspended)
    );
}

#[tokio::test]
async fn a_region_store_added_later_reaches_the_groups() {
    let mut store = MockObjectStore::new();
    store.expect_check_ready().times(1).returning(|| Ok(()));
    let mut eu = MockObjectStore::new();
    eu.expect_check_ready().times(1).returning(|| Ok(()));
    let app = coffer(
        ports(MockTenantRegistry::new(), MockMembers::new()),
        MockIdentityProvider::new(),
        store,
    )
    .with_region_store(coffer_domain::Region::new("eu-west").unwrap(), Arc::new(eu));
    app.operations().check_ready().await.unwrap();
}
