use coffer_domain::Role;
use coffer_ports::IdentityErrorKind;

use crate::support::{issuer, refused, slug};

const REALM: &str = "coffer";

#[tokio::test]
async fn list_shape_single_organisation() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let who = provider
        .verify_token(&iss.user_token(REALM, "bob").await, None)
        .await
        .unwrap();
    assert_eq!(who.tenant, slug("globex"));
    assert_eq!(who.roles, vec![Role::Admin]);
}

#[tokio::test]
async fn map_shape_single_organisation() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let who = provider
        .verify_token(&iss.user_token(REALM, "erin").await, None)
        .await
        .unwrap();
    assert_eq!(who.tenant, slug("initech"));
    assert_eq!(who.roles, vec![Role::Viewer]);
}

#[tokio::test]
async fn several_organisations_need_an_x_tenant_they_hold() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    for user in ["dave", "carol"] {
        let token = iss.user_token(REALM, user).await;

        refused(
            provider.verify_token(&token, None).await,
            IdentityErrorKind::TenantMissing,
            "X-Tenant",
        );
        assert_eq!(
            provider
                .verify_token(&token, Some("globex"))
                .await
                .unwrap()
                .tenant,
            slug("globex"),
            "{user}"
        );
        assert_eq!(
            provider
                .verify_token(&token, Some("acme"))
                .await
                .unwrap()
                .tenant,
            slug("acme"),
            "{user}"
        );
        refused(
            provider.verify_token(&token, Some("initech")).await,
            IdentityErrorKind::TenantNotAllowed,
            "initech",
        );
    }
}

#[tokio::test]
async fn map_shape_organisation_may_be_selected_by_its_id() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.user_token(REALM, "carol").await;
    let who = provider
        .verify_token(&token, Some("0b8e4c7a-2d3f-4a6b-8c9d-1e2f3a4b5c6d"))
        .await
        .unwrap();
    assert_eq!(who.tenant, slug("globex"));
}

#[tokio::test]
async fn x_tenant_on_a_single_tenant_token_must_match() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.user_token(REALM, "alice").await;
    assert_eq!(
        provider
            .verify_token(&token, Some("acme"))
            .await
            .unwrap()
            .tenant,
        slug("acme")
    );
    refused(
        provider.verify_token(&token, Some("globex")).await,
        IdentityErrorKind::TenantNotAllowed,
        "globex",
    );
}

#[tokio::test]
async fn a_user_without_tenant_or_platform_role_is_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss
        .mint(REALM, serde_json::json!({"claims": {"tenant": null}}))
        .await;
    refused(
        provider.verify_token(&token, None).await,
        IdentityErrorKind::TenantMissing,
        "no tenant",
    );
}
