//! Regional shared databases: a tenant placed in a region with a database
//! of its own keeps all its data there (its schema too, when it has one),
//! the registry keeps its row; the dispatcher asks every region; a region's
//! tenant is removed from it alone; the regions are migrated one by one.

use std::collections::{BTreeMap, HashMap};

use coffer_domain::{Region, Role, Subject, Tenant};
use coffer_ports::{MetadataErrorKind, MetadataPorts, NewTenant, TenantScope};
use coffer_postgres::testing::TestDb;
use coffer_postgres::{DatabaseRouter, DedicatedSchemas, MigrateOptions, RegionalDatabase};

use crate::router::announced;
use crate::support::{at, limits, new_file, new_tenant};

fn eu() -> Region {
    Region::new("eu-west").unwrap()
}

/// The registry in `db`, the shared database of eu-west in `regional`.
fn router(db: &TestDb, regional: &TestDb) -> DatabaseRouter {
    let regions = BTreeMap::from([(
        eu(),
        RegionalDatabase {
            store: regional.store(4).unwrap(),
            owner_url: regional.owner_url(),
        },
    )]);
    DatabaseRouter::new(db.store(4).unwrap(), None)
        .with_schemas(Some(DedicatedSchemas {
            owner_url: db.owner_url(),
        }))
        .with_regions(regions)
}

fn placed(slug: &str, region: bool, schema: bool) -> NewTenant {
    let mut new = new_tenant(slug, 0);
    new.metadata_region = region.then(eu);
    if schema {
        new.dedicated_schema = Some(format!("coffer_s_{}", new.id.as_uuid().simple()));
    }
    new
}

/// A user and a file of `tenant` (with its event), through its stores.
async fn fill(ports: &MetadataPorts, tenant: &Tenant) {
    let scope = TenantScope::new(tenant.id);
    let data = ports.tenant_data.tenant_data(tenant).await.unwrap();
    let owner = data
        .members
        .upsert_user(&scope, &Subject::new("owner").unwrap(), &[Role::Editor])
        .await
        .unwrap();
    data.files
        .reserve_upload(
            &scope,
            new_file(tenant, owner, "a.pdf", 5),
            &limits(),
            announced("file.create", 2),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_regional_tenants_data_is_in_its_regions_database_only() {
    let (db, regional) = (TestDb::new().await, TestDb::new().await);
    let ports = router(&db, &regional).ports();
    let here = ports
        .create_tenant(placed("in-eu", true, false), announced("tenant.create", 1))
        .await
        .unwrap();
    let apart = ports
        .create_tenant(
            placed("eu-schema", true, true),
            announced("tenant.create", 1),
        )
        .await
        .unwrap();
    let registry = ports
        .create_tenant(
            placed("in-registry", false, false),
            announced("tenant.create", 1),
        )
        .await
        .unwrap();
    for t in [&here, &apart, &registry] {
        fill(&ports, t).await;
    }
    let rows = |database: &str, table: String, t: &Tenant| {
        let (db, database, id) = (&db, database.to_owned(), *t.id.as_uuid());
        async move { db.count_rows(&database, &table, id).await }
    };
    for table in ["files", "users", "audit_events", "outbox"] {
        assert_eq!(
            rows(regional.name(), table.into(), &here).await,
            Ok(1),
            "{table}"
        );
        assert_eq!(
            rows(regional.name(), table.into(), &registry).await,
            Ok(0),
            "{table}"
        );
        // The registry's tenant has its creation journaled here as well.
        let in_registry = rows(db.name(), table.into(), &registry).await.unwrap();
        assert!(in_registry >= 1, "{table}");
    }
    for table in ["files", "users"] {
        assert_eq!(rows(db.name(), table.into(), &here).await, Ok(0), "{table}");
        assert_eq!(
            rows(db.name(), table.into(), &apart).await,
            Ok(0),
            "{table}"
        );
        assert_eq!(
            rows(regional.name(), table.into(), &apart).await,
            Ok(0),
            "{table}"
        );
    }
    // The regional tenant's schema is in its region's database.
    let schema = apart.dedicated_schema.clone().unwrap();
    assert_eq!(
        rows(regional.name(), format!("{schema}.files"), &apart).await,
        Ok(1)
    );
    assert!(
        rows(db.name(), format!("{schema}.files"), &apart)
            .await
            .is_err()
    );

    // The dispatcher's one question per database finds each tenant's event
    // wherever it is.
    let subscribed: HashMap<_, ()> = [here.id, apart.id, registry.id]
        .into_iter()
        .map(|id| (id, ()))
        .collect();
    let pending = ports
        .undelivered
        .pending_events(at(100), at(0), std::sync::Arc::new(subscribed))
        .await
        .unwrap();
    let mut found: Vec<_> = pending.iter().filter(|p| p.due).map(|p| p.tenant).collect();
    found.sort();
    let mut expected = vec![here.id, apart.id, registry.id];
    expected.sort();
    assert_eq!(found, expected);

    // Removing the regional tenant takes its rows from the region only.
    let databases = ports.databases.as_ref().unwrap();
    databases.drop_database(&here).await.unwrap();
    assert_eq!(rows(regional.name(), "files".into(), &here).await, Ok(0));
    assert_eq!(rows(regional.name(), "tenants".into(), &here).await, Ok(0));
    assert_eq!(
        rows(regional.name(), format!("{schema}.files"), &apart).await,
        Ok(1)
    );
    assert_eq!(rows(db.name(), "files".into(), &registry).await, Ok(1));
}

#[tokio::test]
async fn a_tenant_placed_in_an_unconfigured_region_is_unavailable() {
    let (db, regional) = (TestDb::new().await, TestDb::new().await);
    let ports = router(&db, &regional).ports();
    let mut lost = placed("lost", true, false);
    lost.metadata_region = Some(Region::new("ap-south").unwrap());
    let refused = ports
        .tenant_data
        .tenant_data(&lost.planned())
        .await
        .unwrap_err();
    assert!(refused.is(MetadataErrorKind::Unavailable), "{refused}");
    assert!(
        ports
            .create_tenant(lost, announced("tenant.create", 1))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn every_region_is_migrated_and_a_lost_migration_comes_back() {
    let (db, regional) = (TestDb::new().await, TestDb::new().await);
    let router = router(&db, &regional);
    let (down, version) = crate::schemas::newest_migration();
    regional
        .execute_in(
            regional.name(),
            &format!("{down}\nDELETE FROM __diesel_schema_migrations WHERE version = '{version}';"),
        )
        .await
        .unwrap();
    let outcomes = router.migrate_regions(&MigrateOptions::default()).await;
    let applied: Vec<_> = outcomes
        .iter()
        .map(|(r, o)| (r.as_str(), o.as_ref().map(Vec::len).ok()))
        .collect();
    assert_eq!(applied, [("eu-west", Some(1))]);
    let again = router.migrate_regions(&MigrateOptions::default()).await;
    assert_eq!(again[0].1.as_ref().map(Vec::len).ok(), Some(0));
}
