//! Tenants: the caller's own view, and the platform administrators' path.

use std::sync::Arc;

use coffer_domain::{
    ErrorCode, LimitOverrides, Onboarding, PageCursor, Plan, PlanLimits, Tenant, TenantId,
    TenantStatus, Usage,
};
use coffer_ports::{
    Clock, MetadataErrorKind, OnboardingQueue, Page, TenantDataResolver, TenantPatch,
    TenantRegistry, TenantScope, TenantSettings,
};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::recorder::Recorder;
use crate::{Caller, EffectiveConfigs, ServiceError, TenantCaches};

/// A tenant with its effective limits and current usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantView {
    pub tenant: Tenant,
    pub limits: PlanLimits,
    pub usage: Usage,
    /// The billing notice (an unpaid invoice, see docs/billing.md), shown to
    /// tenant and platform administrators only; `None` when there is none
    /// or the caller may not see it.
    pub billing: Option<serde_json::Value>,
    /// Its onboarding's progress (platform administrators' view only).
    #[serde(skip)]
    pub onboarding: Option<Onboarding>,
}

/// A platform administrator's change to a tenant. Status changes follow the
/// lifecycle: suspend and reactivate, cancel (data kept for the retention),
/// reactivate a cancelled tenant within its retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUpdate {
    pub display_name: Option<String>,
    pub plan: Option<Plan>,
    pub status: Option<TenantStatus>,
    pub limit_overrides: Option<LimitOverrides>,
}

/// Tenants as their members and the platform administrators see them, and
/// the administrators' changes to them.
#[derive(Clone)]
pub struct Tenants {
    registry: Arc<dyn TenantRegistry>,
    settings: Arc<dyn TenantSettings>,
    onboarding: Arc<dyn OnboardingQueue>,
    tenant_data: Arc<dyn TenantDataResolver>,
    configs: EffectiveConfigs,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl Tenants {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        settings: Arc<dyn TenantSettings>,
        onboarding: Arc<dyn OnboardingQueue>,
        tenant_data: Arc<dyn TenantDataResolver>,
        configs: EffectiveConfigs,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry,
            settings,
            onboarding,
            tenant_data,
            configs,
            caches,
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// The caller's tenant: plan, limits, usage, status.
    ///
    /// # Errors
    /// The tenant-status errors of [`Caller::member`].
    pub async fn current_tenant(&self, caller: &Caller) -> Result<TenantView, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let billing = caller.principal.is_tenant_admin();
        self.view(tenant.clone(), &scope, billing).await
    }

    async fn view(
        &self,
        tenant: Tenant,
        scope: &TenantScope,
        with_billing: bool,
    ) -> Result<TenantView, ServiceError> {
        // Until onboarding made its placement (a dedicated database), a
        // tenant has nothing stored anywhere to count.
        let placed = !matches!(
            tenant.status,
            TenantStatus::Provisioning | TenantStatus::ProvisioningFailed
        );
        let usage = if placed {
            let data = self.tenant_data.tenant_data(&tenant).await?;
            data.files.usage(scope).await?
        } else {
            Usage::default()
        };
        let billing = if with_billing {
            self.settings
                .get_setting(scope, crate::billing::BILLING_SETTING)
                .await?
        } else {
            None
        };
        Ok(TenantView {
            limits: self.configs.effective_config(&tenant).await?.limits(),
            tenant,
            usage,
            billing,
            onboarding: None,
        })
    }

    /// # Errors
    /// `Forbidden` for anyone but platform admins; `Invalid` for a bad cursor.
    pub async fn list_tenants(
        &self,
        caller: &Caller,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<Tenant>, ServiceError> {
        caller.require_platform_admin()?;
        let after = cursor.as_deref().map(PageCursor::decode).transpose()?;
        let limit = crate::error::page_limit(limit)?;
        Ok(self.registry.list_tenants(after, limit).await?)
    }

    /// # Errors
    /// `Forbidden` for anyone but platform admins; `NotFound`.
    pub async fn get_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
    ) -> Result<TenantView, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let mut view = self.view(tenant, &TenantScope::new(id), true).await?;
        view.onboarding = match self.onboarding.get_onboarding(id).await {
            Ok(job) => Some(job),
            // Tenants created before onboarding was a job.
            Err(e) if e.is(MetadataErrorKind::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(view)
    }

    /// # Errors
    /// `Forbidden` for anyone but platform admins; `NotFound`; `Conflict` for
    /// a status change the lifecycle does not allow.
    pub async fn update_tenant(
        &self,
        caller: &Caller,
        id: TenantId,
        update: TenantUpdate,
    ) -> Result<Tenant, ServiceError> {
        caller.require_platform_admin()?;
        let current = load_tenant(self.registry.as_ref(), id).await?;
        let patch = tenant_patch(&self.configs, self.clock.now(), &current, &update).await?;
        let journal = self.recorder.announce_tenant(
            caller,
            "tenant.updated",
            json!({
                "status": patch.status.unwrap_or(current.status),
                "plan": patch.plan.unwrap_or(current.plan),
            }),
        );
        let tenant = self.registry.update_tenant(id, patch, journal).await?;
        self.caches.forget_tenant(&tenant);
        Ok(tenant)
    }
}

/// The patch that makes `update` of `current`, status changes following
/// the lifecycle — for platform administrators and trusted system
/// callers (billing events) alike.
///
/// # Errors
/// `Invalid` for a bad display name; `Conflict` (`invalid_transition`)
/// for a status change the lifecycle does not allow.
pub(crate) async fn tenant_patch(
    configs: &EffectiveConfigs,
    now: OffsetDateTime,
    current: &Tenant,
    update: &TenantUpdate,
) -> Result<TenantPatch, ServiceError> {
    let mut patch = TenantPatch {
        display_name: update
            .display_name
            .as_deref()
            .map(Tenant::validate_display_name)
            .transpose()?,
        plan: update.plan,
        limit_overrides: update
            .limit_overrides
            .clone()
            .map(LimitOverrides::validated)
            .transpose()?,
        ..TenantPatch::default()
    };
    if let Some(next) = update.status.filter(|s| *s != current.status) {
        use TenantStatus::{Active, Cancelled, Suspended};
        match (current.status, next) {
            (Active, Suspended) => patch.suspended_at = Some(Some(now)),
            (Suspended, Active) => patch.suspended_at = Some(None),
            (Active | Suspended, Cancelled) => {
                let plan = update.plan.unwrap_or(current.plan);
                let overrides = patch
                    .limit_overrides
                    .as_ref()
                    .unwrap_or(&current.limit_overrides);
                // As the effective configuration would resolve it
                // with the new plan and overrides.
                let days = configs
                    .with_plan(current.id, plan, overrides, now)
                    .await?
                    .retention_days
                    .value;
                patch.cancelled_at = Some(Some(now));
                patch.purge_after = Some(Some(now + time::Duration::days(i64::from(days))));
            }
            (Cancelled, Active) if current.purge_after.is_none_or(|at| at > now) => {
                patch.cancelled_at = Some(None);
                patch.purge_after = Some(None);
                patch.suspended_at = Some(None);
            }
            (from, to) => {
                return Err(ServiceError::conflict(
                    ErrorCode::InvalidTransition,
                    format!("a tenant cannot go from {from} to {to}"),
                ));
            }
        }
        patch.status = Some(next);
    }
    Ok(patch)
}

/// The tenant `id`, read afresh: `NotFound` when there is none.
pub(crate) async fn load_tenant(
    registry: &dyn TenantRegistry,
    id: TenantId,
) -> Result<Tenant, ServiceError> {
    registry.get_tenant(id).await.map_err(|err| {
        if err.is(MetadataErrorKind::NotFound) {
            ServiceError::not_found("tenant")
        } else {
            err.into()
        }
    })
}
