//! What the service puts on the audit log beside changes — reads,
//! listings and searches, refusals, reads of the log itself — each once
//! and before the answer exists; and the verification of a chain.

use std::sync::Arc;

use coffer_domain::{ChainBreak, ChainHash, FileStatus, Role, Subject, TenantStatus};
use coffer_ports::{
    AuditChain, AuditEntry, AuditQuery, ChainHead, MetadataErrorKind, MockAuditLog, Page,
    TenantData,
};
use coffer_service::{Audit, ErrorKind, ListFiles};
use mockall::Sequence;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn metadata_is_returned_only_once_its_read_is_on_record() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    let id = f.id;
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(move |_, e| {
            e.action == "file.read" && e.file_id == Some(id) && e.actor.as_str() == "alice"
        })
        .returning(|_, _| Ok(()));
    let app = fx.build();
    let got = app
        .get_file(&caller(&t, "alice", &[Role::Viewer]), f.id)
        .await
        .unwrap();
    assert_eq!(got.id, f.id);

    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    fx.audit
        .expect_append_audit()
        .returning(|_, _| Err(meta_err(MetadataErrorKind::Unavailable)));
    let result = fx
        .build()
        .get_file(&caller(&t, "alice", &[Role::Viewer]), f.id)
        .await;
    assert_err(result, ErrorKind::Unavailable, "metadata_unavailable");
}

#[tokio::test]
async fn a_listing_records_its_query_and_a_search_is_a_search() {
    for (q, action) in [(None, "file.listed"), (Some("report"), "file.searched")] {
        let t = tenant(TenantStatus::Active);
        let mut fx = FilesFx::default();
        fx.files.expect_list_files().times(1).returning(|_, _| {
            Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        });
        fx.audit
            .expect_append_audit()
            .times(1)
            .withf(move |_, e| {
                e.action == action
                    && e.file_id.is_none()
                    && e.detail["q"] == json!(q)
                    && e.detail["limit"] == 20
                    && e.detail["path"] == "/docs"
            })
            .returning(|_, _| Ok(()));
        let request = ListFiles {
            q: q.map(str::to_owned),
            path: Some("/docs".parse().unwrap()),
            limit: Some(20),
            ..ListFiles::default()
        };
        fx.build()
            .list_files(&caller(&t, "alice", &[Role::Viewer]), request)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn no_page_without_the_record_of_its_query() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    fx.files.expect_list_files().returning(|_, _| {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    });
    fx.audit
        .expect_append_audit()
        .returning(|_, _| Err(meta_err(MetadataErrorKind::Unavailable)));
    let result = fx
        .build()
        .list_files(&caller(&t, "alice", &[Role::Viewer]), ListFiles::default())
        .await;
    assert_err(result, ErrorKind::Unavailable, "metadata_unavailable");
}

#[tokio::test]
async fn refusals_are_on_record_once_whatever_the_action() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    let id = f.id;
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(move |_, e| {
            e.action == "file.access_denied"
                && e.file_id == Some(id)
                && e.actor.as_str() == "bob"
                && e.detail == json!({"action": "read", "code": "access_denied"})
        })
        .returning(|_, _| Ok(()));
    fx.store.expect_presign_get().never();
    let result = fx
        .build()
        .download_url(&caller(&t, "bob", &[Role::Viewer]), f.id, None)
        .await;
    assert_err(result, ErrorKind::Forbidden, "access_denied");

    // An id the tenant has no file of: `404`, on the caller's record.
    let mut fx = FilesFx::default();
    fx.files
        .expect_get_file()
        .returning(|_, _| Err(meta_err(MetadataErrorKind::NotFound)));
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(move |s, e| {
            e.action == "file.not_found"
                && e.file_id == Some(id)
                && e.detail["action"] == "delete"
                && s.tenant_id() == t.id
        })
        .returning(|_, _| Ok(()));
    let result = fx
        .build()
        .delete_file(&caller(&t, "bob", &[Role::Admin]), f.id, false)
        .await;
    assert_err(result, ErrorKind::NotFound, "not_found");
}

fn audit_app(audit: MockAuditLog) -> Audit {
    let data = TenantData {
        audit: Arc::new(audit),
        ..no_data()
    };
    Audit::new(resolver(data, None, None), clock())
}

fn query() -> AuditQuery {
    AuditQuery {
        actor: None,
        action: Some("file.read".into()),
        file_id: None,
        since: None,
        until: None,
        after: None,
        limit: 50,
        oldest_first: false,
    }
}

#[tokio::test]
async fn reading_the_log_is_on_record_before_the_page_is_read() {
    let t = tenant(TenantStatus::Active);
    let mut audit = MockAuditLog::new();
    let mut seq = Sequence::new();
    audit
        .expect_append_audit()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|_, e| {
            e.action == "audit.read" && e.detail["action"] == "file.read" && e.detail["limit"] == 50
        })
        .returning(|_, _| Ok(()));
    audit
        .expect_list_audit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| {
            Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        });
    audit_app(audit)
        .list_audit(&caller(&t, "boss", &[Role::Admin]), query())
        .await
        .unwrap();

    let mut audit = MockAuditLog::new();
    audit
        .expect_append_audit()
        .times(1)
        .withf(|_, e| e.action == "audit.access_denied" && e.actor.as_str() == "ed")
        .returning(|_, _| Ok(()));
    audit.expect_list_audit().never();
    assert_err(
        audit_app(audit)
            .list_audit(&caller(&t, "ed", &[Role::Editor]), query())
            .await,
        ErrorKind::Forbidden,
        "admin_required",
    );
}

/// A chain of `n` linked entries of tenant `t`.
fn chain(t: &coffer_domain::Tenant, n: u64) -> Vec<AuditEntry> {
    let mut prev = ChainHash::GENESIS;
    (1..=n)
        .map(|seq| {
            let mut entry = AuditEntry {
                id: uuid::Uuid::from_u128(seq.into()),
                tenant_id: t.id,
                actor: Subject::new("alice").unwrap(),
                action: "file.read".into(),
                file_id: None,
                detail: json!({"n": seq}),
                request_id: None,
                client_addr: None,
                at: now(),
                seq: Some(seq),
                hash: None,
            };
            prev = entry.chained_fields().unwrap().hash(&prev);
            entry.hash = Some(prev);
            entry
        })
        .collect()
}

fn serving(entries: Vec<AuditEntry>, head: (u64, ChainHash)) -> MockAuditLog {
    let mut audit = MockAuditLog::new();
    audit
        .expect_append_audit()
        .times(1)
        .withf(|_, e| e.action == "audit.verified" && e.actor.as_str() == "system:coffer")
        .returning(|_, _| Ok(()));
    audit.expect_chain_heads().returning(move |_| {
        Ok(vec![ChainHead {
            chain: AuditChain::Main,
            seq: head.0,
            hash: head.1,
        }])
    });
    audit
        .expect_read_chain()
        .returning(move |_, _, after, limit| {
            Ok(entries
                .iter()
                .filter(|e| e.seq.unwrap() > after)
                .take(limit as usize)
                .cloned()
                .collect())
        });
    audit
}

#[tokio::test]
async fn verification_walks_the_chain_and_names_the_first_break() {
    let t = tenant(TenantStatus::Active);
    let entries = chain(&t, 5);
    let head = (5, entries[4].hash.unwrap());

    let report = audit_app(serving(entries.clone(), head))
        .verify_chains(&t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!((report[0].entries, report[0].head), head);

    let mut edited = entries.clone();
    edited[2].actor = Subject::new("mallory").unwrap();
    let fault = audit_app(serving(edited, head))
        .verify_chains(&t)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((fault.seq, fault.id), (3, Some(entries[2].id)));
    assert!(matches!(fault.reason, ChainBreak::HashMismatch { .. }));

    let mut gap = entries.clone();
    gap.remove(1);
    let fault = audit_app(serving(gap, head))
        .verify_chains(&t)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((fault.seq, fault.id), (3, Some(entries[2].id)));
    assert_eq!(
        fault.reason,
        ChainBreak::Gap {
            expected: 2,
            found: 3
        }
    );

    let cut = entries[..4].to_vec();
    let fault = audit_app(serving(cut, head))
        .verify_chains(&t)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((fault.seq, fault.id), (5, None));
    assert!(matches!(fault.reason, ChainBreak::HeadMismatch { .. }));
}
