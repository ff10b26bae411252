//! Tenants: the caller's own view, and the platform administrators' path.

use coffer_domain::{
    ErrorCode, LimitOverrides, Onboarding, OnboardingRequest, PageCursor, Plan, PlanLimits, Region,
    Subject, Tenant, TenantId, TenantSlug, TenantStatus, Usage,
};
use coffer_ports::{MetadataErrorKind, NewOnboarding, NewTenant, Page, TenantPatch, TenantScope};
use serde::Serialize;
use serde_json::json;

use crate::{Caller, Coffer, ServiceError};

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTenant {
    pub slug: TenantSlug,
    pub display_name: String,
    pub plan: Plan,
    pub region: Region,
    pub limit_overrides: LimitOverrides,
    pub dedicated_bucket: Option<coffer_domain::BucketName>,
    /// A database of its own: `None` follows the configured plans
    /// ([`crate::DedicatedDatabasePolicy`]), `Some` asks for or declines one.
    pub dedicated_database: Option<bool>,
    /// The first tenant administrator, created by the onboarding job.
    pub admin_subject: Option<Subject>,
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

impl Coffer {
    /// The dedicated database a new tenant gets, if any.
    fn dedicated_database(
        &self,
        id: TenantId,
        plan: Plan,
        asked: Option<bool>,
    ) -> Result<Option<String>, ServiceError> {
        let placement = self.config.dedicated_databases.as_ref();
        match (asked, placement) {
            (Some(false), _) | (None, None) => Ok(None),
            (Some(true), None) => Err(ServiceError::invalid(
                ErrorCode::DedicatedDatabaseUnavailable,
                "no dedicated databases are configured (metadata.dedicated)",
            )),
            (Some(true), Some(p)) => Ok(Some(p.name_for(id))),
            (None, Some(p)) => Ok(p.plans.contains(&plan).then(|| p.name_for(id))),
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
            limits: self.effective_config(&tenant).await?.limits(),
            tenant,
            usage,
            billing,
            onboarding: None,
        })
    }

    /// Onboard a tenant (platform admins): validate it, record it as
    /// `provisioning` and queue its onboarding, which a worker runs
    /// ([`Coffer::onboard_pending`]).
    ///
    /// # Errors
    /// `Forbidden` for anyone else; `Conflict` for a taken slug; `Invalid` for
    /// a bad display name or a region without a storage placement
    /// (`region_not_placed`).
    pub async fn create_tenant(
        &self,
        caller: &Caller,
        request: CreateTenant,
    ) -> Result<Tenant, ServiceError> {
        caller.require_platform_admin()?;
        let journal = |new: &NewTenant| {
            self.announce_tenant(
                caller,
                "tenant.created",
                json!({ "slug": new.slug, "plan": new.plan, "region": new.region, "status": new.status }),
            )
        };
        self.queue_tenant(request, journal).await
    }

    /// [`Coffer::create_tenant`] for an operator (the CLI), recorded as
    /// `system:coffer` with `via`; the caller runs the onboarding
    /// ([`Coffer::onboard_now`]).
    ///
    /// # Errors
    /// As [`Coffer::create_tenant`].
    pub async fn create_tenant_as_operator(
        &self,
        request: CreateTenant,
        via: &str,
    ) -> Result<Tenant, ServiceError> {
        let at = self.clock.now();
        let journal = |new: &NewTenant| {
            coffer_ports::Journal::audit(coffer_ports::NewAudit {
                actor: Subject::new("system:coffer").unwrap_or_else(|_| unreachable!()),
                action: "tenant.created".to_owned(),
                file_id: None,
                detail: json!({ "via": via, "plan": new.plan, "region": new.region }),
                request_id: None,
                client_addr: None,
                at,
            })
        };
        self.queue_tenant(request, journal).await
    }

    async fn queue_tenant(
        &self,
        request: CreateTenant,
        journal: impl FnOnce(&NewTenant) -> coffer_ports::Journal,
    ) -> Result<Tenant, ServiceError> {
        let display_name = Tenant::validate_display_name(&request.display_name)?;
        if !self.config.placement.serves_region(&request.region) {
            return Err(crate::onboarding::region_not_placed(&request.region));
        }
        let now = self.clock.now();
        let id = TenantId::new_random();
        let dedicated_database =
            self.dedicated_database(id, request.plan, request.dedicated_database)?;
        let new = NewTenant {
            id,
            dedicated_database,
            slug: request.slug,
            display_name,
            plan: request.plan,
            status: TenantStatus::Provisioning,
            region: request.region,
            dedicated_bucket: request.dedicated_bucket.map(String::from),
            limit_overrides: request.limit_overrides,
            created_at: now,
        };
        let journal = journal(&new);
        let onboarding = NewOnboarding {
            request: OnboardingRequest {
                admin_subject: request.admin_subject,
            },
            queued_at: now,
        };
        let (tenant, _) = self
            .onboarding
            .create_onboarding(new, onboarding, journal)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::Conflict) {
                    ServiceError::conflict(ErrorCode::SlugTaken, "a tenant with this slug exists")
                } else {
                    err.into()
                }
            })?;
        Ok(tenant)
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
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidLimit,
                "limit must be between 1 and 1000",
            ));
        }
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
        let tenant = self.load_tenant(id).await?;
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
        let current = self.load_tenant(id).await?;
        let patch = self.tenant_patch(&current, &update).await?;
        let journal = self.announce_tenant(
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

    /// The patch that makes `update` of `current`, status changes following
    /// the lifecycle — for platform administrators and trusted system
    /// callers (billing events) alike.
    ///
    /// # Errors
    /// `Invalid` for a bad display name; `Conflict` (`invalid_transition`)
    /// for a status change the lifecycle does not allow.
    pub(crate) async fn tenant_patch(
        &self,
        current: &Tenant,
        update: &TenantUpdate,
    ) -> Result<TenantPatch, ServiceError> {
        let now = self.clock.now();
        let mut patch = TenantPatch {
            display_name: update
                .display_name
                .as_deref()
                .map(Tenant::validate_display_name)
                .transpose()?,
            plan: update.plan,
            limit_overrides: update.limit_overrides.clone(),
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
                    let stored = self.stored_config(current.id).await?;
                    let days = coffer_domain::EffectiveConfig::resolve(
                        self.config.plans.for_plan(plan),
                        overrides,
                        &stored,
                        now,
                    )
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

    pub(crate) async fn load_tenant(&self, id: TenantId) -> Result<Tenant, ServiceError> {
        self.registry.get_tenant(id).await.map_err(|err| {
            if err.is(MetadataErrorKind::NotFound) {
                ServiceError::not_found("tenant")
            } else {
                err.into()
            }
        })
    }
}
