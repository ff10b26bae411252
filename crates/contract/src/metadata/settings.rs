//! [`coffer_ports::TenantSettings`]: a tenant's settings and feature flags,
//! each change journalled, and one setting read across tenants.

use coffer_domain::FeatureFlag;
use coffer_ports::MetadataPorts;
use serde_json::json;

use super::fixtures::{at, audited, change, events, scope, tenant};

/// The cases of [`coffer_ports::TenantSettings`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! tenant_settings_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; settings;
            settings_are_set_read_and_cleared,
            settings_are_listed_per_tenant_in_key_order,
            features_are_set_read_listed_and_cleared,
            webhooks_are_listed_across_tenants,
        );
    };
}

pub async fn settings_are_set_read_and_cleared(ports: MetadataPorts) {
    let settings = &ports.settings;
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let s = scope(&t);
    assert_eq!(settings.get_setting(&s, "webhook").await.unwrap(), None);
    for (secs, value) in [(1, json!({"url": "a"})), (2, json!({"url": "b"}))] {
        settings
            .put_setting(
                &s,
                "webhook",
                Some(value),
                change("setting.set", None, secs, false),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        settings.get_setting(&s, "webhook").await.unwrap(),
        Some(json!({"url": "b"}))
    );
    assert_eq!(
        settings
            .get_setting(&scope(&other), "webhook")
            .await
            .unwrap(),
        None
    );
    settings
        .put_setting(&s, "webhook", None, change("setting.set", None, 3, false))
        .await
        .unwrap();
    assert_eq!(settings.get_setting(&s, "webhook").await.unwrap(), None);
    assert_eq!(audited(&ports, &t, "setting.set").await, 3);
    assert!(
        events(&ports, &t).await.is_empty(),
        "unannounced changes make no event"
    );
}

pub async fn settings_are_listed_per_tenant_in_key_order(ports: MetadataPorts) {
    let settings = &ports.settings;
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let s = scope(&t);
    assert!(settings.list_settings(&s).await.unwrap().is_empty());
    for (secs, key, value) in [
        (1, "url_ttl_secs", json!(60)),
        (2, "allowed_content_types", json!(["image/*"])),
        (3, "url_ttl_secs", json!(90)),
    ] {
        settings
            .put_setting(
                &s,
                key,
                Some(value),
                change("setting.set", None, secs, false),
            )
            .await
            .unwrap();
    }
    settings
        .put_setting(
            &scope(&other),
            "max_file_size",
            Some(json!(7)),
            change("setting.set", None, 4, false),
        )
        .await
        .unwrap();
    assert_eq!(
        settings.list_settings(&s).await.unwrap(),
        vec![
            ("allowed_content_types".to_owned(), json!(["image/*"])),
            ("url_ttl_secs".to_owned(), json!(90)),
        ]
    );
    settings
        .put_setting(
            &s,
            "url_ttl_secs",
            None,
            change("setting.set", None, 5, false),
        )
        .await
        .unwrap();
    assert_eq!(settings.list_settings(&s).await.unwrap().len(), 1);
    assert_eq!(
        settings.list_settings(&scope(&other)).await.unwrap(),
        vec![("max_file_size".to_owned(), json!(7))]
    );
}

pub async fn features_are_set_read_listed_and_cleared(ports: MetadataPorts) {
    let settings = &ports.settings;
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let s = scope(&t);
    let flag = |key: &str, enabled: bool, expires: Option<i64>| FeatureFlag {
        key: key.to_owned(),
        enabled,
        expires_at: expires.map(at),
    };
    assert_eq!(
        settings.get_feature(&s, "streamed_uploads").await.unwrap(),
        None
    );
    assert!(settings.list_features(&s).await.unwrap().is_empty());
    settings
        .put_feature(
            &s,
            "streamed_uploads",
            Some(flag("streamed_uploads", false, Some(100))),
            change("feature.set", None, 1, false),
        )
        .await
        .unwrap();
    // Replaced, expiry cleared; an expired flag is still stored and listed.
    settings
        .put_feature(
            &s,
            "streamed_uploads",
            Some(flag("streamed_uploads", true, None)),
            change("feature.set", None, 2, false),
        )
        .await
        .unwrap();
    settings
        .put_feature(
            &s,
            "content_streaming",
            Some(flag("content_streaming", false, Some(-5))),
            change("feature.set", None, 3, false),
        )
        .await
        .unwrap();
    assert_eq!(
        settings.get_feature(&s, "streamed_uploads").await.unwrap(),
        Some(flag("streamed_uploads", true, None))
    );
    assert_eq!(
        settings.list_features(&s).await.unwrap(),
        vec![
            flag("content_streaming", false, Some(-5)),
            flag("streamed_uploads", true, None),
        ]
    );
    assert!(
        settings
            .list_features(&scope(&other))
            .await
            .unwrap()
            .is_empty(),
        "another tenant's flags are not listed"
    );
    assert_eq!(
        settings
            .get_feature(&scope(&other), "streamed_uploads")
            .await
            .unwrap(),
        None
    );
    settings
        .put_feature(
            &s,
            "streamed_uploads",
            None,
            change("feature.set", None, 4, false),
        )
        .await
        .unwrap();
    assert_eq!(
        settings.get_feature(&s, "streamed_uploads").await.unwrap(),
        None
    );
    assert_eq!(settings.list_features(&s).await.unwrap().len(), 1);
    assert_eq!(
        audited(&ports, &t, "feature.set").await,
        4,
        "every change is journalled in its transaction"
    );
}

pub async fn webhooks_are_listed_across_tenants(ports: MetadataPorts) {
    let settings = &ports.settings;
    let a = tenant(&ports, "acme").await;
    let b = tenant(&ports, "bravo").await;
    let quiet = tenant(&ports, "quiet").await;
    for (t, url) in [(&a, "https://a.example/"), (&b, "https://b.example/")] {
        settings
            .put_setting(
                &scope(t),
                "webhook",
                Some(json!({ "url": url })),
                change("webhook.set", None, 1, false),
            )
            .await
            .unwrap();
    }
    // Another setting does not make a tenant appear.
    settings
        .put_setting(
            &scope(&quiet),
            "url_ttl_secs",
            Some(json!(60)),
            change("setting.set", None, 2, false),
        )
        .await
        .unwrap();
    let mut found: Vec<(String, serde_json::Value)> = settings
        .setting_across_tenants("webhook")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, slug, value)| {
            assert!(id == a.id || id == b.id);
            (slug.to_string(), value)
        })
        .collect();
    found.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        found,
        vec![
            ("acme".to_owned(), json!({ "url": "https://a.example/" })),
            ("bravo".to_owned(), json!({ "url": "https://b.example/" })),
        ]
    );
    settings
        .put_setting(
            &scope(&a),
            "webhook",
            None,
            change("webhook.removed", None, 3, false),
        )
        .await
        .unwrap();
    let left = settings.setting_across_tenants("webhook").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, b.id);
}
