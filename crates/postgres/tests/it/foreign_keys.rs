//! Foreign-key checks against `files` probe one key, even on a fresh,
//! never-analysed database: a backend caches each check's plan on first
//! use, while `files` is empty, and keeps it as the tenant grows. A plan
//! that picks a tenant-wide index walks the tenant's files on every check
//! (every search term of every upload, every grant, version or hold) until
//! the first ANALYZE — docs/benchmarks.md, initiate upload.

use coffer_domain::{Tenant, UserId};
use coffer_postgres::testing::TestDb;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use crate::support::tenant;

/// The tenant's files when the checks are measured: a walk of them reads
/// tens of index pages per check, a probe two or three.
const FILES: usize = 3_000;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Tuples {
    #[diesel(sql_type = Double)]
    reltuples: f64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
}

/// Index blocks of `files` this transaction has read so far.
async fn files_index_blocks(conn: &mut AsyncPgConnection) -> i64 {
    count(
        conn,
        "SELECT coalesce(sum(pg_stat_get_xact_blocks_fetched(indexrelid)), 0)::bigint AS n
         FROM pg_index WHERE indrelid = 'files'::regclass",
    )
    .await
}

/// A pending file of `owner` named `name`, as the owner in `t`'s scope
/// (inside a transaction that set it).
fn insert_file(t: &Tenant, owner: UserId, id: Uuid, name: &str, created_at: &str) -> String {
    let t = t.id;
    format!(
        "INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path, filename,
                            content_type, size_bytes, visibility, status, bucket, object_key,
                            created_at, updated_at)
         VALUES ('{id}', '{t}', '{owner}', 'owner', 'documents', '/', '{name}', 'text/plain', 1,
                 'private', 'pending', 'coffer-files', 't/{t}/documents/{id}', {created_at}, now());"
    )
}

fn insert_grant(t: &Tenant, file: Uuid, subject: &str) -> String {
    let t = t.id;
    format!(
        "INSERT INTO grants (id, tenant_id, file_id, subject, access, created_by, created_at)
         VALUES (gen_random_uuid(), '{t}', '{file}', '{subject}', 'read', 'user:owner', now());"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_database_probes_files_by_key() {
    let db = TestDb::new().await;
    let store = db.store(1).unwrap();
    let (t, owner) = tenant(&store, "fresh").await;
    let scope = format!("SET LOCAL coffer.tenant_id = '{}';", t.id);

    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    // No autoanalyse during the test: it would replan the checks and hide
    // what a fresh database does until its first one.
    conn.batch_execute(
        "ALTER TABLE files SET (autovacuum_enabled = false);
         ALTER TABLE file_terms SET (autovacuum_enabled = false);
         ALTER TABLE grants SET (autovacuum_enabled = false);",
    )
    .await
    .unwrap();
    let files: Tuples = diesel::sql_query(
        "SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = 'files'::regclass",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(
        files.reltuples < 0.0,
        "the test database must be as fresh as a new one: files was analysed"
    );

    // This backend plans the checks now, on an empty `files`: a first
    // file's search terms and grants on it, more than the five executions
    // after which PostgreSQL keeps a generic plan. Its terms and the grants
    // sort after every file seeded below, as a new upload does.
    let first = Uuid::new_v4();
    let mut warm = format!(
        "BEGIN; {scope} {}",
        insert_file(&t, owner, first, "first-file-of-the-tenant.txt", "now()")
    );
    for i in 0..6 {
        warm.push_str(&insert_grant(&t, first, &format!("user:reader-{i}")));
    }
    warm.push_str("COMMIT;");
    conn.batch_execute(&warm).await.unwrap();

    // The tenant grows, through another backend.
    let mut other = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    let tid = t.id;
    other
        .batch_execute(&format!(
            "BEGIN; {scope}
             INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path, filename,
                                content_type, size_bytes, visibility, status, bucket,
                                object_key, created_at, updated_at)
             SELECT gen_random_uuid(), '{tid}', '{owner}', 'owner', 'documents', '/',
                    'file-' || i, 'text/plain', 1, 'private', 'available', 'coffer-files',
                    't/{tid}/documents/' || i, now() - interval '1 day', now()
             FROM generate_series(1, {FILES}) AS i;
             COMMIT;"
        ))
        .await
        .unwrap();

    // The first backend uploads one more file and grants on the first.
    conn.batch_execute(&format!("BEGIN; {scope}"))
        .await
        .unwrap();
    let start = files_index_blocks(&mut conn).await;
    let probe = Uuid::new_v4();
    conn.batch_execute(&insert_file(
        &t,
        owner,
        probe,
        "a-rather-long-name-for-the-probe.txt",
        "now()",
    ))
    .await
    .unwrap();
    let after_file = files_index_blocks(&mut conn).await;
    conn.batch_execute(&insert_grant(&t, first, "user:probe"))
        .await
        .unwrap();
    let after_grant = files_index_blocks(&mut conn).await;
    let terms = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM file_terms WHERE file_id = '{probe}'"),
    )
    .await;
    conn.batch_execute("ROLLBACK").await.unwrap();

    // A probe reads a root and a leaf of the key (three pages at most);
    // the file's own row adds a descent of each index of `files`. A walk
    // reads every leaf of the tenant: ~25 pages per check at FILES.
    assert!(terms > 20, "the probe file has {terms} terms");
    let upload = after_file - start;
    assert!(
        upload <= 3 * terms + 60,
        "an upload with {terms} search terms read {upload} index blocks of files: \
         the terms' foreign-key check walks the tenant's files"
    );
    let grant = after_grant - after_file;
    assert!(
        grant <= 6,
        "a grant read {grant} index blocks of files: its foreign-key check walks the \
         tenant's files (an index of files that leads with tenant_id and holds id, created \
         after the key files_tenant_id_id_key, wins the fresh database's tie: rebuild the key \
         after it, as migration 2026-12-06-000002 does)"
    );
}
