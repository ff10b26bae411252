use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_domain::{Role, Subject};
use coffer_keycloak::dev::{DEV_AUDIENCE, DEV_ISSUER, DevIssuer, KEY_FILE};
use coffer_ports::IdentityErrorKind::{Expired, Internal, Invalid, TenantMissing};
use coffer_ports::{IdentityProvider, TenantClaim};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::support::{now, refused, slug};

fn alice() -> Subject {
    Subject::new("alice").unwrap()
}

fn acme() -> TenantClaim {
    TenantClaim::parse("acme").unwrap()
}

#[tokio::test]
async fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::open(dir.path()).unwrap();
    let token = issuer
        .mint(
            Some(&acme()),
            &alice(),
            &[Role::Editor],
            time::Duration::hours(1),
        )
        .unwrap();

    let who = issuer.verify(&token, None).await.unwrap();

    assert_eq!(who.subject, alice());
    assert_eq!(who.tenant, slug("acme"));
    assert_eq!(who.roles, vec![Role::Editor]);
    let ttl = who.expires_at - time::OffsetDateTime::now_utc();
    assert!(ttl > time::Duration::minutes(59) && ttl <= time::Duration::hours(1));
}

#[tokio::test]
async fn key_is_generated_once_with_mode_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = DevIssuer::open(&dir.path().join("nested")).unwrap();
    let mode = std::fs::metadata(first.key_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = first
        .mint(
            Some(&acme()),
            &alice(),
            &[Role::Viewer],
            time::Duration::minutes(5),
        )
        .unwrap();

    let reopened = DevIssuer::open(&dir.path().join("nested")).unwrap();
    assert!(reopened.verify_token(&token, None).await.is_ok());
}

#[tokio::test]
async fn a_group_readable_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::open(dir.path()).unwrap();
    std::fs::set_permissions(issuer.key_path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = DevIssuer::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), Internal);
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn platform_admin_without_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::open(dir.path()).unwrap();
    let root = Subject::new("root").unwrap();
    let token = issuer
        .mint(
            None,
            &root,
            &[Role::PlatformAdmin],
            time::Duration::minutes(5),
        )
        .unwrap();
    let who = issuer.verify_token(&token, None).await.unwrap();
    assert_eq!(who.tenant, None);
    assert_eq!(who.roles, vec![Role::PlatformAdmin]);

    let refused_mint = issuer.mint(None, &alice(), &[Role::Editor], time::Duration::minutes(5));
    assert!(refused_mint.is_err());
}

#[tokio::test]
async fn token_of_another_key_is_refused() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ours = DevIssuer::open(a.path()).unwrap();
    let theirs = DevIssuer::open(b.path()).unwrap();
    let token = theirs
        .mint(
            Some(&acme()),
            &alice(),
            &[Role::Admin],
            time::Duration::minutes(5),
        )
        .unwrap();
    refused(
        ours.verify_token(&token, None).await,
        Invalid,
        "unknown signing key",
    );

    // the same with the kid removed: the signature itself must fail
    let [_, payload, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"at+jwt"}"#);
    let no_kid = format!("{header}.{payload}.{signature}");
    refused(
        ours.verify_token(&no_kid, None).await,
        Invalid,
        "bad signature",
    );
}

/// Signs arbitrary claims with the dev issuer's own key file.
fn sign_with_dev_key(dir: &std::path::Path, claims: serde_json::Value) -> String {
    let pem = std::fs::read(dir.join(KEY_FILE)).unwrap();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key).unwrap()
}

#[tokio::test]
async fn expired_and_tampered_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::open(dir.path()).unwrap();
    let base = json!({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "alice", "tenant": "acme",
        "realm_access": {"roles": ["editor"]}});

    let mut claims = base.clone();
    claims["exp"] = json!(now() + 300);
    assert!(
        issuer
            .verify_token(&sign_with_dev_key(dir.path(), claims), None)
            .await
            .is_ok()
    );

    let mut expired = base.clone();
    expired["exp"] = json!(now() - 120);
    refused(
        issuer
            .verify_token(&sign_with_dev_key(dir.path(), expired), None)
            .await,
        Expired,
        "expired",
    );

    let token = issuer
        .mint(
            Some(&acme()),
            &alice(),
            &[Role::Viewer],
            time::Duration::minutes(5),
        )
        .unwrap();
    let [header, payload, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["realm_access"]["roles"] = json!(["admin"]);
    let tampered = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    refused(
        issuer.verify_token(&tampered, None).await,
        Invalid,
        "bad signature",
    );

    let mut wrong_aud = base;
    wrong_aud["exp"] = json!(now() + 300);
    wrong_aud["aud"] = json!("someone-else");
    refused(
        issuer
            .verify_token(&sign_with_dev_key(dir.path(), wrong_aud), None)
            .await,
        Invalid,
        "wrong audience",
    );
}

#[tokio::test]
async fn dev_tokens_name_a_tenant_unless_platform_admin() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::open(dir.path()).unwrap();
    let claims = json!({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "alice", "exp": now() + 300,
        "realm_access": {"roles": ["editor"]}});
    refused(
        issuer
            .verify_token(&sign_with_dev_key(dir.path(), claims), None)
            .await,
        TenantMissing,
        "no tenant",
    );
}
