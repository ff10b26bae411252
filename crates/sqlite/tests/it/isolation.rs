//! Tenant isolation without row-level security: the adapter scopes every
//! statement, and the schema's composite foreign keys and key-prefix check
//! refuse cross-tenant rows even when written by hand.

use coffer_contract::metadata::record;
use coffer_contract::metadata::{at, limits};
use coffer_domain::{Access, GrantId, GrantSubject, Subject};
use coffer_ports::{
    AuditLog, AuditQuery, FileCatalog, Grants, MetadataErrorKind, NewAudit, NewGrant, TenantScope,
};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, sqlite::SqliteConnection};

use crate::support::{fresh, new_file, tenant};

#[tokio::test]
async fn grants_and_audit_stay_in_their_tenant() {
    let (store, dir) = fresh().await;
    let (a, alice) = tenant(&store, "tenant-a").await;
    let (b, _) = tenant(&store, "tenant-b").await;
    let (sa, sb) = (TenantScope::new(a.id), TenantScope::new(b.id));
    let file = store
        .reserve_upload(&sa, new_file(&a, alice, "a.pdf", 1), &limits(), record())
        .await
        .unwrap();
    let grant = store
        .put_grant(
            &sa,
            NewGrant {
                id: GrantId::new_random(),
                file_id: file.id,
                subject: GrantSubject::User(Subject::new("carol").unwrap()),
                access: Access::Read,
                expires_at: None,
                created_by: Subject::new("owner").unwrap(),
                created_at: at(1),
            },
            record(),
        )
        .await
        .unwrap();
    let refused = store
        .delete_grant(&sb, file.id, grant.id, record())
        .await
        .unwrap_err();
    assert!(refused.is(MetadataErrorKind::NotFound), "{refused}");
    assert_eq!(
        store.list_grants(&sa, file.id).await.unwrap(),
        vec![grant.clone()]
    );

    let entry = NewAudit {
        actor: Subject::new("owner").unwrap(),
        action: "file.create".to_owned(),
        file_id: Some(file.id),
        detail: serde_json::json!({}),
        request_id: None,
        client_addr: None,
        at: at(2),
    };
    store.append_audit(&sa, entry).await.unwrap();
    let query = AuditQuery {
        actor: None,
        // Tenant and file creation are on record too.
        action: Some("file.create".to_owned()),
        file_id: None,
        since: None,
        until: None,
        after: None,
        limit: 100,
        oldest_first: false,
    };
    assert_eq!(store.list_audit(&sa, &query).await.unwrap().items.len(), 1);
    assert!(
        store
            .list_audit(&sb, &query)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // By hand, past the adapter: the schema itself refuses rows that point
    // across tenants, keys outside the tenant's prefix, and audit rewrites.
    let mut raw =
        SqliteConnection::establish(dir.path().join("coffer.db").to_str().unwrap()).unwrap();
    raw.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    let (tb, f) = (b.id.to_string(), file.id.to_string());
    let cross_grant = format!(
        "INSERT INTO grants VALUES ('{}', '{tb}', '{f}', 'user:mallory', 'manage', NULL, 'user:mallory', 0)",
        GrantId::new_random()
    );
    assert!(
        diesel::sql_query(cross_grant).execute(&mut raw).is_err(),
        "grant across tenants"
    );
    let foreign_key =
        format!("UPDATE files SET object_key = 't/{tb}/documents/x' WHERE id = '{f}'");
    assert!(
        diesel::sql_query(foreign_key).execute(&mut raw).is_err(),
        "key outside the prefix"
    );
    let cross_owner = format!(
        "UPDATE files SET tenant_id = '{tb}', object_key = 't/{tb}/documents/x' WHERE id = '{f}'"
    );
    assert!(
        diesel::sql_query(cross_owner).execute(&mut raw).is_err(),
        "owner of another tenant"
    );
    assert!(
        diesel::sql_query("UPDATE audit_events SET action = 'x'")
            .execute(&mut raw)
            .is_err()
    );
    assert!(
        diesel::sql_query("DELETE FROM audit_events")
            .execute(&mut raw)
            .is_err()
    );
}
