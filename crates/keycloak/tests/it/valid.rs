use coffer_domain::Role;
use coffer_ports::{IdentityProvider, TenantClaim};

use crate::support::{issuer, slug};

const REALM: &str = "coffer";

#[tokio::test]
async fn user_token_maps_to_subject_tenant_and_roles() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.user_token(REALM, "alice").await;

    let who = provider.verify(&token, None).await.unwrap();

    assert_eq!(who.subject.as_str(), "alice");
    assert_eq!(who.tenant, slug("acme"));
    // realm role `editor`; `offline_access` and other-app's `admin` are ignored
    assert_eq!(who.roles, vec![Role::Editor]);
    assert_eq!(who.client_id.as_deref(), Some("coffer-cli"));
    assert!(who.expires_at > time::OffsetDateTime::now_utc());
}

#[tokio::test]
async fn service_client_token_maps_to_its_principal() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.service_token(REALM).await;

    let who = provider.verify(&token, None).await.unwrap();

    assert_eq!(who.subject.as_str(), iss.service_client_id());
    assert_eq!(who.client_id.as_deref(), Some(iss.service_client_id()));
    assert_eq!(who.tenant, slug("acme"));
    // a client role of `coffer` (resource_access.coffer.roles)
    assert_eq!(who.roles, vec![Role::Editor]);
}

#[tokio::test]
async fn tenant_by_uuid_and_platform_admin_without_tenant() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;

    let frank = provider
        .verify(&iss.user_token(REALM, "frank").await, None)
        .await
        .unwrap();
    assert!(matches!(frank.tenant, Some(TenantClaim::Id(_))));
    assert_eq!(frank.roles, vec![Role::Admin]);

    let root = provider
        .verify(&iss.user_token(REALM, "root").await, None)
        .await
        .unwrap();
    assert_eq!(root.tenant, None);
    assert_eq!(root.roles, vec![Role::PlatformAdmin]);
}

#[tokio::test]
async fn configured_role_names_and_client() {
    let iss = issuer();
    let mut config = iss.config(REALM);
    // alice's `admin` is a role of client `other-app`: count that client's roles
    config.client_id = "other-app".into();
    config.roles.editor = "no-such-role".into();
    let provider = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();

    let who = provider
        .verify(&iss.user_token(REALM, "alice").await, None)
        .await
        .unwrap();

    assert_eq!(who.roles, vec![Role::Admin]);
}

#[tokio::test]
async fn the_same_token_serves_each_request_its_own_x_tenant() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.user_token(REALM, "dave").await;

    let first = provider.verify_token(&token, Some("acme")).await.unwrap();
    let second = provider.verify_token(&token, Some("globex")).await.unwrap();

    assert_eq!(first.tenant, slug("acme"));
    assert_eq!(second.tenant, slug("globex"));
    assert_eq!(first.subject, second.subject);
}

#[tokio::test]
async fn discovery_of_an_unknown_issuer_is_unavailable() {
    let err = coffer_keycloak::KeycloakProvider::connect(coffer_keycloak::KeycloakConfig::new(
        "http://127.0.0.1:9/realms/nowhere",
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.kind(),
        coffer_ports::IdentityErrorKind::Unavailable,
        "{err}"
    );
}
