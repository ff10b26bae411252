//! Settings, feature flags and the effective configuration over mocks: what
//! they change in the upload and download paths, their validation, and the
//! cache that drops a tenant when it changes (here or elsewhere).

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{FeatureFlag, FileStatus, LimitOverrides, Role, Source, TenantStatus};
use coffer_ports::{MetadataErrorKind, MockTenantSettings, TenantChange};
use coffer_service::{ErrorKind, InitiateUpload, NewFileFields, ServiceConfig, SetFeature};
use serde_json::json;

use crate::support::*;

fn pdf(size: u64, multipart: bool) -> InitiateUpload {
    InitiateUpload {
        file: NewFileFields {
            filename: coffer_domain::Filename::new("a.pdf").unwrap(),
            content_type: None,
            category: None,
            path: None,
            visibility: None,
            metadata: None,
            checksum_sha256: None,
        },
        size,
        multipart,
    }
}

fn flag(key: &str, enabled: bool, expires_in_secs: Option<i64>) -> FeatureFlag {
    FeatureFlag {
        key: key.to_owned(),
        enabled,
        expires_at: expires_in_secs.map(|s| now() + time::Duration::seconds(s)),
    }
}

#[tokio::test]
async fn a_setting_overrides_the_plan_and_the_override_at_initiate() {
    // Override raises the plan's limit; the setting lowers it again.
    let t = limited(LimitOverrides {
        max_file_size: Some(1000),
        ..LimitOverrides::default()
    });
    let mut fx = FilesFx::default();
    fx.settings
        .expect_list_settings()
        .returning(|_| Ok(vec![("max_file_size".into(), json!(10))]));
    fx.files.expect_reserve_upload().never();
    let result = fx
        .build()
        .initiate_upload(&caller(&t, "alice", &[Role::Editor]), pdf(11, false))
        .await;
    assert_err(result, ErrorKind::PayloadTooLarge, "file_too_large");
}

#[tokio::test]
async fn the_download_url_lives_as_long_as_the_setting_says() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    audit_ok(&mut fx.audit);
    fx.settings
        .expect_list_settings()
        .returning(|_| Ok(vec![("url_ttl_secs".into(), json!(42))]));
    fx.store
        .expect_presign_get()
        .times(1)
        .withf(|r| r.expires_in == Duration::from_secs(42))
        .returning(|_| Ok(presigned("GET")));
    fx.build()
        .download_url(&caller(&t, "alice", &[Role::Viewer]), f.id, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_flag_closes_its_path_until_it_expires() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let viewer = caller(&t, "alice", &[Role::Viewer]);

    let mut fx = FilesFx::default();
    fx.settings
        .expect_list_features()
        .returning(|_| Ok(vec![flag("content_streaming", false, Some(60))]));
    fx.files.expect_get_file().never();
    assert_err(
        fx.build().open_content(&viewer, f.id, None, None).await,
        ErrorKind::Forbidden,
        "feature_disabled",
    );

    // The same flag, expired: the path is open again (and goes on to the file).
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    fx.settings
        .expect_list_features()
        .returning(|_| Ok(vec![flag("content_streaming", false, Some(-1))]));
    fx.files
        .expect_get_file()
        .times(1)
        .returning(|_, _| Err(meta_err(MetadataErrorKind::NotFound)));
    assert_err(
        fx.build().open_content(&viewer, f.id, None, None).await,
        ErrorKind::NotFound,
        "not_found",
    );

    let mut fx = FilesFx::default();
    fx.settings
        .expect_list_features()
        .returning(|_| Ok(vec![flag("multipart_uploads", false, None)]));
    fx.files.expect_reserve_upload().never();
    assert_err(
        fx.build()
            .initiate_upload(&caller(&t, "bob", &[Role::Editor]), pdf(64 << 20, true))
            .await,
        ErrorKind::Forbidden,
        "feature_disabled",
    );
}

#[tokio::test]
async fn settings_keys_and_values_are_validated() {
    let t = tenant(TenantStatus::Active);
    let id = t.id;
    let mut fx = SettingsFx::default();
    let served = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(served.clone()));
    fx.settings.expect_put_setting().never();
    let settings = fx.build();
    let admin = platform_admin();
    for (key, value, code) in [
        ("max_files", json!(1), "unknown_setting"),
        ("webhook", json!({}), "reserved_setting"),
        ("url_ttl_secs", json!(0), "invalid_setting"),
        ("allowed_content_types", json!("image/*"), "invalid_setting"),
    ] {
        let result = settings
            .set_tenant_setting(&admin, id, key, Some(value))
            .await;
        assert_err(result, ErrorKind::Invalid, code);
    }
    assert_err(
        settings
            .set_tenant_feature(
                &admin,
                id,
                "teleport",
                SetFeature {
                    enabled: true,
                    expires_at: None,
                },
            )
            .await,
        ErrorKind::Invalid,
        "unknown_feature",
    );
    let editor = caller(&t, "alice", &[Role::Admin]);
    assert_err(
        settings.tenant_effective_config(&editor, id).await,
        ErrorKind::Forbidden,
        "platform_admin_required",
    );
}

#[tokio::test]
async fn unknown_tenants_are_not_found() {
    let mut fx = SettingsFx::default();
    fx.registry
        .expect_get_tenant()
        .returning(|_| Err(meta_err(MetadataErrorKind::NotFound)));
    let settings = fx.build();
    let id = coffer_domain::TenantId::new_random();
    assert_err(
        settings
            .tenant_setting(&platform_admin(), id, "url_ttl_secs")
            .await,
        ErrorKind::NotFound,
        "not_found",
    );
    assert_err(
        settings
            .tenant_effective_config(&platform_admin(), id)
            .await,
        ErrorKind::NotFound,
        "not_found",
    );
}

#[tokio::test]
async fn a_setting_is_stored_normalised_journalled_and_applied_at_once() {
    let t = tenant(TenantStatus::Active);
    let id = t.id;
    let mut fx = SettingsFx::default();
    let served = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(served.clone()));
    fx.settings
        .expect_put_setting()
        .times(1)
        .withf(move |scope, key, value, journal| {
            scope.tenant_id() == id
                && key == "allowed_content_types"
                && value.as_ref() == Some(&json!(["image/*"]))
                && journal.audit.action == "tenant.setting_changed"
                && journal.event.is_some()
        })
        .returning(|_, _, _, _| Ok(()));
    // Read once before the change (cached), once after it (the cache dropped).
    let mut seq = mockall::Sequence::new();
    fx.settings
        .expect_list_settings()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    fx.settings
        .expect_list_settings()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![("allowed_content_types".into(), json!(["image/*"]))]));
    let (settings, configs) = fx.build_with();
    let before = configs.effective_config(&t).await.unwrap();
    assert_eq!(before.allowed_content_types.source, Source::Plan);
    let view = settings
        .set_tenant_setting(
            &platform_admin(),
            id,
            "allowed_content_types",
            Some(json!([" IMAGE/* "])),
        )
        .await
        .unwrap();
    assert_eq!(view.value, Some(json!(["image/*"])));
    assert_eq!(view.source, Source::Setting);
    assert_eq!(view.effective, json!(["image/*"]));
}

#[tokio::test]
async fn a_change_elsewhere_drops_the_cached_configuration() {
    let t = tenant(TenantStatus::Active);
    let mut settings = MockTenantSettings::new();
    let mut seq = mockall::Sequence::new();
    settings
        .expect_list_features()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    settings
        .expect_list_features()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![flag("streamed_uploads", false, None)]));
    settings
        .expect_list_features()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![]));
    let config = Arc::new(ServiceConfig {
        tenant_cache_ttl: Duration::from_secs(3600),
        ..Config::default().0
    });
    let caches = caches(&config);
    let configs = configs(&unset(settings), &caches, &config);
    let streamed = async || {
        let eff = configs.effective_config(&t).await.unwrap();
        eff.enabled(coffer_domain::FeatureKey::StreamedUploads)
    };
    assert!(streamed().await);
    // Cached: a second read asks nothing.
    assert!(streamed().await);
    // Another tenant's change leaves it cached.
    caches
        .follow_changes(Arc::new(Feed(vec![TenantChange::Tenant(
            coffer_domain::TenantId::new_random(),
        )])))
        .await;
    assert!(streamed().await);
    caches
        .follow_changes(Arc::new(Feed(vec![TenantChange::Tenant(t.id)])))
        .await;
    assert!(!streamed().await);
    caches
        .follow_changes(Arc::new(Feed(vec![TenantChange::All])))
        .await;
    assert!(streamed().await);
}
