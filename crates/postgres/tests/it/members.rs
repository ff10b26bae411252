//! Provisioning a user again (each time an instance's cache entry for it
//! expires) reads first and writes only when something changed: the same
//! roles seen within the hour commit nothing.

use coffer_domain::{Role, Subject};
use coffer_ports::{Members as _, TenantScope};
use coffer_postgres::testing::TestDb;

use crate::support::tenant;

#[tokio::test]
async fn provisioning_writes_only_new_roles_or_a_stale_last_seen() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (acme, owner) = tenant(&store, "acme").await;
    let scope = TenantScope::new(acme.id);
    let subject = Subject::new("owner").unwrap();
    let id = acme.id.as_uuid();
    let sql = |body: &str| {
        format!(
            "SET coffer.platform = 'on'; SET coffer.tenant_id = '{id}'; \
             DO $$ BEGIN {body} END $$"
        )
    };
    let owner_row = "tenant_id = current_setting('coffer.tenant_id')::uuid AND subject = 'owner'";
    let set_seen = |ago: &str| {
        sql(&format!(
            "UPDATE users SET last_seen_at = now() - interval '{ago}' WHERE {owner_row};"
        ))
    };
    let check = |what: &str, condition: &str| {
        sql(&format!(
            "IF NOT (SELECT {condition} FROM users WHERE {owner_row}) \
             THEN RAISE EXCEPTION '{what}'; END IF;"
        ))
    };

    let db = &db;
    let run = move |statements: String| async move {
        db.execute_in(db.name(), &statements).await.unwrap();
    };
    let provision = |roles: &'static [Role]| store.upsert_user(&scope, &subject, roles);

    // Seen ten minutes ago with the same roles: nothing is written.
    run(set_seen("10 minutes")).await;
    assert_eq!(provision(&[Role::Editor]).await.unwrap(), owner);
    run(check(
        "rewritten",
        "last_seen_at < now() - interval '9 minutes'",
    ))
    .await;

    // New roles are written at once.
    provision(&[Role::Viewer]).await.unwrap();
    let fresh = "last_seen_at > now() - interval '1 minute'";
    run(check(
        "roles kept",
        &format!("roles = '{{viewer}}' AND {fresh}"),
    ))
    .await;

    // Seen two hours ago: the same roles refresh the time.
    run(set_seen("2 hours")).await;
    provision(&[Role::Viewer]).await.unwrap();
    run(check("not refreshed", fresh)).await;
}
