//! Who is calling: token → principal → tenant, on the hot path of every request.

use std::time::Duration;

use std::sync::Arc;

use coffer_domain::{
    ErrorCode, PlanLimits, Principal, Role, Subject, Tenant, TenantConfig, TenantId, TenantSlug,
    TenantStatus, UserId,
};
use coffer_ports::{MetadataErrorKind, TenantClaim, TenantScope};
use moka::sync::Cache;

use crate::{Coffer, ErrorKind, ServiceError};

/// Facts about the HTTP request, kept for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// An authenticated caller: its principal, its tenant (none for a pure
/// platform administrator) and the request it made.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub tenant: Option<Tenant>,
    pub request: RequestMeta,
}

impl Caller {
    /// The caller's tenant, for the file API: it must exist and be active.
    ///
    /// # Errors
    /// `TenantSuspended` (402), `TenantCancelled` (410), `Conflict` while
    /// provisioning, `Forbidden` for a caller without a tenant.
    pub fn member(&self) -> Result<(&Tenant, TenantScope), ServiceError> {
        let tenant = self.tenant.as_ref().ok_or_else(|| {
            ServiceError::forbidden(ErrorCode::NoTenant, "this token is not scoped to a tenant")
        })?;
        match tenant.status {
            TenantStatus::Active => Ok((tenant, TenantScope::new(tenant.id))),
            TenantStatus::Suspended => Err(ServiceError::new(
                ErrorKind::TenantSuspended,
                ErrorCode::TenantSuspended,
                "this tenant is suspended",
            )),
            TenantStatus::Cancelled => Err(ServiceError::new(
                ErrorKind::TenantCancelled,
                ErrorCode::TenantCancelled,
                "this tenant has been cancelled",
            )),
            TenantStatus::Provisioning | TenantStatus::ProvisioningFailed => {
                Err(ServiceError::conflict(
                    ErrorCode::TenantNotReady,
                    "this tenant is not provisioned yet",
                ))
            }
        }
    }

    /// [`Caller::member`], for tenant administrators only.
    ///
    /// # Errors
    /// As [`Caller::member`]; `Forbidden` (`admin_required`) for anyone
    /// but a tenant admin, naming `what` they asked for.
    pub fn admin(&self, what: &str) -> Result<(&Tenant, TenantScope), ServiceError> {
        let member = self.member()?;
        if self.principal.is_tenant_admin() {
            Ok(member)
        } else {
            Err(ServiceError::forbidden(
                ErrorCode::AdminRequired,
                format!("{what} is for tenant administrators"),
            ))
        }
    }

    pub fn require_platform_admin(&self) -> Result<(), ServiceError> {
        if self.principal.is_platform_admin() {
            Ok(())
        } else {
            Err(ServiceError::forbidden(
                ErrorCode::PlatformAdminRequired,
                "this endpoint is for platform administrators",
            ))
        }
    }
}

/// In-process caches of the hot path: resolved tenants and their stored
/// configuration (settings and feature flags) with a short TTL, dropped at
/// once when a tenant changes — in this process, or in another one (see
/// [`Coffer::follow_tenant_changes`]) — and users already provisioned with
/// the same roles, so that steady traffic costs no extra writes.
pub(crate) struct Caches {
    tenants: Cache<TenantClaim, Tenant>,
    /// Slugs are immutable: which slug entry to drop for a tenant id.
    slugs: Cache<TenantId, TenantSlug>,
    pub(crate) configs: Cache<TenantId, Arc<TenantConfig>>,
    users: Cache<(TenantId, Subject, Vec<Role>), UserId>,
}

impl Caches {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            tenants: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            slugs: Cache::builder().max_capacity(10_000).build(),
            configs: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            users: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
        }
    }

    pub(crate) fn forget_tenant(&self, tenant: &Tenant) {
        self.forget_tenant_id(tenant.id);
        self.tenants
            .invalidate(&TenantClaim::Slug(tenant.slug.clone()));
    }

    /// Drop everything cached about the tenant `id`.
    pub(crate) fn forget_tenant_id(&self, id: TenantId) {
        self.tenants.invalidate(&TenantClaim::Id(id));
        if let Some(slug) = self.slugs.get(&id) {
            self.tenants.invalidate(&TenantClaim::Slug(slug));
        }
        self.configs.invalidate(&id);
    }

    /// Drop every cached tenant and configuration (changes may have been missed).
    pub(crate) fn forget_all_tenants(&self) {
        self.tenants.invalidate_all();
        self.configs.invalidate_all();
    }

    fn remember_tenant(&self, claim: TenantClaim, tenant: Tenant) {
        self.slugs.insert(tenant.id, tenant.slug.clone());
        self.tenants.insert(claim, tenant);
    }
}

impl Coffer {
    /// Verify a bearer token and resolve its tenant and user.
    ///
    /// # Errors
    /// `Unauthenticated` for a refused token or an unknown tenant;
    /// `Unavailable` when the identity provider or database is down.
    pub async fn authenticate(
        &self,
        token: &str,
        selected_tenant: Option<String>,
        request: RequestMeta,
    ) -> Result<Caller, ServiceError> {
        let identity = self.identity.verify(token, selected_tenant).await?;
        let mut roles = identity.roles;
        roles.sort_unstable();
        roles.dedup();
        let tenant = match &identity.tenant {
            Some(claim) => self.resolve_tenant(claim).await?,
            None => None,
        };
        let is_platform_admin = roles.contains(&Role::PlatformAdmin);
        let Some(tenant) = tenant else {
            if is_platform_admin {
                let principal = Principal {
                    subject: identity.subject,
                    tenant: None,
                    user_id: None,
                    roles,
                };
                return Ok(Caller {
                    principal,
                    tenant: None,
                    request,
                });
            }
            return Err(ServiceError::new(
                ErrorKind::Unauthenticated,
                if identity.tenant.is_some() {
                    ErrorCode::UnknownTenant
                } else {
                    ErrorCode::TenantMissing
                },
                "the token does not name a known tenant",
            ));
        };
        let user_id = if tenant.status == TenantStatus::Active {
            Some(
                self.provision_user(&tenant, &identity.subject, &roles)
                    .await?,
            )
        } else {
            None
        };
        let principal = Principal {
            subject: identity.subject,
            tenant: Some(tenant.id),
            user_id,
            roles,
        };
        Ok(Caller {
            principal,
            tenant: Some(tenant),
            request,
        })
    }

    /// The tenant a claim names, cached for
    /// [`crate::ServiceConfig::tenant_cache_ttl`]; `None` when there is none.
    pub(crate) async fn resolve_tenant(
        &self,
        claim: &TenantClaim,
    ) -> Result<Option<Tenant>, ServiceError> {
        if let Some(tenant) = self.caches.tenants.get(claim) {
            return Ok(Some(tenant));
        }
        let found = match claim {
            TenantClaim::Id(id) => self.registry.get_tenant(*id).await,
            TenantClaim::Slug(slug) => self.registry.find_tenant_by_slug(slug).await,
        };
        match found {
            Ok(tenant) => {
                self.caches.remember_tenant(claim.clone(), tenant.clone());
                Ok(Some(tenant))
            }
            Err(err) if err.is(MetadataErrorKind::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Just-in-time user provisioning, skipped while the same roles are cached.
    async fn provision_user(
        &self,
        tenant: &Tenant,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, ServiceError> {
        let key = (tenant.id, subject.clone(), roles.to_vec());
        if let Some(id) = self.caches.users.get(&key) {
            return Ok(id);
        }
        let data = self.tenant_data.tenant_data(tenant).await?;
        let id = data
            .members
            .upsert_user(&TenantScope::new(tenant.id), subject, roles)
            .await?;
        self.caches.users.insert(key, id);
        Ok(id)
    }

    /// The tenant's plan defaults with its overrides only — without its
    /// settings and flags. The upload, download and retention paths use
    /// [`Coffer::effective_config`] instead.
    pub fn limits_of(&self, tenant: &Tenant) -> PlanLimits {
        self.config
            .plans
            .for_plan(tenant.plan)
            .with_overrides(&tenant.limit_overrides)
    }
}
