//! [`coffer_ports::TenantRegistry`]: tenants created, read, changed, listed,
//! their usage read across tenants, and a cancelled one purged.

use coffer_domain::{
    LimitOverrides, PageCursor, Plan, Role, Tenant, TenantId, TenantSlug, TenantStatus, Usage,
};
use coffer_ports::{MetadataErrorKind, MetadataPorts, PlatformRecord, TenantPatch};
use serde_json::json;

use super::fixtures::{
    assert_kind, at, audited, available, data, events, file, new_tenant, record, scope, subject,
    tenant, user,
};

/// The cases of [`coffer_ports::TenantRegistry`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! tenant_registry_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; registry;
            tenants_create_read_update,
            tenants_conflict_and_not_found,
            tenants_list_oldest_first_in_pages,
            purge_removes_only_a_cancelled_tenant,
        );
    };
}

pub async fn tenants_create_read_update(ports: MetadataPorts) {
    let registry = &ports.registry;
    let mut new = new_tenant("acme", 5);
    new.dedicated_bucket = Some("acme-bucket".into());
    new.limit_overrides.max_files = Some(10);
    let created = ports.create_tenant(new.clone(), record()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.slug, new.slug);
    assert_eq!(created.display_name, "Tenant acme");
    assert_eq!(created.plan, Plan::Professional);
    assert_eq!(created.status, TenantStatus::Active);
    assert_eq!(created.region.as_str(), "eu-west");
    assert_eq!(created.dedicated_bucket.as_deref(), Some("acme-bucket"));
    assert_eq!(created.limit_overrides.max_files, Some(10));
    assert_eq!(created.created_at, at(5));
    assert_eq!(created.suspended_at, None);

    assert_eq!(registry.get_tenant(new.id).await.unwrap(), created);
    assert_eq!(
        registry.find_tenant_by_slug(&new.slug).await.unwrap(),
        created
    );

    let patch = TenantPatch {
        display_name: Some("Acme Corp".into()),
        plan: Some(Plan::Enterprise),
        status: Some(TenantStatus::Suspended),
        suspended_at: Some(Some(at(50))),
        dedicated_bucket: Some(None),
        limit_overrides: Some(LimitOverrides {
            max_total_bytes: Some(99),
            ..LimitOverrides::default()
        }),
        ..TenantPatch::default()
    };
    let updated = registry
        .update_tenant(new.id, patch, record())
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Acme Corp");
    assert_eq!(updated.plan, Plan::Enterprise);
    assert_eq!(updated.status, TenantStatus::Suspended);
    assert_eq!(updated.suspended_at, Some(at(50)));
    assert_eq!(updated.dedicated_bucket, None, "Some(None) clears");
    assert_eq!(updated.limit_overrides.max_total_bytes, Some(99));
    assert_eq!(updated.limit_overrides.max_files, None);
    assert_eq!(updated.slug, created.slug, "slugs are immutable");
    assert_eq!(registry.get_tenant(new.id).await.unwrap(), updated);

    // An empty patch changes nothing.
    let same = registry
        .update_tenant(new.id, TenantPatch::default(), record())
        .await
        .unwrap();
    assert_eq!(same, updated);
}

pub async fn tenants_conflict_and_not_found(ports: MetadataPorts) {
    let registry = &ports.registry;
    tenant(&ports, "acme").await;
    assert_kind(
        ports.create_tenant(new_tenant("acme", 1), record()).await,
        MetadataErrorKind::Conflict,
        "duplicate slug",
    );
    let other = tenant(&ports, "other").await;
    let mut same_id = new_tenant("third", 1);
    same_id.id = other.id;
    assert_kind(
        ports.create_tenant(same_id, record()).await,
        MetadataErrorKind::Conflict,
        "duplicate id",
    );
    let unknown = TenantId::new_random();
    assert_kind(
        registry.get_tenant(unknown).await,
        MetadataErrorKind::NotFound,
        "get unknown",
    );
    assert_kind(
        registry
            .find_tenant_by_slug(&TenantSlug::new("nobody").unwrap())
            .await,
        MetadataErrorKind::NotFound,
        "find unknown slug",
    );
    assert_kind(
        registry
            .update_tenant(unknown, TenantPatch::default(), record())
            .await,
        MetadataErrorKind::NotFound,
        "update unknown",
    );
}

pub async fn tenants_list_oldest_first_in_pages(ports: MetadataPorts) {
    let mut ids = Vec::new();
    for (i, slug) in ["t-one", "t-two", "t-three", "t-four", "t-five"]
        .iter()
        .enumerate()
    {
        let t = ports
            .create_tenant(new_tenant(slug, i as i64 * 10), record())
            .await
            .unwrap();
        ids.push(t.id);
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = ports.registry.list_tenants(after, 2).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(c) => after = Some(PageCursor::decode(&c).unwrap()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ids, "oldest first, every tenant once");
    assert_eq!(pages, 3);
}

/// Every tenant's `(slug, files, users)` as the platform metrics read them:
/// the registry's page, and for a tenant with a dedicated database the
/// counts of its own database (where the registry has zeros).
async fn platform_usage(ports: &MetadataPorts) -> Vec<(String, u64, u64)> {
    let page = ports.registry.tenant_usage(None, 10).await.unwrap();
    let mut summary = Vec::new();
    for item in page.items {
        let t = ports.registry.get_tenant(item.tenant).await.unwrap();
        assert_eq!(item.dedicated, t.keeps_data_apart(), "{item:?}");
        let counts = if item.dedicated {
            assert_eq!(
                (item.usage, item.users),
                (Usage::default(), 0),
                "a dedicated tenant's counts are in its own database: {item:?}"
            );
            let own = data(ports, &t).await;
            (
                own.files.usage(&scope(&t)).await.unwrap().file_count,
                own.members.count_users(&scope(&t)).await.unwrap(),
            )
        } else {
            (item.usage.file_count, item.users)
        };
        summary.push((item.slug.to_string(), counts.0, counts.1));
    }
    summary
}

pub async fn purge_removes_only_a_cancelled_tenant(ports: MetadataPorts) {
    let registry = &ports.registry;
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    for (tn, name) in [(&t, "alice"), (&other, "bob")] {
        let o = user(&ports, tn, name, &[Role::Editor]).await;
        available(&ports, tn, file(tn, (o, name), "/", "f", 7, 1)).await;
    }
    let purged = || PlatformRecord {
        actor: subject("system:coffer"),
        action: "tenant.purged".into(),
        detail: json!({}),
        at: at(100),
    };
    assert_kind(
        registry.purge_tenant(t.id, purged()).await,
        MetadataErrorKind::InvalidState,
        "an active tenant",
    );
    assert_kind(
        registry
            .purge_tenant(TenantId::new_random(), purged())
            .await,
        MetadataErrorKind::NotFound,
        "an unknown tenant",
    );
    let mut summary = platform_usage(&ports).await;
    summary.sort();
    assert_eq!(
        summary,
        vec![("acme".into(), 1, 1), ("other".into(), 1, 1)],
        "the platform path reads every tenant's usage"
    );

    let cancel = TenantPatch {
        status: Some(TenantStatus::Cancelled),
        ..TenantPatch::default()
    };
    let cancelled = registry
        .update_tenant(t.id, cancel, record())
        .await
        .unwrap();
    // As the service purges: a dedicated database first (were the registry
    // row gone first, nothing would name it), then the registry's rows.
    if let Some(databases) = &ports.databases {
        databases.drop_database(&cancelled).await.unwrap();
    }
    registry.purge_tenant(t.id, purged()).await.unwrap();
    assert_kind(
        registry.get_tenant(t.id).await,
        MetadataErrorKind::NotFound,
        "purged",
    );
    // Nothing of it is left in the shared database (a dedicated one went
    // whole): its usage, its events, the journal of its registry changes.
    let shared = Tenant {
        dedicated_database: None,
        dedicated_schema: None,
        metadata_region: None,
        ..t.clone()
    };
    assert_eq!(
        data(&ports, &shared)
            .await
            .files
            .usage(&scope(&t))
            .await
            .unwrap(),
        Usage::default()
    );
    assert!(events(&ports, &shared).await.is_empty());
    assert_eq!(
        audited(&ports, &shared, "contract.change").await,
        0,
        "its audit log went with it"
    );
    // Nothing of the other tenant.
    assert_eq!(
        data(&ports, &other)
            .await
            .files
            .usage(&scope(&other))
            .await
            .unwrap()
            .file_count,
        1
    );
    assert!(audited(&ports, &other, "contract.change").await > 0);
    let left = registry.tenant_usage(None, 10).await.unwrap();
    assert_eq!(left.items.len(), 1);
}
