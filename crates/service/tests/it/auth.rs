use coffer_domain::{Role, Subject, TenantStatus, UserId};
use coffer_ports::{
    IdentityError, IdentityErrorKind, MetadataErrorKind, TenantClaim, VerifiedIdentity,
};
use coffer_service::{ErrorKind, RequestMeta};

use crate::support::*;

fn identity(tenant: Option<TenantClaim>, roles: Vec<Role>) -> VerifiedIdentity {
    VerifiedIdentity {
        subject: Subject::new("alice").unwrap(),
        tenant,
        roles,
        client_id: None,
        expires_at: now() + time::Duration::hours(1),
    }
}

#[tokio::test]
async fn resolves_tenant_and_provisions_the_user_once() {
    let t = tenant(TenantStatus::Active);
    let mut fx = AuthFx::default();
    let claim = TenantClaim::Slug(t.slug.clone());
    fx.identity.expect_verify().returning(move |_, _| {
        Ok(identity(
            Some(claim.clone()),
            vec![Role::Editor, Role::Editor],
        ))
    });
    let found = t.clone();
    fx.registry
        .expect_find_tenant_by_slug()
        .times(1)
        .returning(move |_| Ok(found.clone()));
    let user = UserId::new_random();
    fx.members
        .expect_upsert_user()
        .times(1)
        .withf(|_, sub, roles| sub.as_str() == "alice" && roles == [Role::Editor])
        .returning(move |_, _, _| Ok(user));
    let app = fx.build();
    for _ in 0..2 {
        let caller = app
            .authenticate("token", None, RequestMeta::default())
            .await
            .unwrap();
        assert_eq!(caller.principal.tenant, Some(t.id));
        assert_eq!(caller.principal.user_id, Some(user));
        assert_eq!(caller.principal.roles, vec![Role::Editor]);
    }
}

#[tokio::test]
async fn refused_tokens_are_unauthenticated() {
    for (kind, code) in [
        (IdentityErrorKind::Invalid, "invalid_token"),
        (IdentityErrorKind::Expired, "token_expired"),
        (IdentityErrorKind::TenantNotAllowed, "tenant_not_allowed"),
    ] {
        let mut fx = AuthFx::default();
        fx.identity
            .expect_verify()
            .returning(move |_, _| Err(IdentityError::new(kind, "no")));
        let result = fx
            .build()
            .authenticate("t", None, RequestMeta::default())
            .await;
        assert_err(result, ErrorKind::Unauthenticated, code);
    }
}

#[tokio::test]
async fn provider_down_is_unavailable() {
    let mut fx = AuthFx::default();
    fx.identity.expect_verify().returning(|_, _| {
        Err(IdentityError::new(
            IdentityErrorKind::Unavailable,
            "jwks down",
        ))
    });
    let result = fx
        .build()
        .authenticate("t", None, RequestMeta::default())
        .await;
    assert_err(result, ErrorKind::Unavailable, "identity_unavailable");
}

#[tokio::test]
async fn unknown_tenant_is_unauthenticated() {
    let mut fx = AuthFx::default();
    fx.identity
        .expect_verify()
        .returning(|_, _| Ok(identity(TenantClaim::parse("ghost"), vec![Role::Admin])));
    fx.registry
        .expect_find_tenant_by_slug()
        .returning(|_| Err(meta_err(MetadataErrorKind::NotFound)));
    let result = fx
        .build()
        .authenticate("t", None, RequestMeta::default())
        .await;
    assert_err(result, ErrorKind::Unauthenticated, "unknown_tenant");
}

#[tokio::test]
async fn platform_admin_needs_no_tenant_but_others_do() {
    let mut fx = AuthFx::default();
    fx.identity
        .expect_verify()
        .returning(|_, _| Ok(identity(None, vec![Role::PlatformAdmin])));
    let caller = fx
        .build()
        .authenticate("t", None, RequestMeta::default())
        .await
        .unwrap();
    assert!(caller.tenant.is_none());
    assert!(caller.require_platform_admin().is_ok());
    assert_err(
        caller.member().map(|_| ()),
        ErrorKind::Forbidden,
        "no_tenant",
    );

    let mut fx = AuthFx::default();
    fx.identity
        .expect_verify()
        .returning(|_, _| Ok(identity(None, vec![Role::Editor])));
    let result = fx
        .build()
        .authenticate("t", None, RequestMeta::default())
        .await;
    assert_err(result, ErrorKind::Unauthenticated, "tenant_missing");
}

#[tokio::test]
async fn suspended_and_cancelled_tenants_are_refused_by_status() {
    for (status, kind, code) in [
        (
            TenantStatus::Suspended,
            ErrorKind::TenantSuspended,
            "tenant_suspended",
        ),
        (
            TenantStatus::Cancelled,
            ErrorKind::TenantCancelled,
            "tenant_cancelled",
        ),
        (
            TenantStatus::Provisioning,
            ErrorKind::Conflict,
            "tenant_not_ready",
        ),
    ] {
        let t = tenant(status);
        let mut fx = AuthFx::default();
        let id = t.id;
        fx.identity
            .expect_verify()
            .returning(move |_, _| Ok(identity(Some(TenantClaim::Id(id)), vec![Role::Admin])));
        let found = t.clone();
        fx.registry
            .expect_get_tenant()
            .returning(move |_| Ok(found.clone()));
        // No user is provisioned for a tenant that cannot be used.
        fx.members.expect_upsert_user().never();
        let caller = fx
            .build()
            .authenticate("t", None, RequestMeta::default())
            .await
            .unwrap();
        assert_err(caller.member().map(|_| ()), kind, code);
    }
}
