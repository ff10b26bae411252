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

    // Seen ten minutes ago with the same roles: nothing is written.
    db.execute_in(db.name(), &set_seen("10 minutes"))
        .await
        .unwrap();
    let again = store
        .upsert_user(&scope, &subject, &[Role::Editor])
        .await
        .unwrap();
    assert_eq!(again, owner);
    db.execute_in(
        db.name(),
        &check("rewritten", "last_seen_at < now() - interval '9 minutes'"),
    )
    .await
    .unwrap();

    // New roles are written at once.
    store
        .upsert_user(&scope, &subject, &[Role::Viewer])
        .await
        .unwrap();
    db.execute_in(
        db.name(),
        &check(
            "roles kept",
            "roles = '{viewer}' AND last_seen_at > now() - interval '1 minute'",
        ),
    )
    .await
    .unwrap();

    // Seen two hours ago: the same roles refresh the time.
    db.execute_in(db.name(), &set_seen("2 hours"))
        .await
        .unwrap();
    store
        .upsert_user(&scope, &subject, &[Role::Viewer])
        .await
        .unwrap();
    db.execute_in(
        db.name(),
        &check(
            "not refreshed",
            "last_seen_at > now() - interval '1 minute'",
        ),
    )
    .await
    .unwrap();
}
