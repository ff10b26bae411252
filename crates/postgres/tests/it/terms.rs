//! Listings found through `file_terms` (metadata containment, `q`): the
//! same answers as the filters themselves, on every path through the terms
//! table, for one tenant only.

use std::collections::BTreeSet;

use coffer_domain::{FileStatus, Filename, LogicalPath, Metadata, PageCursor, Tenant, UserId};
use coffer_ports::{FileCatalog, FilePatch, FileQuery, ReadFilter, TenantScope};
use coffer_postgres::PgMetadataStore;
use coffer_postgres::testing::TestDb;
use serde_json::{Value, json};

use crate::support::{at, limits, new_file, query, record, tenant};

/// A pending file `name` with `metadata`, created at second `created`.
async fn put(
    store: &PgMetadataStore,
    t: &Tenant,
    owner: UserId,
    name: &str,
    metadata: Value,
    created: i64,
) {
    let mut f = new_file(t, owner, name, 1);
    f.metadata = Metadata::new(metadata).unwrap();
    f.created_at = at(created);
    store
        .reserve_upload(&TenantScope::new(t.id), f, &limits(), record())
        .await
        .unwrap();
}

fn pending() -> FileQuery {
    FileQuery {
        status: FileStatus::Pending,
        ..query(ReadFilter::All)
    }
}

fn by_metadata(needle: Value) -> FileQuery {
    let Value::Object(map) = needle else {
        panic!("a needle is an object")
    };
    FileQuery {
        metadata: Some(map),
        ..pending()
    }
}

fn by_name(needle: &str) -> FileQuery {
    FileQuery {
        name_contains: Some(needle.to_owned()),
        ..pending()
    }
}

/// The names `q` lists in `t`, checking that every item is `t`'s.
async fn names(store: &PgMetadataStore, t: &Tenant, q: &FileQuery) -> BTreeSet<String> {
    let page = store.list_files(&TenantScope::new(t.id), q).await.unwrap();
    assert!(page.items.iter().all(|f| f.tenant_id == t.id), "{q:?}");
    page.items
        .into_iter()
        .map(|f| f.filename.as_str().to_owned())
        .collect()
}

/// The one file `q` lists in `t`.
async fn only(store: &PgMetadataStore, t: &Tenant, q: &FileQuery) -> coffer_domain::FileId {
    store
        .list_files(&TenantScope::new(t.id), q)
        .await
        .unwrap()
        .items[0]
        .id
}

/// Applies `patch` to `t`'s file `id` at second `second`.
async fn patch(
    store: &PgMetadataStore,
    t: &Tenant,
    id: coffer_domain::FileId,
    patch: FilePatch,
    second: i64,
) {
    store
        .update_file(&TenantScope::new(t.id), id, patch, at(second), record())
        .await
        .unwrap();
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn metadata_containment_through_terms_matches_containment() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (a, owner) = tenant(&store, "terms-a").await;
    let (b, b_owner) = tenant(&store, "terms-b").await;
    let shared = json!({"case": "4242", "tags": ["x", "y"], "n": {"b": 1, "c": [{"d": null}]}});
    put(&store, &a, owner, "a.pdf", shared.clone(), 1).await;
    put(
        &store,
        &a,
        owner,
        "b.pdf",
        json!({"case": "4243", "tags": ["y"]}),
        2,
    )
    .await;
    put(
        &store,
        &a,
        owner,
        "c.pdf",
        json!({"deep": {"er": [{"k": true}]}}),
        3,
    )
    .await;
    put(&store, &a, owner, "d.pdf", json!({}), 4).await;
    put(
        &store,
        &a,
        owner,
        "e.pdf",
        json!({"case": "a.b=c", "tags": "x"}),
        5,
    )
    .await;
    // The other tenant holds the same values: never listed for A.
    put(&store, &b, b_owner, "a.pdf", shared, 1).await;
    put(
        &store,
        &b,
        b_owner,
        "theirs.pdf",
        json!({"case": "4242"}),
        2,
    )
    .await;

    for (needle, expected) in [
        (json!({"case": "4242"}), set(&["a.pdf"])),
        (json!({"tags": ["x"]}), set(&["a.pdf"])),
        (json!({"tags": ["y"]}), set(&["a.pdf", "b.pdf"])),
        // A scalar is not contained in an array below the top level.
        (json!({"tags": "x"}), set(&["e.pdf"])),
        // Numbers compare by value.
        (json!({"n": {"b": 1.0}}), set(&["a.pdf"])),
        (json!({"n": {"c": [{"d": null}]}}), set(&["a.pdf"])),
        (json!({"deep": {"er": [{"k": true}]}}), set(&["c.pdf"])),
        (json!({"deep": {"er": [{"k": false}]}}), set(&[])),
        (json!({"case": "4242", "tags": ["y"]}), set(&["a.pdf"])),
        (json!({"case": "4243", "tags": ["x"]}), set(&[])),
        (json!({"case": "a.b=c"}), set(&["e.pdf"])),
        (json!({"case": "4244"}), set(&[])),
        // No leaf: containment alone decides, over every file.
        (
            json!({}),
            set(&["a.pdf", "b.pdf", "c.pdf", "d.pdf", "e.pdf"]),
        ),
        (json!({"tags": []}), set(&["a.pdf", "b.pdf"])),
        (json!({"deep": {}}), set(&["c.pdf"])),
    ] {
        assert_eq!(
            names(&store, &a, &by_metadata(needle.clone())).await,
            expected,
            "{needle}"
        );
    }
    assert_eq!(
        names(&store, &b, &by_metadata(json!({"case": "4242"}))).await,
        set(&["a.pdf", "theirs.pdf"])
    );
}

#[tokio::test]
async fn name_contains_through_terms_matches_like() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (a, owner) = tenant(&store, "terms-a").await;
    let (b, b_owner) = tenant(&store, "terms-b").await;
    for (i, name) in [
        "Quarterly-Report.PDF",
        "report_2024%.txt",
        "reportx2024.txt",
        "ÜNÏCODE-Résumé.doc",
        "ab.txt",
        "other.txt",
    ]
    .into_iter()
    .enumerate()
    {
        put(&store, &a, owner, name, json!({}), i as i64).await;
    }
    put(&store, &b, b_owner, "their-report.txt", json!({}), 1).await;

    for (needle, expected) in [
        (
            "REPORT",
            set(&[
                "Quarterly-Report.PDF",
                "report_2024%.txt",
                "reportx2024.txt",
            ]),
        ),
        // `_` and `%` are literal.
        ("t_2", set(&["report_2024%.txt"])),
        ("24%", set(&["report_2024%.txt"])),
        ("%", set(&["report_2024%.txt"])),
        ("résumé", set(&["ÜNÏCODE-Résumé.doc"])),
        ("ünïc", set(&["ÜNÏCODE-Résumé.doc"])),
        // Shorter than a trigram: the plain scan.
        ("ab", set(&["ab.txt"])),
        ("x2", set(&["reportx2024.txt"])),
        ("rt.pdf", set(&["Quarterly-Report.PDF"])),
        ("reportreport", set(&[])),
        ("zzz", set(&[])),
    ] {
        assert_eq!(
            names(&store, &a, &by_name(needle)).await,
            expected,
            "{needle}"
        );
    }

    // Both filters at once: each is applied, whichever drives.
    let both = FileQuery {
        metadata: Some(serde_json::Map::new()),
        ..by_name("report")
    };
    assert_eq!(names(&store, &a, &both).await.len(), 3);
}

#[tokio::test]
async fn term_driven_pages_follow_the_cursor() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (a, owner) = tenant(&store, "terms-a").await;
    // Pairs share a creation time, so the id breaks ties as in `files`.
    for i in 0..50_i64 {
        let (name, metadata) = if i % 2 == 0 {
            (format!("match-{i}.txt"), json!({"kind": "match"}))
        } else {
            (format!("other-{i}.txt"), json!({"kind": "other"}))
        };
        put(&store, &a, owner, &name, metadata, i / 4).await;
    }
    for base in [by_name("match"), by_metadata(json!({"kind": "match"}))] {
        let mut q = FileQuery { limit: 10, ..base };
        let mut seen = BTreeSet::new();
        let mut previous = None;
        let mut pages = 0;
        loop {
            let page = store.list_files(&TenantScope::new(a.id), &q).await.unwrap();
            pages += 1;
            for f in &page.items {
                let key = (f.created_at, *f.id.as_uuid());
                if let Some(prev) = previous {
                    assert!(key < prev, "strictly newest first");
                }
                previous = Some(key);
                assert!(f.filename.as_str().starts_with("match-"));
                assert!(seen.insert(f.id), "each file once");
            }
            match page.next_cursor {
                Some(c) => q.after = Some(PageCursor::decode(&c).unwrap()),
                None => break,
            }
        }
        assert_eq!((seen.len(), pages), (25, 3));
    }
}

#[tokio::test]
async fn a_changed_file_is_found_under_its_new_terms_only() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (a, owner) = tenant(&store, "terms-a").await;
    put(&store, &a, owner, "alpha.txt", json!({"k": "v1"}), 1).await;
    let id = only(&store, &a, &pending()).await;

    let renamed = FilePatch {
        filename: Some(Filename::new("omega.txt").unwrap()),
        metadata: Some(Metadata::new(json!({"k": "v2"})).unwrap()),
        ..FilePatch::default()
    };
    patch(&store, &a, id, renamed, 2).await;
    let omega = set(&["omega.txt"]);
    assert_eq!(names(&store, &a, &by_name("alpha")).await, set(&[]));
    assert_eq!(names(&store, &a, &by_name("omeg")).await, omega);
    assert_eq!(
        names(&store, &a, &by_metadata(json!({"k": "v1"}))).await,
        set(&[])
    );
    assert_eq!(
        names(&store, &a, &by_metadata(json!({"k": "v2"}))).await,
        omega
    );

    // A change of something else keeps the terms.
    let shared = FilePatch {
        visibility: Some(coffer_domain::Visibility::Tenant),
        ..FilePatch::default()
    };
    patch(&store, &a, id, shared, 3).await;
    assert_eq!(names(&store, &a, &by_name("omeg")).await, omega);
}

/// A pending file `name` in the folder `path`.
async fn put_in(store: &PgMetadataStore, t: &Tenant, owner: UserId, path: &str, name: &str) {
    let mut f = new_file(t, owner, name, 1);
    f.path = LogicalPath::new(path).unwrap();
    store
        .reserve_upload(&TenantScope::new(t.id), f, &limits(), record())
        .await
        .unwrap();
}

fn by_prefix(prefix: &str) -> FileQuery {
    FileQuery {
        prefix: Some(LogicalPath::new(prefix).unwrap()),
        ..pending()
    }
}

#[tokio::test]
async fn a_prefix_through_terms_is_the_folder_and_every_folder_below() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (a, owner) = tenant(&store, "terms-a").await;
    let (b, b_owner) = tenant(&store, "terms-b").await;
    for (path, name) in [
        ("/", "root.txt"),
        ("/a", "a.txt"),
        ("/a/b", "ab.txt"),
        ("/a/b/c", "abc.txt"),
        ("/a/bc", "a-bc.txt"),
        ("/ab", "sibling.txt"),
        ("/x_y", "underscore.txt"),
        ("/xzy", "not-underscore.txt"),
    ] {
        put_in(&store, &a, owner, path, name).await;
    }
    put_in(&store, &b, b_owner, "/a", "other-tenant.txt").await;

    assert_eq!(
        names(&store, &a, &by_prefix("/a")).await,
        set(&["a.txt", "ab.txt", "abc.txt", "a-bc.txt"])
    );
    assert_eq!(
        names(&store, &a, &by_prefix("/a/b")).await,
        set(&["ab.txt", "abc.txt"])
    );
    // `_` and `%` are literal in a folder name.
    assert_eq!(
        names(&store, &a, &by_prefix("/x_y")).await,
        set(&["underscore.txt"])
    );
    assert_eq!(names(&store, &a, &by_prefix("/nowhere")).await, set(&[]));
    // The root is every folder (no term: the plain listing).
    assert_eq!(names(&store, &a, &by_prefix("/")).await.len(), 8);

    // A move takes the file's folder terms with it.
    let sibling = only(&store, &a, &by_prefix("/ab")).await;
    let moved = FilePatch {
        path: Some(LogicalPath::new("/a/b/moved").unwrap()),
        ..FilePatch::default()
    };
    patch(&store, &a, sibling, moved, 5).await;
    assert_eq!(names(&store, &a, &by_prefix("/ab")).await, set(&[]));
    assert_eq!(
        names(&store, &a, &by_prefix("/a/b")).await,
        set(&["ab.txt", "abc.txt", "sibling.txt"])
    );
}
