//! The one place a tenant's effective configuration is resolved: every
//! upload, download and retention path asks here.

use std::sync::Arc;

use coffer_domain::{
    EffectiveConfig, ErrorCode, FeatureKey, LimitOverrides, Plan, Tenant, TenantConfig, TenantId,
};
use coffer_ports::{Clock, TenantScope, TenantSettings};
use time::OffsetDateTime;

use crate::{ServiceConfig, ServiceError, TenantCaches};

/// Tenants' effective configurations: plan defaults, overrides, settings,
/// and the feature flags that have not expired. The stored part (settings
/// and flags) is cached in the shared [`TenantCaches`] and dropped with
/// the tenant; flag expiry is evaluated on every call.
#[derive(Clone)]
pub struct EffectiveConfigs {
    settings: Arc<dyn TenantSettings>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
}

impl EffectiveConfigs {
    pub fn new(
        settings: Arc<dyn TenantSettings>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            settings,
            caches,
            clock,
            config,
        }
    }

    /// The tenant's effective configuration at this moment.
    ///
    /// # Errors
    /// `Unavailable` when the settings cannot be read.
    pub async fn effective_config(&self, tenant: &Tenant) -> Result<EffectiveConfig, ServiceError> {
        let stored = self.stored_config(tenant.id).await?;
        Ok(self.resolve(tenant, &stored))
    }

    /// How long the tenant keeps what is in its trash.
    ///
    /// # Errors
    /// As [`EffectiveConfigs::effective_config`].
    pub(crate) async fn retention(&self, tenant: &Tenant) -> Result<time::Duration, ServiceError> {
        let days = self.effective_config(tenant).await?.retention_days.value;
        Ok(time::Duration::days(i64::from(days)))
    }

    /// The configuration `stored` gives `tenant` now.
    pub(crate) fn resolve(&self, tenant: &Tenant, stored: &TenantConfig) -> EffectiveConfig {
        EffectiveConfig::resolve(
            self.config.plans.for_plan(tenant.plan),
            &tenant.limit_overrides,
            stored,
            self.clock.now(),
        )
    }

    /// The configuration the tenant `id` would have at `now` with `plan`
    /// and `overrides` (a change not made yet).
    ///
    /// # Errors
    /// As [`EffectiveConfigs::effective_config`].
    pub(crate) async fn with_plan(
        &self,
        id: TenantId,
        plan: Plan,
        overrides: &LimitOverrides,
        now: OffsetDateTime,
    ) -> Result<EffectiveConfig, ServiceError> {
        let stored = self.stored_config(id).await?;
        Ok(EffectiveConfig::resolve(
            self.config.plans.for_plan(plan),
            overrides,
            &stored,
            now,
        ))
    }

    async fn stored_config(&self, tenant: TenantId) -> Result<Arc<TenantConfig>, ServiceError> {
        if let Some(config) = self.caches.config(tenant) {
            return Ok(config);
        }
        let seen = self.caches.drops_seen();
        let scope = TenantScope::new(tenant);
        let (settings, features) = futures::future::try_join(
            self.settings.list_settings(&scope),
            self.settings.list_features(&scope),
        )
        .await?;
        let config = Arc::new(TenantConfig { settings, features });
        self.caches.cache_config(tenant, config.clone(), seen);
        Ok(config)
    }
}

/// `Forbidden` (`feature_disabled`) unless the flag is on.
pub(crate) fn require_feature(eff: &EffectiveConfig, key: FeatureKey) -> Result<(), ServiceError> {
    if eff.enabled(key) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            ErrorCode::FeatureDisabled,
            format!("{key} is disabled for this tenant"),
        ))
    }
}
