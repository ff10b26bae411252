//! [`coffer_ports::AuditLog`]: what is not a change appended, and the log
//! listed newest first or exported oldest first, filtered and paged.

use coffer_domain::{ChainHash, FileId, PageCursor, Role};
use coffer_ports::{AuditChain, AuditEntry, AuditQuery, MetadataPorts, NewAudit, Page};
use serde_json::json;

use super::fixtures::{T0, at, available, data, file, scope, subject, tenant, user};

/// The cases of [`coffer_ports::AuditLog`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! audit_log_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; audit;
            audit_append_and_list,
            audit_chain_is_unbroken_under_parallel_writers,
        );
    };
}

pub async fn audit_append_and_list(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let audit = data(&ports, &t).await.audit.clone();
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;
    let entry = |actor: &str, action: &str, file: Option<FileId>, secs: i64| NewAudit {
        actor: subject(actor),
        action: action.into(),
        file_id: file,
        detail: json!({"n": secs}),
        request_id: Some(format!("req-{secs}")),
        client_addr: Some("192.0.2.1".into()),
        at: at(secs),
    };
    audit
        .append_audit(&s, entry("alice", "file.create", Some(f.id), 10))
        .await
        .unwrap();
    audit
        .append_audit(&s, entry("alice", "file.download_url", Some(f.id), 20))
        .await
        .unwrap();
    audit
        .append_audit(&s, entry("bob", "file.download_url", Some(f.id), 30))
        .await
        .unwrap();
    audit
        .append_audit(&s, entry("bob", "tenant.read", None, 40))
        .await
        .unwrap();
    data(&ports, &other)
        .await
        .audit
        .append_audit(&scope(&other), entry("mallory", "file.create", None, 50))
        .await
        .unwrap();

    let base = AuditQuery {
        actor: None,
        action: None,
        file_id: None,
        // The records of the tenants' and file's creation are older.
        since: Some(at(0)),
        until: None,
        after: None,
        limit: 100,
        oldest_first: false,
    };
    let all = audit.list_audit(&s, &base).await.unwrap();
    let secs: Vec<i64> = all
        .items
        .iter()
        .map(|e| e.at.unix_timestamp() - T0)
        .collect();
    assert_eq!(secs, vec![40, 30, 20, 10], "newest first, own tenant only");
    let first = all.items.last().unwrap();
    assert_eq!(first.tenant_id, t.id);
    assert_eq!(first.actor.as_str(), "alice");
    assert_eq!(first.action, "file.create");
    assert_eq!(first.file_id, Some(f.id));
    assert_eq!(first.detail, json!({"n": 10}));
    assert_eq!(first.request_id.as_deref(), Some("req-10"));
    assert_eq!(first.client_addr.as_deref(), Some("192.0.2.1"));
    assert_eq!(all.next_cursor, None);

    let count = |q: AuditQuery| {
        let audit = audit.clone();
        async move { audit.list_audit(&s, &q).await.unwrap().items.len() }
    };
    assert_eq!(
        count(AuditQuery {
            actor: Some(subject("bob")),
            ..base.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            action: Some("file.download_url".into()),
            ..base.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditQuery {
            file_id: Some(f.id),
            ..base.clone()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditQuery {
            since: Some(at(20)),
            ..base.clone()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditQuery {
            until: Some(at(20)),
            ..base.clone()
        })
        .await,
        2
    );

    let mut q = AuditQuery {
        limit: 3,
        ..base.clone()
    };
    let page1 = audit.list_audit(&s, &q).await.unwrap();
    assert_eq!(page1.items.len(), 3);
    q.after = Some(PageCursor::decode(page1.next_cursor.as_deref().unwrap()).unwrap());
    let page2 = audit.list_audit(&s, &q).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].at, at(10));
    assert_eq!(page2.next_cursor, None);

    // An export runs oldest first, and pages forward.
    let mut q = AuditQuery {
        limit: 3,
        oldest_first: true,
        ..base.clone()
    };
    let page1 = audit.list_audit(&s, &q).await.unwrap();
    let secs = |p: &Page<AuditEntry>| -> Vec<i64> {
        p.items.iter().map(|e| e.at.unix_timestamp() - T0).collect()
    };
    assert_eq!(secs(&page1), vec![10, 20, 30]);
    q.after = Some(PageCursor::decode(page1.next_cursor.as_deref().unwrap()).unwrap());
    let page2 = audit.list_audit(&s, &q).await.unwrap();
    assert_eq!(secs(&page2), vec![40]);
    assert_eq!(page2.next_cursor, None);
}

/// Many reads (group-committed appends) and changes (journals in their own
/// transactions) of one tenant at once leave one chain: `seq` 1, 2, 3 …
/// without a gap, each hash linking its predecessor, the head at the end;
/// and each append returns only once its entry is readable.
pub async fn audit_chain_is_unbroken_under_parallel_writers(ports: MetadataPorts) {
    const READS: usize = 40;
    const CHANGES: usize = 8;
    let t = tenant(&ports, "acme").await;
    let data = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let mut files = Vec::new();
    for i in 0..CHANGES {
        let name = format!("f{i}");
        files.push(available(&ports, &t, file(&t, (o, "alice"), "/", &name, 1, 1)).await);
    }
    let reads = (0..READS).map(|i| {
        let audit = data.audit.clone();
        async move {
            let action = format!("file.read.{i}");
            let entry = NewAudit {
                actor: subject("alice"),
                action: action.clone(),
                file_id: None,
                detail: json!({"i": i, "ratio": 0.5}),
                request_id: Some(format!("req-{i}")),
                client_addr: None,
                at: at(i64::try_from(i).unwrap()),
            };
            audit.append_audit(&s, entry).await.unwrap();
            // Returned: so it is committed, and readable by anyone.
            let query = AuditQuery {
                actor: None,
                action: Some(action),
                file_id: None,
                since: None,
                until: None,
                after: None,
                limit: 10,
                oldest_first: false,
            };
            let found = audit.list_audit(&s, &query).await.unwrap();
            assert_eq!(
                found.items.len(),
                1,
                "entry {i} readable once its append returned"
            );
        }
    });
    let changes = files.iter().map(|f| {
        let files = data.files.clone();
        async move {
            files
                .trash_file(&s, f.id, at(100), super::fixtures::record())
                .await
                .unwrap();
        }
    });
    futures::future::join(
        futures::future::join_all(reads),
        futures::future::join_all(changes),
    )
    .await;

    let heads = data.audit.chain_heads(&s).await.unwrap();
    let main = heads
        .iter()
        .find(|h| h.chain == AuditChain::Main)
        .expect("the tenant's data has a chain");
    let mut entries = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e: &AuditEntry| e.seq.unwrap());
        let page = data
            .audit
            .read_chain(&s, AuditChain::Main, after, 7)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    let mut prev = ChainHash::GENESIS;
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.seq, Some(i as u64 + 1), "no gap, no fork");
        let hash = entry.chained_fields().unwrap().hash(&prev);
        assert_eq!(
            entry.hash,
            Some(hash),
            "entry {} links its predecessor",
            i + 1
        );
        prev = hash;
    }
    assert_eq!(
        (main.seq, main.hash),
        (entries.len() as u64, prev),
        "the head is the last link"
    );
    let reads_seen = entries
        .iter()
        .filter(|e| e.action.starts_with("file.read."))
        .count();
    let changes_seen = entries
        .iter()
        .filter(|e| e.action == "contract.change")
        .count();
    assert_eq!(reads_seen, READS);
    assert!(changes_seen >= CHANGES, "every change chained too");
}
