//! The database router: the shared data for tenants without a database of
//! their own, the dedicated database's (with the audit log and events read
//! from both, merged in order) for the others, and the dedicated databases
//! made and dropped.

use std::sync::Arc;

use coffer_domain::{Role, Subject, Tenant};
use coffer_ports::{
    AuditQuery, DeliveryOutcome, EventClaim, Journal, MetadataErrorKind, MetadataPorts, NewAudit,
    NewEvent, NewTenant, TenantPatch, TenantScope,
};
use coffer_postgres::testing::TestDb;
use coffer_postgres::{DatabaseRouter, DatabaseServer, DedicatedDatabases, PoolOptions};
use uuid::Uuid;

use crate::support::{at, limits, new_file, new_tenant, record};

fn dedicated(db: &TestDb) -> DedicatedDatabases {
    DedicatedDatabases {
        default: DatabaseServer {
            admin_url: db.owner_url_template(),
            app_url: db.app_url_template(),
        },
        regions: Default::default(),
        pool: PoolOptions::new(2),
        app_password: None,
    }
}

fn router(db: &TestDb, with_dedicated: bool) -> MetadataPorts {
    DatabaseRouter::new(db.store(4).unwrap(), with_dedicated.then(|| dedicated(db))).ports()
}

fn own_database(db: &TestDb, slug: &str) -> NewTenant {
    let mut new = new_tenant(slug, 0);
    new.dedicated_database = Some(format!(
        "{}{}",
        db.dedicated_prefix(),
        new.id.as_uuid().simple()
    ));
    new
}

/// An audit record (and event) of `action` at `at(secs)`.
pub(crate) fn announced(action: &str, secs: i64) -> Journal {
    Journal::announced(
        NewAudit {
            actor: Subject::new("router").unwrap(),
            action: action.to_owned(),
            file_id: None,
            detail: serde_json::json!({}),
            request_id: None,
            client_addr: None,
            at: at(secs),
        },
        NewEvent {
            id: Uuid::now_v7(),
            kind: action.to_owned(),
            data: serde_json::json!({}),
        },
    )
}

/// Provision, then create the registry row: the order the callers follow.
async fn create_dedicated(ports: &MetadataPorts, new: NewTenant) -> Tenant {
    let databases = ports.databases.as_ref().unwrap();
    databases.provision_database(&new.planned()).await.unwrap();
    ports
        .registry
        .create_tenant(new, announced("tenant.create", 1))
        .await
        .unwrap()
}

#[tokio::test]
async fn tenants_without_a_database_of_their_own_share_the_shared_data() {
    let db = TestDb::new().await;
    let ports = router(&db, false);
    assert!(ports.databases.is_none(), "none configured, none offered");
    let a = ports
        .registry
        .create_tenant(new_tenant("tenant-a", 0), record())
        .await
        .unwrap();
    let b = ports
        .registry
        .create_tenant(new_tenant("tenant-b", 0), record())
        .await
        .unwrap();
    let data_a = ports.tenant_data.tenant_data(&a).await.unwrap();
    let data_b = ports.tenant_data.tenant_data(&b).await.unwrap();
    assert!(Arc::ptr_eq(&data_a, &data_b), "one set of stores");
    data_a
        .members
        .upsert_user(
            &TenantScope::new(a.id),
            &Subject::new("alice").unwrap(),
            &[Role::Viewer],
        )
        .await
        .unwrap();
    assert_eq!(
        db.users_of(*a.id.as_uuid()).await.unwrap(),
        vec!["alice:viewer"]
    );
    assert_eq!(
        data_b
            .members
            .count_users(&TenantScope::new(b.id))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_dedicated_tenant_is_unavailable_without_dedicated_databases() {
    let db = TestDb::new().await;
    let ports = router(&db, false);
    let tenant = own_database(&db, "own").planned();
    let refused = ports.tenant_data.tenant_data(&tenant).await.unwrap_err();
    assert!(refused.is(MetadataErrorKind::Unavailable), "{refused}");
    // The router itself still refuses to make one.
    let router = DatabaseRouter::new(db.store(1).unwrap(), None);
    let made = coffer_ports::TenantDatabases::provision_database(&router, &tenant).await;
    assert!(made.is_err());
}

#[tokio::test]
async fn a_dedicated_tenants_data_is_in_its_database_and_its_records_read_merged() {
    let db = TestDb::new().await;
    let ports = router(&db, true);
    let new = own_database(&db, "own");
    let database = new.dedicated_database.clone().unwrap();
    let tenant = create_dedicated(&ports, new).await;
    let scope = TenantScope::new(tenant.id);
    // A registry change, recorded in the shared database.
    ports
        .registry
        .update_tenant(
            tenant.id,
            TenantPatch {
                display_name: Some("Own".into()),
                ..TenantPatch::default()
            },
            announced("tenant.update", 3),
        )
        .await
        .unwrap();

    let data = ports.tenant_data.tenant_data(&tenant).await.unwrap();
    let again = ports.tenant_data.tenant_data(&tenant).await.unwrap();
    assert!(Arc::ptr_eq(&data, &again), "opened once");
    let owner = data
        .members
        .upsert_user(&scope, &Subject::new("owner").unwrap(), &[Role::Editor])
        .await
        .unwrap();
    data.files
        .reserve_upload(
            &scope,
            new_file(&tenant, owner, "a.pdf", 5),
            &limits(),
            announced("file.create", 2),
        )
        .await
        .unwrap();
    data.audit
        .append_audit(
            &scope,
            NewAudit {
                actor: Subject::new("owner").unwrap(),
                action: "file.download_url".into(),
                file_id: None,
                detail: serde_json::json!({}),
                request_id: None,
                client_addr: None,
                at: at(4),
            },
        )
        .await
        .unwrap();

    // Its users, files and usage are in its own database only.
    assert_eq!(
        db.users_in(&database, *tenant.id.as_uuid()).await.unwrap(),
        vec!["owner:editor"]
    );
    assert!(db.users_of(*tenant.id.as_uuid()).await.unwrap().is_empty());
    assert_eq!(data.members.count_users(&scope).await.unwrap(), 1);
    assert_eq!(data.files.usage(&scope).await.unwrap().reserved_files, 1);
    let usage = ports.registry.tenant_usage(None, 10).await.unwrap();
    let listed = usage.items.iter().find(|u| u.tenant == tenant.id).unwrap();
    assert!(listed.dedicated);
    assert_eq!((listed.users, listed.usage.reserved_files), (0, 0));

    // The audit log: both databases, newest first, paged across both.
    let query = |limit, after| AuditQuery {
        actor: None,
        action: None,
        file_id: None,
        since: None,
        until: None,
        after,
        limit,
        oldest_first: false,
    };
    let first = data
        .audit
        .list_audit(&scope, &query(3, None))
        .await
        .unwrap();
    let actions: Vec<_> = first.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["file.download_url", "tenant.update", "file.create"]
    );
    let after = coffer_domain::PageCursor::decode(&first.next_cursor.unwrap()).unwrap();
    let rest = data
        .audit
        .list_audit(&scope, &query(3, Some(after)))
        .await
        .unwrap();
    let actions: Vec<_> = rest.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["tenant.create"]);
    assert_eq!(rest.next_cursor, None);

    // The events: listed oldest first from both, claimed from both, and
    // each delivery recorded where its event is.
    let events = data
        .events
        .list_events(&scope, None, at(100), 10)
        .await
        .unwrap();
    let kinds: Vec<_> = events.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["tenant.create", "file.create", "tenant.update"]);
    let claim = EventClaim {
        now: at(100),
        since: at(0),
        lease: time::Duration::minutes(1),
        limit: 10,
    };
    let claimed = data.events.claim_events(&scope, &claim).await.unwrap();
    assert_eq!(claimed.len(), 3);
    for event in &claimed {
        data.events
            .record_delivery(&scope, event.id, DeliveryOutcome::Delivered { at: at(101) })
            .await
            .unwrap();
    }
    let later = EventClaim {
        now: at(1000),
        ..claim
    };
    assert!(
        data.events
            .claim_events(&scope, &later)
            .await
            .unwrap()
            .is_empty()
    );
    let unknown = data
        .events
        .record_delivery(
            &scope,
            Uuid::now_v7(),
            DeliveryOutcome::Delivered { at: at(101) },
        )
        .await
        .unwrap_err();
    assert!(unknown.is(MetadataErrorKind::NotFound), "{unknown}");
}

#[tokio::test]
async fn dedicated_databases_are_migrated_and_dropped() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let router = DatabaseRouter::new(store.clone(), Some(dedicated(&db)));
    let ports = DatabaseRouter::new(store, Some(dedicated(&db))).ports();
    let tenant = create_dedicated(&ports, own_database(&db, "own")).await;
    ports
        .tenant_data
        .tenant_data(&tenant)
        .await
        .unwrap()
        .members
        .count_users(&TenantScope::new(tenant.id))
        .await
        .unwrap();

    let migrated = router.migrate_dedicated().await.unwrap();
    assert_eq!(migrated.len(), 1);
    assert_eq!(migrated[0].0.id, tenant.id);
    assert!(
        migrated[0].1.as_ref().unwrap().is_empty(),
        "already current"
    );

    // Dropped with its open pool: nothing of it remains.
    let prefix = db.dedicated_prefix();
    assert_eq!(db.databases_like(&prefix).await.unwrap().len(), 1);
    ports
        .databases
        .as_ref()
        .unwrap()
        .drop_database(&tenant)
        .await
        .unwrap();
    assert!(db.databases_like(&prefix).await.unwrap().is_empty());
}
