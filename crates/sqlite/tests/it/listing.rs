//! What SQLite does in SQL that PostgreSQL has built in: nested JSON
//! containment and Unicode case folding, with pages that stay exact.

use coffer_contract::metadata::record;
use coffer_contract::metadata::{at, limits, query};
use coffer_domain::{ContentType, Filename, Metadata, Tenant, UserId};
use coffer_ports::{FileCatalog, ObjectFacts, ReadFilter, TenantScope};
use coffer_sqlite::SqliteMetadataStore;
use serde_json::json;

use crate::support::{fresh, new_file, tenant};

async fn available(
    store: &SqliteMetadataStore,
    t: &Tenant,
    owner: UserId,
    name: &str,
    metadata: serde_json::Value,
    created: i64,
) {
    let mut f = new_file(t, owner, name, 1);
    f.metadata = Metadata::new(metadata).unwrap();
    f.created_at = at(created);
    let scope = TenantScope::new(t.id);
    let rec = store
        .reserve_upload(&scope, f, &limits(), record())
        .await
        .unwrap();
    let facts = ObjectFacts {
        key: rec.key.clone(),
        size_bytes: 1,
        checksum_sha256: None,
        content_type: ContentType::new("application/pdf").unwrap(),
        at: at(created),
        awaits_scan: false,
        retention: None,
    };
    store
        .mark_available(&scope, rec.id, facts, record())
        .await
        .unwrap();
}

#[tokio::test]
async fn nested_metadata_filter_pages_exactly() {
    let (store, _dir) = fresh().await;
    let (t, owner) = tenant(&store, "nested").await;
    // Matches at even positions, misses in between, so a post-filter would
    // return short pages.
    for i in 0..10_i64 {
        let meta = if i % 2 == 0 {
            json!({"project": {"id": 7, "tags": ["a", "b"]}, "n": i})
        } else {
            json!({"project": {"id": 8, "tags": ["a"]}, "n": i})
        };
        available(&store, &t, owner, &format!("f{i}.pdf"), meta, i).await;
    }
    let mut q = query(ReadFilter::All);
    q.limit = 2;
    q.metadata = json!({"project": {"id": 7.0, "tags": ["b"]}})
        .as_object()
        .cloned();
    let mut seen = Vec::new();
    loop {
        let page = store.list_files(&TenantScope::new(t.id), &q).await.unwrap();
        if page.next_cursor.is_some() {
            assert_eq!(page.items.len(), 2, "every page but the last is full");
        }
        seen.extend(page.items.iter().map(|f| f.filename.to_string()));
        match page.next_cursor {
            Some(c) => q.after = Some(coffer_domain::PageCursor::decode(&c).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, ["f8.pdf", "f6.pdf", "f4.pdf", "f2.pdf", "f0.pdf"]);
}

#[tokio::test]
async fn filename_search_folds_unicode_case() {
    let (store, _dir) = fresh().await;
    let (t, owner) = tenant(&store, "unicode").await;
    available(&store, &t, owner, "ÄRGER Bericht.pdf", json!({}), 1).await;
    available(&store, &t, owner, "other.pdf", json!({}), 2).await;
    let mut q = query(ReadFilter::All);
    q.name_contains = Some("ärger".to_owned());
    let page = store.list_files(&TenantScope::new(t.id), &q).await.unwrap();
    let names: Vec<&Filename> = page.items.iter().map(|f| &f.filename).collect();
    assert_eq!(names, [&Filename::new("ÄRGER Bericht.pdf").unwrap()]);
}
