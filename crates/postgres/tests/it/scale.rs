//! Listing at scale: a tenant of 100 k files pages correctly and every page,
//! first or deep, is an index scan.

use coffer_domain::{PageCursor, Tenant, UserId};
use coffer_ports::{FileCatalog, FileQuery, ReadFilter, TenantScope};
use coffer_postgres::testing::TestDb;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::support::{file, query, tenant};

const FILES: usize = 100_000;

fn first_page(limit: u32) -> FileQuery {
    FileQuery {
        limit,
        ..query(ReadFilter::All)
    }
}

/// `FILES` available files of `t` owned by `owner` in `/bulk`, inserted by
/// one statement as the owner in the tenant's scope; the name, metadata
/// and second of creation are SQL of the row number `i`.
async fn seed(
    conn: &mut AsyncPgConnection,
    t: &Tenant,
    owner: UserId,
    name: &str,
    metadata: &str,
    second: &str,
) {
    let t = t.id;
    conn.batch_execute(&format!(
        "BEGIN;
         SET LOCAL coffer.tenant_id = '{t}';
         INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path, filename,
                            content_type, size_bytes, visibility, metadata, status, bucket,
                            object_key, created_at, updated_at)
         SELECT gen_random_uuid(), '{t}', '{owner}', 'owner', 'documents', '/bulk',
                {name}, 'text/plain', 1, 'private', {metadata}, 'available', 'coffer-files',
                't/{t}/documents/' || i,
                timestamptz '2024-01-01 00:00:00+00' + ({second}) * interval '1 second',
                now()
         FROM generate_series(1, {FILES}) AS i;
         COMMIT;"
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_of_100k_files_pages_by_index() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (big, owner) = tenant(&store, "big").await;
    // A neighbour, so the index has to pick a tenant out.
    let (small, small_owner) = tenant(&store, "small").await;
    file(&store, &small, small_owner, "neighbour.txt").await;

    // Pairs of rows share a creation time so the id has to break ties.
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    seed(&mut conn, &big, owner, "'file-' || i", "'{}'", "i / 2").await;
    conn.batch_execute("ANALYZE files").await.unwrap();

    let scope = TenantScope::new(big.id);
    let mut query = first_page(1000);
    let mut seen = 0_usize;
    let mut previous: Option<(time::OffsetDateTime, uuid::Uuid)> = None;
    let mut deep_cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list_files(&scope, &query).await.unwrap();
        pages += 1;
        for f in &page.items {
            let key = (f.created_at, *f.id.as_uuid());
            if let Some(prev) = previous {
                assert!(key < prev, "strictly newest first: {key:?} after {prev:?}");
            }
            assert_eq!(f.tenant_id, big.id);
            previous = Some(key);
        }
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => {
                let cursor = PageCursor::decode(&c).unwrap();
                if pages == 90 {
                    deep_cursor = Some(cursor);
                }
                query.after = Some(cursor);
            }
            None => break,
        }
    }
    assert_eq!(seen, FILES, "every file exactly once");
    assert_eq!(pages, FILES / 1000);

    let first = db
        .explain_list_files(big.id, &first_page(100))
        .await
        .unwrap();
    let deep = db
        .explain_list_files(
            big.id,
            &FileQuery {
                after: deep_cursor,
                ..first_page(100)
            },
        )
        .await
        .unwrap();
    for (name, plan) in [("first page", first), ("deep page", deep)] {
        assert!(
            plan.contains("Index Scan") && plan.contains("files_keyset"),
            "{name} is not served by the keyset index:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan on files"), "{name}:\n{plan}");
        assert!(
            !plan.contains("Sort"),
            "{name} sorts instead of walking the index:\n{plan}"
        );
    }
}

/// A rare metadata value, a rare word and a rare folder among 100 k files
/// are found through the terms' primary key under row-level security, not
/// by a walk of the files that filters nearly all of them out. Seeded through the triggers
/// (one statement), so this also keeps their bulk cost in view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rare_metadata_names_and_folders_at_100k_files_are_found_through_terms() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (big, owner) = tenant(&store, "big").await;
    let (small, small_owner) = tenant(&store, "small").await;
    file(&store, &small, small_owner, "quokka.txt").await;

    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    seed(
        &mut conn,
        &big,
        owner,
        "CASE WHEN i % 10000 = 42 THEN 'quokka-' ELSE 'file-' END || i",
        "jsonb_build_object('dept', 'd' || i % 10)
           || CASE WHEN i % 10000 = 42 THEN '{\"case\": \"4242\"}'::jsonb ELSE '{}' END",
        "i",
    )
    .await;
    // The same ten files in a folder of their own, for a rare prefix.
    conn.batch_execute(&format!(
        "BEGIN;
         SET LOCAL coffer.tenant_id = '{}';
         UPDATE files SET path = '/rare/case' WHERE filename LIKE 'quokka-%';
         COMMIT;",
        big.id
    ))
    .await
    .unwrap();
    // The probes that pick the rarest term are index-only scans: they want
    // the visibility map.
    for table in ["files", "file_terms"] {
        conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .unwrap();
    }

    let scope = TenantScope::new(big.id);
    let rare_metadata = FileQuery {
        metadata: Some(
            serde_json::json!({"case": "4242"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..first_page(100)
    };
    let rare_name = FileQuery {
        name_contains: Some("QUOKKA".to_owned()),
        ..first_page(100)
    };
    let rare_prefix = FileQuery {
        prefix: Some(coffer_domain::LogicalPath::new("/rare").unwrap()),
        ..first_page(100)
    };
    for (name, q) in [
        ("metadata", &rare_metadata),
        ("q", &rare_name),
        ("prefix", &rare_prefix),
    ] {
        let page = store.list_files(&scope, q).await.unwrap();
        assert_eq!(page.items.len(), 10, "{name}");
        assert!(page.items.iter().all(|f| f.tenant_id == big.id), "{name}");

        let plan = db.explain_list_files(big.id, q).await.unwrap();
        // (An index-only scan when the visibility map allows.)
        assert!(
            plan.contains("Scan Backward using file_terms_pkey on file_terms "),
            "rare {name} is not served by the terms' primary key:\n{plan}"
        );
        // The one sort is of the needle's own terms, to pick the rarest.
        for walk in ["files_keyset", "Seq Scan", "Sort Key: file"] {
            assert!(!plan.contains(walk), "rare {name} uses {walk}:\n{plan}");
        }
    }
}
