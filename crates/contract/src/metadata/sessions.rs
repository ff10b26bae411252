//! [`coffer_ports::UploadSessions`]: sessions are found by their own
//! tenant only, listed once their registration window closed (oldest
//! first, across tenants), and forgotten.

use coffer_domain::{BucketName, Subject, UploadSessionId};
use coffer_ports::{MetadataErrorKind, MetadataPorts, UploadSession};

use super::fixtures::{assert_kind, at, tenant};

/// The cases of [`coffer_ports::UploadSessions`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! upload_sessions_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; sessions;
            sessions_are_found_by_their_tenant_listed_when_closed_and_forgotten,
        );
    };
}

fn session(tenant: coffer_domain::TenantId, expires: i64, closes: i64) -> UploadSession {
    UploadSession {
        id: UploadSessionId::new_v7(),
        tenant_id: tenant,
        created_by: Subject::new("alice").unwrap(),
        bucket: BucketName::new("coffer-files").unwrap(),
        expires_at: at(expires),
        registrable_until: at(closes),
        created_at: at(0),
    }
}

pub async fn sessions_are_found_by_their_tenant_listed_when_closed_and_forgotten(
    ports: MetadataPorts,
) {
    let (acme, globex) = (tenant(&ports, "acme").await, tenant(&ports, "globex").await);
    let sessions = &ports.sessions;
    let (early, late, theirs) = (
        session(acme.id, 100, 200),
        session(acme.id, 300, 400),
        session(globex.id, 100, 150),
    );
    for s in [&early, &late, &theirs] {
        sessions.open_session(s.clone()).await.unwrap();
    }
    assert_kind(
        sessions.open_session(early.clone()).await,
        MetadataErrorKind::Conflict,
        "opening a session twice",
    );

    assert_eq!(
        sessions.session(acme.id, early.id).await.unwrap(),
        Some(early.clone())
    );
    assert_eq!(
        sessions.session(globex.id, early.id).await.unwrap(),
        None,
        "another tenant's session does not exist for it"
    );

    assert!(
        sessions
            .closed_sessions(at(150), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let closed = sessions.closed_sessions(at(250), 10).await.unwrap();
    assert_eq!(
        closed,
        vec![theirs.clone(), early.clone()],
        "oldest window first"
    );
    assert_eq!(
        sessions.closed_sessions(at(250), 1).await.unwrap(),
        vec![theirs.clone()]
    );

    sessions.remove_session(globex.id, early.id).await.unwrap();
    assert!(
        sessions.session(acme.id, early.id).await.unwrap().is_some(),
        "removing needs the session's own tenant"
    );
    sessions.remove_session(acme.id, early.id).await.unwrap();
    sessions.remove_session(acme.id, early.id).await.unwrap();
    assert_eq!(sessions.session(acme.id, early.id).await.unwrap(), None);
    assert_eq!(
        sessions.closed_sessions(at(1000), 10).await.unwrap(),
        vec![theirs, late]
    );
}
