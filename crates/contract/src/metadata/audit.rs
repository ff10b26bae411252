//! [`coffer_ports::AuditLog`]: what is not a change appended, and the log
//! listed newest first or exported oldest first, filtered and paged.

use coffer_domain::{FileId, PageCursor, Role};
use coffer_ports::{AuditEntry, AuditQuery, MetadataPorts, NewAudit, Page};
use serde_json::json;

use super::fixtures::{T0, at, available, data, file, scope, subject, tenant, user};

/// The cases of [`coffer_ports::AuditLog`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! audit_log_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; audit;
            audit_append_and_list,
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
