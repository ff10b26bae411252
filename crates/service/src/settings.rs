//! A tenant's configuration: its settings and feature flags (platform
//! administrators), the one place its effective configuration is resolved
//! (every upload, download and retention path asks here), and the cache
//! invalidation that follows changes made by other instances.

use std::sync::Arc;

use coffer_domain::{
    EffectiveConfig, ErrorCode, FeatureFlag, FeatureKey, FlagState, Plan, SettingKey, Source,
    Tenant, TenantConfig, TenantId,
};
use coffer_ports::{TenantChange, TenantChanges, TenantScope};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{Caller, Coffer, ErrorKind, ServiceError};

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

fn setting_effect(eff: &EffectiveConfig, key: SettingKey) -> (Value, Source) {
    match key {
        SettingKey::MaxFileSize => (json!(eff.max_file_size.value), eff.max_file_size.source),
        SettingKey::UrlTtlSecs => (json!(eff.url_ttl_secs.value), eff.url_ttl_secs.source),
        SettingKey::RetentionDays => (json!(eff.retention_days.value), eff.retention_days.source),
        SettingKey::AllowedContentTypes => (
            json!(eff.allowed_content_types.value),
            eff.allowed_content_types.source,
        ),
    }
}

impl Coffer {
    /// The tenant's effective configuration at this moment: plan defaults,
    /// overrides, settings, and the feature flags that have not expired.
    /// The stored part is cached (dropped at once on any change); flag
    /// expiry is evaluated on every call.
    ///
    /// # Errors
    /// `Unavailable` when the settings cannot be read.
    pub async fn effective_config(&self, tenant: &Tenant) -> Result<EffectiveConfig, ServiceError> {
        let stored = self.stored_config(tenant.id).await?;
        Ok(self.resolve_config(tenant, &stored))
    }

    fn resolve_config(&self, tenant: &Tenant, stored: &TenantConfig) -> EffectiveConfig {
        EffectiveConfig::resolve(
            self.config.plans.for_plan(tenant.plan),
            &tenant.limit_overrides,
            stored,
            self.clock.now(),
        )
    }

    pub(crate) async fn stored_config(
        &self,
        tenant: TenantId,
    ) -> Result<Arc<TenantConfig>, ServiceError> {
        if let Some(config) = self.caches.configs.get(&tenant) {
            return Ok(config);
        }
        let scope = TenantScope::new(tenant);
        let (settings, features) = futures::future::try_join(
            self.settings.list_settings(&scope),
            self.settings.list_features(&scope),
        )
        .await?;
        let config = Arc::new(TenantConfig { settings, features });
        self.caches.configs.insert(tenant, config.clone());
        Ok(config)
    }

    /// `Forbidden` (`feature_disabled`) unless the flag is on.
    pub(crate) fn require_feature(
        eff: &EffectiveConfig,
        key: FeatureKey,
    ) -> Result<(), ServiceError> {
        if eff.enabled(key) {
            Ok(())
        } else {
            Err(ServiceError::forbidden(
                ErrorCode::FeatureDisabled,
                format!("{key} is disabled for this tenant"),
            ))
        }
    }

    /// Follow the tenant changes of every instance, dropping cached tenants
    /// as they change. Runs until the feed ends (never, for a live one);
    /// `coffer serve` spawns it beside the other jobs.
    pub async fn follow_tenant_changes(&self, changes: Arc<dyn TenantChanges>) {
        let mut feed = changes.subscribe();
        while let Some(change) = feed.next().await {
            match change {
                TenantChange::Tenant(id) => self.caches.forget_tenant_id(id),
                TenantChange::All => self.caches.forget_all_tenants(),
            }
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
        caller.require_platform_admin()?;
        let tenant = self.load_tenant(id).await?;
        let key = SettingKey::parse(key).map_err(|e| key_error(&e))?;
        let value = self
            .settings
            .get_setting(&TenantScope::new(id), key.as_str())
            .await?;
        let eff = self.effective_config(&tenant).await?;
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
    /// As [`Coffer::tenant_setting`], plus `Invalid` (`invalid_setting`) for
    /// a value the setting does not take.
    pub async fn set_tenant_setting(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
        value: Option<Value>,
    ) -> Result<SettingView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = self.load_tenant(id).await?;
        let key = SettingKey::parse(key).map_err(|e| key_error(&e))?;
        let value = value
            .filter(|v| !v.is_null())
            .map(|v| key.validate(&v))
            .transpose()
            .map_err(|e| ServiceError {
                field: Some(e.field),
                ..ServiceError::invalid(ErrorCode::InvalidSetting, e.reason)
            })?;
        let journal = self.announce_tenant(
            caller,
            "tenant.setting_changed",
            json!({ "tenant": id, "key": key.as_str(), "value": value }),
        );
        let scope = TenantScope::new(id);
        self.settings
            .put_setting(&scope, key.as_str(), value.clone(), journal)
            .await?;
        self.caches.forget_tenant(&tenant);
        let eff = self.effective_config(&tenant).await?;
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
        let tenant = self.load_tenant(id).await?;
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
    /// As [`Coffer::tenant_feature`].
    pub async fn set_tenant_feature(
        &self,
        caller: &Caller,
        id: TenantId,
        key: &str,
        set: SetFeature,
    ) -> Result<FeatureView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = self.load_tenant(id).await?;
        let key = FeatureKey::parse(key).map_err(|e| key_error(&e))?;
        let flag = FeatureFlag {
            key: key.as_str().to_owned(),
            enabled: set.enabled,
            expires_at: set.expires_at,
        };
        let journal = self.announce_tenant(
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
        let eff = self.effective_config(tenant).await?;
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
        let tenant = self.load_tenant(id).await?;
        // Read afresh: an operator asking wants what the database says now.
        let scope = TenantScope::new(id);
        let (settings, features) = futures::future::try_join(
            self.settings.list_settings(&scope),
            self.settings.list_features(&scope),
        )
        .await?;
        let config = self.resolve_config(&tenant, &TenantConfig { settings, features });
        Ok(EffectiveConfigView {
            tenant_id: tenant.id,
            plan: tenant.plan,
            evaluated_at: self.clock.now(),
            config,
        })
    }
}
