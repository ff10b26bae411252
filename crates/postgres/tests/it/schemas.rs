//! Schema per tenant: a tenant's tables in a schema of its own in the shared
//! database, reached through the router with the search path set in every
//! transaction; made, migrated and dropped through the owner role.

use coffer_domain::{Role, Subject, Tenant};
use coffer_ports::{MetadataPorts, NewAudit, NewTenant, TenantScope};
use coffer_postgres::testing::TestDb;
use coffer_postgres::{DatabaseRouter, DedicatedSchemas};

use crate::support::{at, limits, new_file, new_tenant, record};

fn router(db: &TestDb) -> DatabaseRouter {
    DatabaseRouter::new(db.store(4).unwrap(), None).with_schemas(Some(DedicatedSchemas {
        owner_url: db.owner_url(),
    }))
}

fn own_schema(slug: &str) -> NewTenant {
    let mut new = new_tenant(slug, 0);
    new.dedicated_schema = Some(format!("coffer_s_{}", new.id.as_uuid().simple()));
    new
}

/// A user, a file and an access record of `tenant`, through its stores.
async fn fill(ports: &MetadataPorts, tenant: &Tenant, file: &str) {
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
            new_file(tenant, owner, file, 5),
            &limits(),
            record(),
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
}

#[tokio::test]
async fn a_schema_tenants_rows_are_in_its_schema_only_and_hidden_from_other_tenants() {
    let db = TestDb::new().await;
    let ports = router(&db).ports();
    let new = own_schema("professional");
    let schema = new.dedicated_schema.clone().unwrap();
    let apart = ports.create_tenant(new, record()).await.unwrap();
    let shared = ports
        .create_tenant(new_tenant("starter", 0), record())
        .await
        .unwrap();
    // Alternating on one small pool: a schema's search path must not stay
    // on a connection the shared tenant gets next.
    for round in 0..3 {
        fill(&ports, &apart, &format!("apart-{round}.pdf")).await;
        fill(&ports, &shared, &format!("shared-{round}.pdf")).await;
    }
    let (a, s) = (*apart.id.as_uuid(), *shared.id.as_uuid());
    for table in [
        "files",
        "users",
        "audit_events",
        "usage_counters",
        "tenants",
    ] {
        let in_schema = db
            .count_rows(db.name(), &format!("{schema}.{table}"), a)
            .await
            .unwrap();
        let in_public = db
            .count_rows(db.name(), &format!("public.{table}"), a)
            .await
            .unwrap();
        // The registry keeps its row, the record of its creation (a
        // registry change, journaled with it) and a counters row it never
        // adds to (zero below, as for a dedicated database); everything its
        // users made is in the schema.
        let expected_public = i64::from(matches!(
            table,
            "tenants" | "audit_events" | "usage_counters"
        ));
        assert!(
            in_schema > 0,
            "{table}: the tenant's rows are in its schema"
        );
        assert_eq!(
            in_public, expected_public,
            "{table}: none in the shared tables"
        );
        let neighbour = db
            .count_rows(db.name(), &format!("{schema}.{table}"), s)
            .await
            .unwrap();
        assert_eq!(
            neighbour, 0,
            "{table}: nothing of the shared tenant in the schema"
        );
    }
    assert_eq!(
        db.count_rows(db.name(), "public.files", s).await.unwrap(),
        3,
        "the shared tenant's files stay in the shared tables"
    );
    // A raw query naming the schema, from another tenant's scope, sees
    // nothing (row-level security is on inside the schema); from its own
    // scope the same query sees its files, so the query itself works.
    let files = format!("{schema}.files");
    assert_eq!(db.count_in_scope(&files, s).await.unwrap(), 0);
    assert_eq!(db.count_in_scope(&files, a).await.unwrap(), 3);
    // Its stores answer from the schema.
    let data = ports.tenant_data.tenant_data(&apart).await.unwrap();
    let scope = TenantScope::new(apart.id);
    assert_eq!(data.files.usage(&scope).await.unwrap().reserved_files, 3);
    assert_eq!(data.members.count_users(&scope).await.unwrap(), 1);
    let usage = ports.registry.tenant_usage(None, 10).await.unwrap();
    let listed = usage.items.iter().find(|u| u.tenant == apart.id).unwrap();
    assert!(listed.dedicated, "its counters are in its schema");
    assert_eq!((listed.users, listed.usage.reserved_files), (0, 0));
}

#[tokio::test]
async fn a_schema_tenant_is_unavailable_without_schemas_configured() {
    let db = TestDb::new().await;
    let ports = DatabaseRouter::new(db.store(1).unwrap(), None).ports();
    let tenant = own_schema("apart").planned();
    let refused = ports.tenant_data.tenant_data(&tenant).await.unwrap_err();
    assert!(
        refused.is(coffer_ports::MetadataErrorKind::Unavailable),
        "{refused}"
    );
    let router = DatabaseRouter::new(db.store(1).unwrap(), None);
    let made = coffer_ports::TenantDatabases::provision_database(&router, &tenant).await;
    assert!(made.is_err(), "nothing made for a schema nobody configured");
}

/// The newest migration's directory under `migrations/postgres`.
pub(crate) fn newest_migration() -> (String, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let newest = names.pop().unwrap();
    let down = std::fs::read_to_string(root.join(&newest).join("down.sql")).unwrap();
    let version: String = newest
        .split('_')
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (down, version)
}

#[tokio::test]
async fn coffer_migrate_brings_a_schema_up_to_date_and_reports_a_broken_one() {
    let db = TestDb::new().await;
    let ports_router = router(&db).ports();
    let router = router(&db);
    let behind = ports_router
        .create_tenant(own_schema("behind"), record())
        .await
        .unwrap();
    let broken = ports_router
        .create_tenant(own_schema("broken"), record())
        .await
        .unwrap();
    let behind_schema = behind.dedicated_schema.clone().unwrap();
    // Behind lost its newest migration (as if made by an older Coffer);
    // broken's schema is gone.
    let (down, version) = newest_migration();
    db.execute_in(
        db.name(),
        &format!(
            "SET search_path TO {behind_schema}, public;\n{down}\n\
             DELETE FROM __diesel_schema_migrations WHERE version = '{version}';"
        ),
    )
    .await
    .unwrap();
    db.execute_in(
        db.name(),
        &format!(
            "DROP SCHEMA {} CASCADE",
            broken.dedicated_schema.clone().unwrap()
        ),
    )
    .await
    .unwrap();

    let outcomes = router.migrate_dedicated().await.unwrap();
    let by_slug = |slug: &str| {
        outcomes
            .iter()
            .find(|(t, _)| t.slug.as_str() == slug)
            .map(|(_, o)| o.as_ref().map(Vec::len).map_err(ToString::to_string))
            .unwrap()
    };
    assert_eq!(
        by_slug("behind"),
        Ok(1),
        "its one missing migration applied"
    );
    let failed = by_slug("broken").unwrap_err();
    assert!(failed.contains("schema"), "{failed}");
    assert_eq!(outcomes.len(), 2);
    // Migrated again: nothing left to do for the one that is there.
    let again = router.migrate_dedicated().await.unwrap();
    let behind_again = again.iter().find(|(t, _)| t.id == behind.id).unwrap();
    assert_eq!(behind_again.1.as_ref().map(Vec::len).ok(), Some(0));
    // And it works: its stores answer.
    fill(&ports_router, &behind, "after.pdf").await;
}

#[tokio::test]
async fn dropping_a_schema_removes_that_tenants_tables_only() {
    let db = TestDb::new().await;
    let ports = router(&db).ports();
    let gone = ports
        .create_tenant(own_schema("gone"), record())
        .await
        .unwrap();
    let kept = ports
        .create_tenant(own_schema("kept"), record())
        .await
        .unwrap();
    fill(&ports, &gone, "a.pdf").await;
    fill(&ports, &kept, "b.pdf").await;
    let databases = ports.databases.as_ref().unwrap();
    databases.drop_database(&gone).await.unwrap();
    // Dropping again finds nothing to do.
    databases.drop_database(&gone).await.unwrap();
    let gone_schema = gone.dedicated_schema.clone().unwrap();
    assert!(
        db.count_rows(
            db.name(),
            &format!("{gone_schema}.files"),
            *gone.id.as_uuid()
        )
        .await
        .is_err(),
        "its schema is gone"
    );
    let kept_schema = kept.dedicated_schema.clone().unwrap();
    assert_eq!(
        db.count_rows(
            db.name(),
            &format!("{kept_schema}.files"),
            *kept.id.as_uuid()
        )
        .await
        .unwrap(),
        1
    );
    let data = ports.tenant_data.tenant_data(&kept).await.unwrap();
    assert_eq!(
        data.files
            .usage(&TenantScope::new(kept.id))
            .await
            .unwrap()
            .reserved_files,
        1
    );
}
