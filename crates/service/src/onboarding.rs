//! Onboarding as a job (docs/tenants-onboarding.md): `create_tenant`
//! records the tenant as `provisioning` and queues its onboarding; a worker
//! ([`Onboarder::onboard_pending`], inside `coffer serve`) claims it and runs
//! the steps — placement, first admin user, activation. Every step is
//! idempotent and has a compensation; when one fails, the compensations of
//! the steps made so far (the failing one included, as it may be half made)
//! run in reverse and the tenant ends `provisioning_failed`, retryable.

use std::sync::Arc;

use coffer_domain::{
    ErrorCode, LimitOverrides, Onboarding, OnboardingRequest, OnboardingState, OnboardingStep,
    Plan, Region, Role, Subject, Tenant, TenantId, TenantSlug, TenantStatus,
};
use coffer_ports::{
    BucketSpec, Clock, MetadataErrorKind, NewOnboarding, NewTenant, OnboardingQueue,
    OnboardingUpdate, StoreErrorKind, TenantDataResolver, TenantDatabases, TenantRegistry,
    TenantScope,
};
use serde_json::json;

use crate::dedicated::{drop_database, provision_database};
use crate::recorder::{Recorder, system_journal};
use crate::tenants::load_tenant;
use crate::{Caller, ServiceConfig, ServiceError, Stores, TenantCaches};

/// At most this many onboardings are run per worker round.
const ROUND: usize = 100;

/// A new tenant's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTenant {
    pub slug: TenantSlug,
    pub display_name: String,
    pub plan: Plan,
    pub region: Region,
    pub limit_overrides: LimitOverrides,
    pub dedicated_bucket: Option<coffer_domain::BucketName>,
    /// A database of its own: `None` follows the configured plans
    /// ([`crate::DedicatedPolicy`]), `Some` asks for or declines one.
    pub dedicated_database: Option<bool>,
    /// A schema of its own in the shared database: `None` follows the
    /// configured plans (`ServiceConfig::dedicated_schemas`), `Some` asks for
    /// or declines one. A tenant given a database of its own gets none.
    pub dedicated_schema: Option<bool>,
    /// The first tenant administrator, created by the onboarding job.
    pub admin_subject: Option<Subject>,
}

/// Tenants coming into being: created as `provisioning` and queued, then
/// made in every place a tenant lives in — its bucket, its database, its
/// first administrator — and activated, or undone.
#[derive(Clone)]
pub struct Onboarder {
    registry: Arc<dyn TenantRegistry>,
    onboarding: Arc<dyn OnboardingQueue>,
    tenant_data: Arc<dyn TenantDataResolver>,
    databases: Option<Arc<dyn TenantDatabases>>,
    stores: Arc<Stores>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl Onboarder {
    #[expect(
        clippy::too_many_arguments,
        reason = "an onboarding reaches every place a tenant lives in (five ports), besides the cache, clock and configuration"
    )]
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        onboarding: Arc<dyn OnboardingQueue>,
        tenant_data: Arc<dyn TenantDataResolver>,
        databases: Option<Arc<dyn TenantDatabases>>,
        stores: Arc<Stores>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            onboarding,
            tenant_data,
            databases,
            stores,
            caches,
            recorder: Recorder::new(clock.clone()),
            clock,
            config,
        }
    }

    /// The dedicated database a new tenant gets, if any.
    pub(crate) fn dedicated_database(
        config: &ServiceConfig,
        id: TenantId,
        plan: Plan,
        asked: Option<bool>,
    ) -> Result<Option<String>, ServiceError> {
        let placement = config.dedicated_databases.as_ref();
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

    /// The schema a new tenant gets, if any: none for one with a database
    /// of its own (asking for both is refused).
    pub(crate) fn dedicated_schema(
        config: &ServiceConfig,
        id: TenantId,
        plan: Plan,
        asked: Option<bool>,
        database: Option<&String>,
    ) -> Result<Option<String>, ServiceError> {
        let placement = config.dedicated_schemas.as_ref();
        match (asked, placement, database) {
            (Some(true), _, Some(_)) => {
                Err(ServiceError::from(coffer_domain::ValidationError::new(
                    "dedicated_schema",
                    "a tenant has a database or a schema of its own, not both",
                )))
            }
            (_, _, Some(_)) | (Some(false), _, _) | (None, None, _) => Ok(None),
            (Some(true), None, _) => Err(ServiceError::invalid(
                ErrorCode::DedicatedSchemaUnavailable,
                "no tenant schemas are configured (metadata.schemas)",
            )),
            (Some(true), Some(p), None) => Ok(Some(p.name_for(id))),
            (None, Some(p), None) => Ok(p.plans.contains(&plan).then(|| p.name_for(id))),
        }
    }

    /// Onboard a tenant (platform admins): validate it, record it as
    /// `provisioning` and queue its onboarding, which a worker runs
    /// ([`Onboarder::onboard_pending`]).
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
            self.recorder.announce_tenant(
                caller,
                "tenant.created",
                json!({ "slug": new.slug, "plan": new.plan, "region": new.region, "status": new.status }),
            )
        };
        self.queue_tenant(request, journal).await
    }

    /// [`Onboarder::create_tenant`] for an operator (the CLI), recorded as
    /// `system:coffer` with `via`; the caller runs the onboarding
    /// ([`Onboarder::onboard_now`]).
    ///
    /// # Errors
    /// As [`Onboarder::create_tenant`].
    pub async fn create_tenant_as_operator(
        &self,
        request: CreateTenant,
        via: &str,
    ) -> Result<Tenant, ServiceError> {
        let at = self.clock.now();
        let journal = |new: &NewTenant| {
            system_journal(
                at,
                "tenant.created",
                json!({ "via": via, "plan": new.plan, "region": new.region }),
            )
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
            return Err(region_not_placed(&request.region));
        }
        let regions = &self.config.metadata_regions;
        if !regions.is_empty() && !regions.contains(&request.region) {
            return Err(ServiceError::invalid(
                ErrorCode::RegionWithoutDatabase,
                format!(
                    "no database is configured for region {} (metadata.regions)",
                    request.region
                ),
            ));
        }
        let now = self.clock.now();
        let id = TenantId::new_random();
        let dedicated_database =
            Self::dedicated_database(&self.config, id, request.plan, request.dedicated_database)?;
        let dedicated_schema = Self::dedicated_schema(
            &self.config,
            id,
            request.plan,
            request.dedicated_schema,
            dedicated_database.as_ref(),
        )?;
        // Its region's shared database holds its data (and its schema),
        // unless it has a database of its own.
        let metadata_region =
            (dedicated_database.is_none() && !regions.is_empty()).then(|| request.region.clone());
        let new = NewTenant {
            id,
            dedicated_database,
            dedicated_schema,
            metadata_region,
            slug: request.slug,
            display_name,
            plan: request.plan,
            status: TenantStatus::Provisioning,
            region: request.region,
            dedicated_bucket: request.dedicated_bucket.map(String::from),
            limit_overrides: request.limit_overrides.validated()?,
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

    /// Claim and run onboardings until none is due (at most a round's
    /// worth). Returns how many ran (failed ones included).
    ///
    /// # Errors
    /// The metadata store failing to claim or record; what it left running
    /// is claimed again once its lease ends.
    pub async fn onboard_pending(&self) -> Result<usize, ServiceError> {
        let mut ran = 0;
        while ran < ROUND {
            let Some(job) = self
                .onboarding
                .claim_onboarding(self.clock.now(), self.onboarding_lease())
                .await?
            else {
                break;
            };
            self.run_onboarding(job).await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Run the pending onboardings (as a worker would), then tell where
    /// `tenant`'s stands: for `coffer tenant create` and other callers
    /// without a worker, which call it again (after a pause) while it is
    /// `queued` or `running` — another instance may be running it.
    ///
    /// # Errors
    /// `Conflict` (`onboarding_failed`) with the step's error when it
    /// failed; the store's errors.
    pub async fn onboard_now(&self, tenant: TenantId) -> Result<Option<Tenant>, ServiceError> {
        self.onboard_pending().await?;
        let job = self.onboarding.get_onboarding(tenant).await?;
        match job.state {
            OnboardingState::Done => Ok(Some(load_tenant(self.registry.as_ref(), tenant).await?)),
            OnboardingState::Failed => Err(ServiceError::conflict(
                ErrorCode::OnboardingFailed,
                job.last_error.unwrap_or_else(|| "onboarding failed".into()),
            )),
            OnboardingState::Queued | OnboardingState::Running => Ok(None),
        }
    }

    /// Queue a failed onboarding again (platform admins): the tenant goes
    /// back to `provisioning` and a worker runs every step anew.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Conflict` (`not_failed`) unless the
    /// onboarding failed.
    pub async fn retry_onboarding(
        &self,
        caller: &Caller,
        id: TenantId,
    ) -> Result<Tenant, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        let not_failed = || {
            ServiceError::conflict(
                ErrorCode::NotFailed,
                "only an onboarding that failed can be retried",
            )
        };
        let job = match self.onboarding.get_onboarding(id).await {
            Ok(job) => job,
            Err(e) if e.is(MetadataErrorKind::NotFound) => return Err(not_failed()),
            Err(e) => return Err(e.into()),
        };
        let update = OnboardingUpdate {
            expected: OnboardingState::Failed,
            state: OnboardingState::Queued,
            current_step: None,
            steps_done: job.steps_done,
            last_error: job.last_error,
            tenant_status: Some(TenantStatus::Provisioning),
            at: self.clock.now(),
        };
        let journal = self.recorder.journal(
            caller,
            "tenant.onboarding_retried",
            None,
            json!({ "attempts": job.attempts }),
        );
        match self.onboarding.update_onboarding(id, update, journal).await {
            Ok(_) => {}
            Err(e) if e.is(MetadataErrorKind::InvalidState) => return Err(not_failed()),
            Err(e) => return Err(e.into()),
        }
        self.caches.forget_tenant(&tenant);
        load_tenant(self.registry.as_ref(), id).await
    }

    /// Run a claimed (`running`) onboarding to its end: `done` with the
    /// tenant `active`, or `failed` with what was made undone.
    ///
    /// # Errors
    /// Only the store failing to record the outcome.
    pub async fn run_onboarding(&self, job: Onboarding) -> Result<Onboarding, ServiceError> {
        let tenant = load_tenant(self.registry.as_ref(), job.tenant_id).await?;
        let mut done: Vec<OnboardingStep> = Vec::new();
        for &step in Onboarding::STEPS {
            let outcome = if step == OnboardingStep::Activate {
                self.activate(&tenant, &done).await
            } else {
                match self.do_step(step, &tenant, &job).await {
                    Ok(()) => {
                        done.push(step);
                        self.record_step(&tenant, step, &done).await
                    }
                    Err(err) => Err(err),
                }
            };
            match outcome {
                Ok(Some(finished)) => return Ok(finished),
                Ok(None) => {}
                Err(err) => {
                    // The failing step may be half made: undo it too.
                    if !done.contains(&step) {
                        done.push(step);
                    }
                    return self.fail(&tenant, &job, step, done, &err).await;
                }
            }
        }
        Err(ServiceError::internal("onboarding ran out of steps"))
    }

    async fn do_step(
        &self,
        step: OnboardingStep,
        tenant: &Tenant,
        job: &Onboarding,
    ) -> Result<(), ServiceError> {
        match step {
            OnboardingStep::Placement => {
                self.check_region(tenant)?;
                if let Some(bucket) = dedicated_bucket(tenant)? {
                    ensure_dedicated_bucket(&self.stores, &self.config, tenant, bucket).await?;
                }
                Ok(())
            }
            OnboardingStep::Database => {
                Ok(provision_database(self.databases.as_deref(), tenant).await?)
            }
            OnboardingStep::AdminUser => {
                if let Some(subject) = &job.request.admin_subject {
                    // In its own database, once the step before made it.
                    let data = self.tenant_data.tenant_data(tenant).await?;
                    data.members
                        .upsert_user(&TenantScope::new(tenant.id), subject, &[Role::Admin])
                        .await?;
                }
                Ok(())
            }
            OnboardingStep::Activate => Ok(()),
        }
    }

    /// Undo what `step` made; undoing what was never made succeeds.
    async fn compensate(
        &self,
        step: OnboardingStep,
        tenant: &Tenant,
        job: &Onboarding,
    ) -> Result<(), ServiceError> {
        match step {
            OnboardingStep::Placement => {
                if let Some(bucket) = dedicated_bucket(tenant)? {
                    match self.stores.for_tenant(tenant).remove_bucket(&bucket).await {
                        Ok(()) => {}
                        // Objects that were there before are not ours to remove.
                        Err(e) if e.kind() == StoreErrorKind::Conflict => {
                            tracing::warn!(tenant = %tenant.slug, bucket = %bucket, "dedicated bucket not empty; left in place");
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
            // Everything the tenant's database held goes with it.
            OnboardingStep::Database => Ok(drop_database(self.databases.as_deref(), tenant).await?),
            OnboardingStep::AdminUser => {
                if let Some(subject) = &job.request.admin_subject {
                    let journal = system_journal(
                        self.clock.now(),
                        "user.removed",
                        json!({ "subject": subject, "why": "onboarding failed" }),
                    );
                    let data = self.tenant_data.tenant_data(tenant).await?;
                    data.members
                        .remove_user(&TenantScope::new(tenant.id), subject, journal)
                        .await?;
                }
                Ok(())
            }
            // Activation is one transaction: when it fails nothing changed.
            OnboardingStep::Activate => Ok(()),
        }
    }

    async fn record_step(
        &self,
        tenant: &Tenant,
        step: OnboardingStep,
        done: &[OnboardingStep],
    ) -> Result<Option<Onboarding>, ServiceError> {
        let now = self.clock.now();
        let update = OnboardingUpdate {
            expected: OnboardingState::Running,
            state: OnboardingState::Running,
            current_step: Some(step),
            steps_done: done.to_vec(),
            last_error: None,
            tenant_status: None,
            at: now,
        };
        let journal = system_journal(now, "tenant.onboarding_step", json!({ "step": step }));
        self.onboarding
            .update_onboarding(tenant.id, update, journal)
            .await?;
        Ok(None)
    }

    async fn activate(
        &self,
        tenant: &Tenant,
        done: &[OnboardingStep],
    ) -> Result<Option<Onboarding>, ServiceError> {
        let now = self.clock.now();
        let mut steps = done.to_vec();
        steps.push(OnboardingStep::Activate);
        let update = OnboardingUpdate {
            expected: OnboardingState::Running,
            state: OnboardingState::Done,
            current_step: None,
            steps_done: steps,
            last_error: None,
            tenant_status: Some(TenantStatus::Active),
            at: now,
        };
        let detail = json!({ "slug": tenant.slug, "plan": tenant.plan, "region": tenant.region });
        // On record in the audit log; not announced as an event (the
        // tenant's feed starts with `tenant.created`, as it always did).
        let journal = system_journal(now, "tenant.activated", detail);
        let finished = self
            .onboarding
            .update_onboarding(tenant.id, update, journal)
            .await?;
        self.caches.forget_tenant(tenant);
        tracing::info!(tenant = %tenant.slug, id = %tenant.id, "tenant onboarded");
        Ok(Some(finished))
    }

    async fn fail(
        &self,
        tenant: &Tenant,
        job: &Onboarding,
        step: OnboardingStep,
        made: Vec<OnboardingStep>,
        err: &ServiceError,
    ) -> Result<Onboarding, ServiceError> {
        tracing::warn!(tenant = %tenant.slug, %step, error = %err, "onboarding step failed; compensating");
        let mut error = format!("{step}: {err}");
        let mut left = Vec::new();
        for &made in made.iter().rev() {
            if let Err(undo) = self.compensate(made, tenant, job).await {
                tracing::warn!(tenant = %tenant.slug, step = %made, error = %undo, "compensation failed");
                error.push_str(&format!("; undoing {made}: {undo}"));
                left.insert(0, made);
            }
        }
        let now = self.clock.now();
        let update = OnboardingUpdate {
            expected: OnboardingState::Running,
            state: OnboardingState::Failed,
            current_step: Some(step),
            steps_done: left,
            last_error: Some(error.clone()),
            tenant_status: Some(TenantStatus::ProvisioningFailed),
            at: now,
        };
        let journal = system_journal(
            now,
            "tenant.onboarding_failed",
            json!({ "step": step, "error": error }),
        );
        let failed = self
            .onboarding
            .update_onboarding(tenant.id, update, journal)
            .await?;
        self.caches.forget_tenant(tenant);
        Ok(failed)
    }

    /// Data residency: a tenant's region must have a placement.
    fn check_region(&self, tenant: &Tenant) -> Result<(), ServiceError> {
        if self.config.placement.serves_region(&tenant.region) {
            Ok(())
        } else {
            Err(region_not_placed(&tenant.region))
        }
    }

    fn onboarding_lease(&self) -> time::Duration {
        time::Duration::try_from(self.config.onboarding_lease).unwrap_or(time::Duration::MINUTE)
    }
}

pub(crate) fn region_not_placed(region: &coffer_domain::Region) -> ServiceError {
    ServiceError::invalid(
        ErrorCode::RegionNotPlaced,
        format!("no storage placement is configured for region {region}"),
    )
}

/// Make `bucket`, a tenant's own, on its region's store (a dedicated
/// bucket is where the tenant's objects live, so it must be in its region):
/// private, with the deployment's CORS origins and multipart clean-up.
pub(crate) async fn ensure_dedicated_bucket(
    stores: &Stores,
    config: &ServiceConfig,
    tenant: &Tenant,
    bucket: coffer_domain::BucketName,
) -> Result<(), ServiceError> {
    let spec = BucketSpec {
        bucket,
        cors_origins: config.bucket_cors_origins.clone(),
        abort_incomplete_multipart_days: 2,
        transitions: Vec::new(),
    };
    Ok(stores.for_tenant(tenant).ensure_bucket(&spec).await?)
}

fn dedicated_bucket(tenant: &Tenant) -> Result<Option<coffer_domain::BucketName>, ServiceError> {
    Ok(tenant
        .dedicated_bucket
        .clone()
        .map(coffer_domain::BucketName::new)
        .transpose()?)
}
