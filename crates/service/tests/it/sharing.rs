use coffer_domain::{Access, FileStatus, GrantId, GrantSubject, Role, TenantStatus};
use coffer_ports::MetadataErrorKind;
use coffer_service::{AddGrant, ErrorKind};

use crate::support::*;

fn to_bob(access: Access, expires_at: Option<time::OffsetDateTime>) -> AddGrant {
    AddGrant {
        subject: "user:bob".parse::<GrantSubject>().unwrap(),
        access,
        expires_at,
    }
}

#[tokio::test]
async fn owners_grant_and_revoke() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = SharingFx::default();
    serves_file(&mut fx.files, &f);
    fx.grants
        .expect_put_grant()
        .times(1)
        .withf(|_, g, _| g.access == Access::Read && g.created_by.as_str() == "alice")
        .returning(|scope, g, _| {
            Ok(coffer_domain::Grant {
                id: g.id,
                tenant_id: scope.tenant_id(),
                file_id: g.file_id,
                subject: g.subject,
                access: g.access,
                expires_at: g.expires_at,
                created_by: g.created_by,
                created_at: g.created_at,
            })
        });
    fx.grants
        .expect_delete_grant()
        .times(1)
        .returning(|_, _, _, _| Err(meta_err(MetadataErrorKind::NotFound)));
    let app = fx.build();
    let alice = caller(&t, "alice", &[Role::Editor]);
    let grant = app
        .add_grant(&alice, f.id, to_bob(Access::Read, None))
        .await
        .unwrap();
    assert_eq!(grant.subject.to_string(), "user:bob");
    assert_err(
        app.remove_grant(&alice, f.id, GrantId::new_random()).await,
        ErrorKind::NotFound,
        "not_found",
    );
    assert_err(
        app.add_grant(
            &alice,
            f.id,
            to_bob(Access::Read, Some(now() - time::Duration::seconds(1))),
        )
        .await,
        ErrorKind::Invalid,
        "expiry_in_past",
    );
}

#[tokio::test]
async fn sharing_needs_manage() {
    let t = tenant(TenantStatus::Active);
    let mut f = file(&t, "alice", FileStatus::Available);
    f.visibility = coffer_domain::Visibility::Tenant;
    let mut fx = SharingFx::default();
    serves_file(&mut fx.files, &f);
    fx.grants.expect_put_grant().never();
    fx.audit
        .expect_append_audit()
        .withf(|_, e| e.action == "file.access_denied" && e.detail["action"] == "share")
        .returning(|_, _| Ok(()));
    let app = fx.build();
    let bob = caller(&t, "bob", &[Role::Editor]);
    assert_err(
        app.list_grants(&bob, f.id).await,
        ErrorKind::Forbidden,
        "access_denied",
    );
    assert_err(
        app.add_grant(&bob, f.id, to_bob(Access::Manage, None))
            .await,
        ErrorKind::Forbidden,
        "access_denied",
    );
}
