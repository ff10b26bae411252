//! A tenant's configuration as platform administrators manage it: its
//! settings and feature flags, and where each effective value comes from.

use std::sync::Arc;

use coffer_domain::{
    EffectiveConfig, ErrorCode, FeatureFlag, FeatureKey, FlagState, Plan, SettingKey, Source,
    Tenant, TenantConfig, TenantId,
};
use coffer_ports::{Clock, TenantRegistry, TenantScope, TenantSettings};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::recorder::Recorder;
use crate::tenants::load_tenant;
use crate::{Caller, EffectiveConfigs, ErrorKind, ServiceError, TenantCaches};

/// A setting as stored (`value` is `None` when unset) and its effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingView {
    pub key: String,
    pub value: Option<Value>,
    /// The limit's effective value and its source, with the setting applied.
    pub effective: Value,
    pub source: Source,
}

/// A feature flag: its effective state (stored and unexpired, or the
/// default) and what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureView {
    pub key: String,
    pub enabled: bool,
    pub source: Source,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The stored flag, expired or not (`None` when unset).
    pub stored: Option<FeatureFlag>,
}

/// A platform administrator's flag: on or off, until `expires_at` if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetFeature {
    pub enabled: bool,
    pub expires_at: Option<OffsetDateTime>,
}

/// `GET /tenants/{id}/effective-config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveConfigView {
    pub tenant_id: TenantId,
    pub plan: Plan,
    #[serde(with = "time::serde::rfc3339")]
    pub evaluated_at: OffsetDateTime,
    #[serde(flatten)]
    pub config: EffectiveConfig,
}

fn key_error(err: &coffer_domain::ConfigKeyError) -> ServiceError {
    ServiceError::new(ErrorKind::Invalid, err.code(), err.to_string())
}

/// Who may read and change a setting: platform admins every one; a
/// tenant's own admins its records rules (`records_retention`), which are
/// the tenant's policy, not a plan's limit (docs/records.md).
fn may_set(caller: &Caller, id: TenantId, key: SettingKey) -> Result<(), ServiceError> {
    if caller.principal.is_platform_admin() {
        return Ok(());
    }
    if key == SettingKey::RecordsRetention
        && let Ok((tenant, _)) = caller.admin("records rules")
        && tenant.id == id
    {
        return Ok(());
    }
    caller.require_platform_admin()
}

fn setting_effect(eff: &EffectiveConfig, key: SettingKey) -> (Value, Source) {
    match key {
        SettingKey::MaxFileSize => (json!(eff.max_file_size.value), eff.max_file_size.source),
        SettingKey::UrlTtlSecs => (json!(eff.url_ttl_secs.value), eff.url_ttl_secs.source),
        SettingKey::RetentionDays => (json!(eff.retention_days.value), eff.retention_days.source),
        SettingKey::AllowedContentTypes => (
            json!(eff.allowed_content_types.value),
            eff.allowed_content_types.source,
        ),
        SettingKey::RecordsRetention => (
            json!(eff.records_retention.value),
            eff.records_retention.source,
        ),
    }
}

/// Tenants' settings and feature flags, for platform administrators; every
/// instance applies a change at once.
#[derive(Clone)]
pub struct Settings {
    registry: Arc<dyn TenantRegistry>,
    settings: Arc<dyn TenantSettings>,
    configs: EffectiveConfigs,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl Settings {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        settings: Arc<dyn TenantSettings>,
        configs: EffectiveConfigs,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry,
            settings,
            configs,
            caches,
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// One setting of a tenant (platform admins).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown tenant; `Invalid`
    /// (`unknown_setting`, `reserved_setting`) for a key that is not a setting.
    pub async fn tenant_setting(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
    ) -> Result<SettingView, ServiceError> {
        let key = SettingKey::parse(key).map_err(|e| key_error(&e))?;
        may_set(caller, id, key)?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let value = self
            .settings
            .get_setting(&TenantScope::new(id), key.as_str())
            .await?;
        let eff = self.configs.effective_config(&tenant).await?;
        let (effective, source) = setting_effect(&eff, key);
        Ok(SettingView {
            key: key.as_str().to_owned(),
            value,
            effective,
            source,
        })
    }

    /// Set (`Some`) or clear (`None`) a tenant setting (platform admins);
    /// every instance applies it at once.
    ///
    /// # Errors
    /// As [`Settings::tenant_setting`], plus `Invalid` (`invalid_setting`) for
    /// a value the setting does not take.
    pub async fn set_tenant_setting(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
        value: Option<Value>,
    ) -> Result<SettingView, ServiceError> {
        let key = SettingKey::parse(key).map_err(|e| key_error(&e))?;
        may_set(caller, id, key)?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let value = value
            .filter(|v| !v.is_null())
            .map(|v| key.validate(&v))
            .transpose()
            .map_err(|e| ServiceError {
                field: Some(e.field),
                ..ServiceError::invalid(ErrorCode::InvalidSetting, e.reason)
            })?;
        let journal = self.recorder.announce_tenant(
            caller,
            "tenant.setting_changed",
            json!({ "tenant": id, "key": key.as_str(), "value": value }),
        );
        let scope = TenantScope::new(id);
        self.settings
            .put_setting(&scope, key.as_str(), value.clone(), journal)
            .await?;
        self.caches.forget_tenant(&tenant);
        let eff = self.configs.effective_config(&tenant).await?;
        let (effective, source) = setting_effect(&eff, key);
        Ok(SettingView {
            key: key.as_str().to_owned(),
            value,
            effective,
            source,
        })
    }

    /// One feature flag of a tenant (platform admins).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown tenant; `Invalid`
    /// (`unknown_feature`) for a key that is not a flag.
    pub async fn tenant_feature(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
    ) -> Result<FeatureView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let key = FeatureKey::parse(key).map_err(|e| key_error(&e))?;
        let stored = self
            .settings
            .get_feature(&TenantScope::new(id), key.as_str())
            .await?;
        self.feature_view(&tenant, key, stored).await
    }

    /// Set a tenant's feature flag (platform admins), for good or until
    /// `expires_at`; every instance applies it at once.
    ///
    /// # Errors
    /// As [`Settings::tenant_feature`].
    pub async fn set_tenant_feature(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
        set: SetFeature,
    ) -> Result<FeatureView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let key = FeatureKey::parse(key).map_err(|e| key_error(&e))?;
        let flag = FeatureFlag {
            key: key.as_str().to_owned(),
            enabled: set.enabled,
            expires_at: set.expires_at,
        };
        let journal = self.recorder.announce_tenant(
            caller,
            "tenant.feature_changed",
            json!({
                "tenant": id,
                "key": key.as_str(),
                "enabled": flag.enabled,
                "expires_at": flag.expires_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
            }),
        );
        let scope = TenantScope::new(id);
        self.settings
            .put_feature(&scope, key.as_str(), Some(flag.clone()), journal)
            .await?;
        self.caches.forget_tenant(&tenant);
        self.feature_view(&tenant, key, Some(flag)).await
    }

    async fn feature_view(
        &self,
        tenant: &Tenant,
        key: FeatureKey,
        stored: Option<FeatureFlag>,
    ) -> Result<FeatureView, ServiceError> {
        let eff = self.configs.effective_config(tenant).await?;
        let state = eff
            .features
            .get(key.as_str())
            .cloned()
            .unwrap_or(FlagState {
                enabled: key.default_enabled(),
                source: Source::Default,
                expires_at: None,
            });
        Ok(FeatureView {
            key: key.as_str().to_owned(),
            enabled: state.enabled,
            source: state.source,
            expires_at: state.expires_at,
            stored,
        })
    }

    /// The tenant's effective configuration and where each value came
    /// from (platform admins).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an unknown tenant.
    pub async fn tenant_effective_config(
        &self,
        caller: &Caller,
        id: TenantId,
    ) -> Result<EffectiveConfigView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        // Read afresh: an operator asking wants what the database says now.
        let scope = TenantScope::new(id);
        let (settings, features) = futures::future::try_join(
            self.settings.list_settings(&scope),
            self.settings.list_features(&scope),
        )
        .await?;
        let config = self
            .configs
            .resolve(&tenant, &TenantConfig { settings, features });
        Ok(EffectiveConfigView {
            tenant_id: tenant.id,
            plan: tenant.plan,
            evaluated_at: self.clock.now(),
            config,
        })
    }
}
