use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_ports::IdentityErrorKind::{Expired, Invalid};
use coffer_ports::IdentityProvider;
use serde_json::{Value, json};

use crate::support::{fresh_realm, issuer, now, refused};

const REALM: &str = "coffer";

#[tokio::test]
async fn expired_and_not_yet_valid() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;

    let expired = iss
        .mint(REALM, json!({"claims": {"exp": now() - 120}}))
        .await;
    refused(
        provider.verify_token(&expired, None).await,
        Expired,
        "expired",
    );
    // through the port, the same kind reaches the caller
    let err = provider.verify(&expired, None).await.unwrap_err();
    assert_eq!(err.kind(), Expired);

    let early = iss
        .mint(REALM, json!({"claims": {"nbf": now() + 120}}))
        .await;
    refused(
        provider.verify_token(&early, None).await,
        Expired,
        "not yet valid",
    );
}

#[tokio::test]
async fn leeway_is_configurable() {
    let iss = issuer();
    let just_expired = iss
        .mint(REALM, json!({"claims": {"exp": now() - 10}}))
        .await;

    // default leeway of 30 s tolerates 10 s of clock skew
    let lenient = iss.provider(REALM).await;
    assert!(lenient.verify_token(&just_expired, None).await.is_ok());

    let mut config = iss.config(REALM);
    config.leeway_secs = 0;
    let strict = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();
    refused(
        strict.verify_token(&just_expired, None).await,
        Expired,
        "expired",
    );
}

#[tokio::test]
async fn wrong_issuer_and_foreign_issuer() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;

    // signed by the right key, but naming another issuer
    let wrong = iss
        .mint(
            REALM,
            json!({"claims": {"iss": "https://evil.example/realms/coffer"}}),
        )
        .await;
    refused(
        provider.verify_token(&wrong, None).await,
        Invalid,
        "wrong issuer",
    );

    // a genuine token of another realm (other issuer, other keys)
    let foreign_realm = fresh_realm("foreign");
    let foreign = iss.user_token(&foreign_realm, "alice").await;
    refused(
        provider.verify_token(&foreign, None).await,
        Invalid,
        "wrong issuer",
    );
    // and the foreign issuer's key signing a token that claims our issuer
    let forged = iss
        .mint(&foreign_realm, json!({"claims": {"iss": iss.url(REALM)}}))
        .await;
    refused(
        provider.verify_token(&forged, None).await,
        Invalid,
        "unknown signing key",
    );
}

#[tokio::test]
async fn wrong_audience_and_azp_mode() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let keycloak_default = iss
        .mint(
            REALM,
            json!({"claims": {"aud": ["account", "other"], "azp": "coffer"}}),
        )
        .await;
    refused(
        provider.verify_token(&keycloak_default, None).await,
        Invalid,
        "wrong audience",
    );

    let mut config = iss.config(REALM);
    config.use_azp = true;
    let azp_provider = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();
    assert!(
        azp_provider
            .verify_token(&keycloak_default, None)
            .await
            .is_ok()
    );

    let elsewhere = iss
        .mint(REALM, json!({"claims": {"aud": "account", "azp": "other"}}))
        .await;
    refused(
        azp_provider.verify_token(&elsewhere, None).await,
        Invalid,
        "wrong audience",
    );
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;

    let none = iss.mint(REALM, json!({"sign": "none"})).await;
    refused(
        provider.verify_token(&none, None).await,
        Invalid,
        "unknown variant `none`",
    );
    // the same with a signature part present
    let none_signed = format!("{none}c2lnbmF0dXJl");
    refused(
        provider.verify_token(&none_signed, None).await,
        Invalid,
        "unknown variant `none`",
    );

    let confused = iss.mint(REALM, json!({"sign": "hs256-public-key"})).await;
    refused(
        provider.verify_token(&confused, None).await,
        Invalid,
        "`HS256` is not allowed",
    );
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let token = iss.user_token(REALM, "alice").await;
    let [header, payload, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["realm_access"]["roles"] = json!(["admin"]);
    let tampered = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );

    // the genuine token is accepted first, so a cache could not hide the tampering
    assert!(provider.verify_token(&token, None).await.is_ok());
    refused(
        provider.verify_token(&tampered, None).await,
        Invalid,
        "bad signature",
    );
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refetch() {
    let iss = issuer();
    let realm = fresh_realm("kid");
    let mut config = iss.config(&realm);
    config.jwks_refetch_interval_secs = 0;
    let provider = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();
    let before = iss.jwks_fetches(&realm).await;

    let token = iss
        .mint(&realm, json!({"header": {"kid": "no-such-key"}}))
        .await;
    refused(
        provider.verify_token(&token, None).await,
        Invalid,
        "even after a refetch",
    );

    assert_eq!(iss.jwks_fetches(&realm).await - before, 1);
}

#[tokio::test]
async fn id_and_refresh_tokens_are_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    for typ in ["ID", "Refresh"] {
        let token = iss.mint(REALM, json!({"claims": {"typ": typ}})).await;
        refused(
            provider.verify_token(&token, None).await,
            Invalid,
            "wrong token type",
        );
    }
    let logout = iss
        .mint(REALM, json!({"header": {"typ": "logout+jwt"}}))
        .await;
    refused(
        provider.verify_token(&logout, None).await,
        Invalid,
        "wrong token type",
    );
}

#[tokio::test]
async fn a_key_of_another_type_than_the_algorithm_is_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    // header says ES256 but names the realm's RSA key
    let token = iss.mint(REALM, json!({"header": {"alg": "ES256"}})).await;
    refused(
        provider.verify_token(&token, None).await,
        Invalid,
        "cannot verify",
    );
}

#[tokio::test]
async fn malformed_strings_are_refused() {
    let iss = issuer();
    let provider = iss.provider(REALM).await;
    let huge = "a".repeat(20_000);
    for token in [
        "",
        "not a token",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9..sig",
        "%%%.%%%.%%%",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        huge.as_str(),
    ] {
        refused(
            provider.verify_token(token, None).await,
            Invalid,
            "malformed",
        );
    }
}
