use coffer_ports::IdentityErrorKind::Invalid;
use serde_json::json;

use crate::support::{fresh_realm, issuer, refused};

#[tokio::test]
async fn rotated_keys_verify_without_restart() {
    let iss = issuer();
    let realm = fresh_realm("rotate");
    let mut config = iss.config(&realm);
    config.jwks_refetch_interval_secs = 0;
    let provider = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();
    let old = iss.user_token(&realm, "alice").await;
    assert!(provider.verify_token(&old, None).await.is_ok());

    let kid = iss.rotate(&realm).await;
    let new = iss.user_token(&realm, "alice").await;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            new.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["kid"],
        json!(kid),
        "the issuer signs with the new key"
    );

    let who = provider.verify_token(&new, None).await.unwrap();
    assert_eq!(who.subject.as_str(), "alice");
    // the previous key is still published, so earlier tokens stay valid
    assert!(provider.verify_token(&old, None).await.is_ok());
}

#[tokio::test]
async fn a_burst_of_unknown_kids_costs_one_jwks_fetch() {
    let iss = issuer();
    let realm = fresh_realm("burst");
    let mut config = iss.config(&realm);
    config.jwks_refetch_interval_secs = 60;
    let provider = std::sync::Arc::new(
        coffer_keycloak::KeycloakProvider::connect(config)
            .await
            .unwrap(),
    );
    let before = iss.jwks_fetches(&realm).await;

    let mut tokens = Vec::new();
    for i in 0..40 {
        tokens.push(
            iss.mint(&realm, json!({"header": {"kid": format!("bogus-{i}")}}))
                .await,
        );
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.verify_token(&t, None).await })
        })
        .collect();
    for task in tasks {
        refused(task.await.unwrap(), Invalid, "unknown signing key");
    }
    assert_eq!(
        iss.jwks_fetches(&realm).await - before,
        1,
        "one refetch, then rate-limited"
    );

    // a genuine rotation inside the interval waits for the interval to pass
    iss.rotate(&realm).await;
    let new = iss.user_token(&realm, "alice").await;
    refused(
        provider.verify_token(&new, None).await,
        Invalid,
        "rate-limited",
    );
    assert_eq!(iss.jwks_fetches(&realm).await - before, 1);
}

#[tokio::test]
async fn a_withdrawn_key_stops_being_trusted_once_the_key_set_is_stale() {
    let iss = issuer();
    let realm = fresh_realm("retire");
    let mut config = iss.config(&realm);
    config.jwks_refetch_interval_secs = 0;
    config.jwks_max_age_secs = 0;
    let provider = coffer_keycloak::KeycloakProvider::connect(config)
        .await
        .unwrap();
    let signed_with_old_key = iss.user_token(&realm, "alice").await;

    iss.rotate_with(&realm, json!({"retire": true})).await;

    refused(
        provider.verify_token(&signed_with_old_key, None).await,
        Invalid,
        "unknown signing key",
    );
    let new = iss.user_token(&realm, "alice").await;
    assert!(provider.verify_token(&new, None).await.is_ok());
}

#[tokio::test]
async fn concurrent_tokens_with_a_new_key_share_one_refetch_and_all_verify() {
    let iss = issuer();
    let realm = fresh_realm("herd");
    let mut config = iss.config(&realm);
    config.jwks_refetch_interval_secs = 60;
    let provider = std::sync::Arc::new(
        coffer_keycloak::KeycloakProvider::connect(config)
            .await
            .unwrap(),
    );
    iss.rotate(&realm).await;
    let before = iss.jwks_fetches(&realm).await;

    let mut tokens = Vec::new();
    for _ in 0..10 {
        tokens.push(iss.user_token(&realm, "alice").await);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.verify_token(&token, None).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(iss.jwks_fetches(&realm).await - before, 1);
}
