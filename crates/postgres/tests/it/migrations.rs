//! Migrations: idempotent, and the service role owns nothing.

use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

#[derive(QueryableByName)]
struct Flags {
    #[diesel(sql_type = Bool)]
    rolsuper: bool,
    #[diesel(sql_type = Bool)]
    rolbypassrls: bool,
    #[diesel(sql_type = Bool)]
    rolcanlogin: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn migrate_is_idempotent_and_app_role_is_not_privileged() {
    let db = TestDb::new().await;
    let applied = coffer_postgres::migrate(&db.owner_url()).await.unwrap();
    assert!(applied.is_empty(), "already migrated: {applied:?}");

    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let flags: Flags = diesel::sql_query(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'coffer_app'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(!flags.rolsuper && !flags.rolbypassrls);
    assert!(
        flags.rolcanlogin,
        "the harness gave it a password and LOGIN"
    );

    let owned: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'coffer_app'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(owned.n, 0, "coffer_app owns no table");

    let unprotected: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND c.relname <> '__diesel_schema_migrations'
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        unprotected.n, 0,
        "every table has ENABLE + FORCE row-level security"
    );

    // The app role connects.
    AsyncPgConnection::establish(&db.app_url()).await.unwrap();
}
