//! Platform metrics over mocks: usage comes from the registry, except for a
//! tenant with a database of its own, whose files and users are counted in
//! its own data.

use std::sync::Arc;

use coffer_domain::{Plan, Role, Tenant, TenantStatus, Usage};
use coffer_ports::{
    MockFileCatalog, MockMembers, MockTenantDataResolver, MockTenantRegistry, Page, TenantData,
    TenantUsage,
};
use coffer_service::{ErrorKind, Platform};

use crate::support::*;

fn usage_of(t: &Tenant, usage: Usage, users: u64, dedicated: bool) -> TenantUsage {
    TenantUsage {
        tenant: t.id,
        slug: t.slug.clone(),
        plan: t.plan,
        status: t.status,
        usage,
        users,
        dedicated,
        created_at: t.created_at,
    }
}

fn bytes(used_bytes: u64, file_count: u64) -> Usage {
    Usage {
        used_bytes,
        file_count,
        ..Usage::default()
    }
}

/// The data of a tenant with its own database: 3 files, 500 bytes, 4 users.
fn own_data() -> Arc<TenantData> {
    let mut files = MockFileCatalog::new();
    files
        .expect_usage()
        .times(1)
        .returning(|_| Ok(bytes(500, 3)));
    let mut members = MockMembers::new();
    members.expect_count_users().times(1).returning(|_| Ok(4));
    Arc::new(TenantData {
        files: Arc::new(files),
        members: Arc::new(members),
        ..no_data()
    })
}

#[tokio::test]
async fn a_dedicated_tenants_usage_and_users_come_from_its_own_data() {
    let shared = tenant(TenantStatus::Active);
    let own = Tenant {
        plan: Plan::Enterprise,
        dedicated_database: Some("coffer_t_own".into()),
        ..tenant(TenantStatus::Active)
    };
    let onboarding = Tenant {
        dedicated_database: Some("coffer_t_new".into()),
        ..tenant(TenantStatus::Provisioning)
    };
    let mut registry = MockTenantRegistry::new();
    let page = vec![
        usage_of(&shared, bytes(100, 2), 7, false),
        usage_of(&own, Usage::default(), 0, true),
        usage_of(&onboarding, Usage::default(), 0, true),
    ];
    registry
        .expect_tenant_usage()
        .times(1)
        .returning(move |_, _| {
            Ok(Page {
                items: page.clone(),
                next_cursor: None,
            })
        });
    let row = own.clone();
    registry
        .expect_get_tenant()
        .times(1)
        .withf(move |id| *id == row.id)
        .returning(move |_| Ok(row.clone()));
    // Only the placed dedicated tenant's data is asked, once.
    let mut resolver = MockTenantDataResolver::new();
    let own_id = own.id;
    let data = own_data();
    resolver
        .expect_tenant_data()
        .times(1)
        .withf(move |t| t.id == own_id)
        .returning(move |_| Ok(data.clone()));
    let metrics = Platform::new(Arc::new(registry), Arc::new(resolver))
        .platform_metrics(&platform_admin())
        .await
        .unwrap();
    assert_eq!(metrics.tenants, 3);
    assert_eq!((metrics.files, metrics.bytes, metrics.users), (5, 600, 11));
    let counted = |t: &Tenant| {
        metrics
            .usage
            .iter()
            .find(|u| u.tenant == t.id)
            .map(|u| (u.usage, u.users))
    };
    assert_eq!(counted(&shared), Some((bytes(100, 2), 7)));
    assert_eq!(counted(&own), Some((bytes(500, 3), 4)));
    assert_eq!(counted(&onboarding), Some((Usage::default(), 0)));
    assert_eq!(metrics.by_plan.get("enterprise"), Some(&1));
}

#[tokio::test]
async fn metrics_are_for_platform_admins() {
    let t = tenant(TenantStatus::Active);
    let mut registry = MockTenantRegistry::new();
    registry.expect_tenant_usage().never();
    let result = Platform::new(Arc::new(registry), resolver(no_data(), None, None))
        .platform_metrics(&caller(&t, "boss", &[Role::Admin]))
        .await;
    assert_err(result, ErrorKind::Forbidden, "platform_admin_required");
}
