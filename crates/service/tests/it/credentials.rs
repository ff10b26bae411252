//! Temporary credentials: who gets which, for how long, confined to what;
//! an upload session opened with the store's own expiry and on record;
//! registering a session's uploads, and reaping what is left.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_domain::{ObjectKey, Role, TenantStatus, UploadSessionId};
use coffer_ports::{
    CredentialScope, ListedObject, MetadataError, MetadataErrorKind, ObjectList, Page,
    TemporaryCredentials, UploadSession,
};
use coffer_service::{CredentialAccess, CredentialsRequest, ErrorKind, SessionEntry};

use crate::support::*;

fn request(access: CredentialAccess, ttl: Option<u64>) -> CredentialsRequest {
    CredentialsRequest {
        access,
        ttl: ttl.map(Duration::from_secs),
    }
}

fn temporary(expires_in: time::Duration) -> TemporaryCredentials {
    TemporaryCredentials {
        access_key_id: "ASIA".into(),
        secret_access_key: "secret".into(),
        session_token: "token".into(),
        expires_at: now() + expires_in,
        endpoint: Some("http://store".into()),
        region: "us-east-1".into(),
        force_path_style: true,
    }
}

/// An issuer that hands out `expires_in` credentials and keeps what it was asked.
fn issuer(
    expires_in: time::Duration,
    asked: Arc<Mutex<Vec<coffer_ports::CredentialRequest>>>,
) -> coffer_ports::MockCredentialIssuer {
    let mut issuer = coffer_ports::MockCredentialIssuer::new();
    issuer
        .expect_max_duration()
        .return_const(Duration::from_secs(12 * 3600));
    issuer.expect_issue().returning(move |r| {
        asked.lock().unwrap().push(r);
        Ok(temporary(expires_in))
    });
    issuer
}

#[tokio::test]
async fn write_credentials_open_a_session_with_the_stores_expiry_on_record() {
    let t = tenant(TenantStatus::Active);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut fx = CredentialsFx {
        // The store caps the hour asked for at ten minutes.
        issuer: Some(issuer(time::Duration::minutes(10), asked.clone())),
        ..Default::default()
    };
    let opened = Arc::new(Mutex::new(Vec::new()));
    let keep = opened.clone();
    fx.sessions
        .expect_open_session()
        .times(1)
        .returning(move |s| {
            keep.lock().unwrap().push(s);
            Ok(())
        });
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(|_, e| e.action == "credentials.issued" && e.detail["access"] == "write")
        .returning(|_, _| Ok(()));
    let issued = fx
        .build()
        .issue(
            &caller(&t, "alice", &[Role::Editor]),
            request(CredentialAccess::Write, None),
        )
        .await
        .unwrap();

    let session = opened.lock().unwrap().pop().unwrap();
    assert_eq!(issued.upload_session.as_ref(), Some(&session));
    assert_eq!(session.expires_at, now() + time::Duration::minutes(10));
    assert_eq!(
        session.registrable_until,
        session.expires_at + time::Duration::hours(1)
    );
    assert_eq!(session.created_by.as_str(), "alice");
    assert_eq!(
        issued.prefix,
        format!("t/{}/_sessions/{}/", t.id, session.id)
    );
    let asked = asked.lock().unwrap();
    assert_eq!(
        asked[0].duration,
        Duration::from_secs(3600),
        "the default lifetime"
    );
    match &asked[0].scope {
        CredentialScope::PutUnder(prefix) => assert_eq!(prefix.as_str(), issued.prefix),
        other => panic!("write credentials must be put-only: {other:?}"),
    }
}

#[tokio::test]
async fn read_credentials_are_for_tenant_admins_and_read_the_tenant_prefix() {
    let t = tenant(TenantStatus::Active);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut fx = CredentialsFx {
        issuer: Some(issuer(time::Duration::hours(1), asked.clone())),
        ..Default::default()
    };
    fx.audit
        .expect_append_audit()
        .times(1)
        .returning(|_, _| Ok(()));
    let credentials = fx.build();
    let editor = credentials
        .issue(
            &caller(&t, "alice", &[Role::Editor]),
            request(CredentialAccess::Read, None),
        )
        .await
        .unwrap_err();
    assert_eq!(editor.code.as_str(), "admin_required");
    let issued = credentials
        .issue(
            &caller(&t, "ada", &[Role::Admin]),
            request(CredentialAccess::Read, Some(900)),
        )
        .await
        .unwrap();
    assert_eq!(issued.prefix, format!("t/{}/", t.id));
    assert!(issued.upload_session.is_none());
    match &asked.lock().unwrap()[0].scope {
        CredentialScope::ReadUnder(prefixes) => {
            assert!(!prefixes.is_empty());
            assert!(
                prefixes
                    .iter()
                    .all(|p| p.tenant_id() == t.id && p.as_str() == issued.prefix)
            );
        }
        other => panic!("read credentials must be read-only: {other:?}"),
    }
}

#[tokio::test]
async fn refusals_come_before_the_store_is_asked() {
    let t = tenant(TenantStatus::Active);
    let never = Arc::new(Mutex::new(Vec::new()));
    let credentials = CredentialsFx {
        issuer: Some(issuer(time::Duration::hours(1), never.clone())),
        ..Default::default()
    }
    .build();
    let viewer = credentials
        .issue(
            &caller(&t, "victor", &[Role::Viewer]),
            request(CredentialAccess::Write, None),
        )
        .await
        .unwrap_err();
    assert_eq!(viewer.code.as_str(), "role_cannot_create");
    // Starter's maximum is an hour; STS's minimum 15 minutes.
    for ttl in [899, 3601] {
        let err = credentials
            .issue(
                &caller(&t, "alice", &[Role::Editor]),
                request(CredentialAccess::Write, Some(ttl)),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.code.as_str()),
            (ErrorKind::Invalid, "ttl_out_of_range"),
            "{ttl}"
        );
    }
    let suspended = tenant(TenantStatus::Suspended);
    let err = credentials
        .issue(
            &caller(&suspended, "alice", &[Role::Editor]),
            request(CredentialAccess::Write, None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TenantSuspended);
    assert!(never.lock().unwrap().is_empty());

    let none = CredentialsFx::default().build();
    let err = none
        .issue(
            &caller(&t, "alice", &[Role::Editor]),
            request(CredentialAccess::Write, None),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Unsupported, "credentials_unsupported")
    );
}

#[tokio::test]
async fn credentials_not_on_record_are_not_handed_out_and_their_session_goes() {
    let t = tenant(TenantStatus::Active);
    let mut fx = CredentialsFx {
        issuer: Some(issuer(
            time::Duration::hours(1),
            Arc::new(Mutex::new(Vec::new())),
        )),
        ..Default::default()
    };
    fx.sessions
        .expect_open_session()
        .times(1)
        .returning(|_| Ok(()));
    fx.audit
        .expect_append_audit()
        .returning(|_, _| Err(MetadataError::new(MetadataErrorKind::Unavailable, "down")));
    fx.sessions
        .expect_remove_session()
        .times(1)
        .returning(|_, _| Ok(()));
    let err = fx
        .build()
        .issue(
            &caller(&t, "alice", &[Role::Editor]),
            request(CredentialAccess::Write, None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

fn open_session(t: &coffer_domain::Tenant, by: &str, closes_in: time::Duration) -> UploadSession {
    UploadSession {
        id: UploadSessionId::new_v7(),
        tenant_id: t.id,
        created_by: coffer_domain::Subject::new(by).unwrap(),
        bucket: coffer_domain::BucketName::new("coffer-test").unwrap(),
        expires_at: now() + closes_in - time::Duration::hours(1),
        registrable_until: now() + closes_in,
        created_at: now() - time::Duration::hours(1),
    }
}

fn entry(key: &str) -> SessionEntry {
    SessionEntry {
        key: key.into(),
        ..SessionEntry::default()
    }
}

#[tokio::test]
async fn sessions_register_for_their_member_in_their_window_only() {
    let t = tenant(TenantStatus::Active);
    let (open, closed) = (
        open_session(&t, "alice", time::Duration::minutes(5)),
        open_session(&t, "alice", -time::Duration::seconds(1)),
    );
    let mut fx = FilesFx::default();
    let sessions = [open.clone(), closed.clone()];
    fx.sessions
        .expect_session()
        .returning(move |_, id| Ok(sessions.iter().find(|s| s.id == id).cloned()));
    let files = fx.build();
    let alice = caller(&t, "alice", &[Role::Editor]);
    let code =
        |r: Result<_, coffer_service::ServiceError>| r.map(|_| ()).unwrap_err().code.as_str();

    let unknown = files
        .register_session(&alice, UploadSessionId::new_v7(), vec![entry("a")])
        .await;
    assert_eq!(code(unknown), "not_found");
    let bob = caller(&t, "bob", &[Role::Editor]);
    assert_eq!(
        code(
            files
                .register_session(&bob, open.id, vec![entry("a")])
                .await
        ),
        "access_denied"
    );
    let viewer = caller(&t, "alice", &[Role::Viewer]);
    assert_eq!(
        code(
            files
                .register_session(&viewer, open.id, vec![entry("a")])
                .await
        ),
        "role_cannot_create"
    );
    assert_eq!(
        code(
            files
                .register_session(&alice, closed.id, vec![entry("a")])
                .await
        ),
        "upload_session_expired"
    );
    assert_eq!(
        code(files.register_session(&alice, open.id, vec![]).await),
        "invalid_manifest"
    );
    assert_eq!(
        code(
            files
                .register_session(&alice, open.id, vec![entry("a"), entry("a")])
                .await
        ),
        "invalid_manifest"
    );
}

#[tokio::test]
async fn the_sweep_empties_closed_sessions_and_keeps_what_it_could_not_delete() {
    let t = tenant(TenantStatus::Active);
    let (done, stuck) = (
        open_session(&t, "alice", -time::Duration::seconds(1)),
        open_session(&t, "bob", -time::Duration::seconds(1)),
    );
    let mut fx = SweeperFx::default();
    let mut sessions = coffer_ports::MockUploadSessions::new();
    let closed = vec![done.clone(), stuck.clone()];
    sessions
        .expect_closed_sessions()
        .returning(move |_, _| Ok(closed.clone()));
    let gone = done.id;
    sessions
        .expect_remove_session()
        .times(1)
        .withf(move |_, id| *id == gone)
        .returning(|_, _| Ok(()));
    fx.sessions = Some(sessions);
    let tenant_row = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(tenant_row.clone()));
    fx.registry.expect_list_tenants().returning(|_, _| {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    });
    let (tid, done_id, stuck_id) = (t.id, done.id, stuck.id);
    fx.store.expect_list().returning(move |prefix, _, _| {
        let session = if prefix.as_str().contains(&done_id.to_string()) {
            done_id
        } else {
            stuck_id
        };
        assert_eq!(prefix.tenant_id(), tid);
        Ok(ObjectList {
            objects: vec![ListedObject {
                key: ObjectKey::in_session(tid, session, "left over.bin").unwrap(),
                size: 3,
                last_modified: None,
            }],
            next: None,
        })
    });
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let log = deleted.clone();
    fx.store.expect_delete().returning(move |location| {
        let session = location.key().upload_session().unwrap();
        log.lock().unwrap().push(session);
        if session == stuck_id {
            Err(store_err(coffer_ports::StoreErrorKind::Unavailable))
        } else {
            Ok(())
        }
    });
    let report = fx.build().sweep().await.unwrap();
    assert_eq!(
        (report.sessions_reaped, report.failed),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(*deleted.lock().unwrap(), vec![done.id, stuck.id]);
}
