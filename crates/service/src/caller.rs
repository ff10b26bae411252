//! Who is calling: token → principal → tenant, on the hot path of every request.

use std::sync::Arc;

use coffer_domain::{ErrorCode, Principal, Role, Subject, Tenant, TenantStatus, UserId};
use coffer_ports::{IdentityProvider, TenantDataResolver, TenantRegistry, TenantScope};

use crate::{ErrorKind, ServiceError, TenantCaches};

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
    /// Someone acting through the principal's rights (an outside party
    /// using an upload request): the audit log and events name it as the
    /// actor, while what it makes belongs to the principal.
    pub acting: Option<Subject>,
}

impl Caller {
    /// Who the audit log and events name: [`Caller::acting`] when set, else
    /// the principal.
    pub fn actor(&self) -> &Subject {
        self.acting.as_ref().unwrap_or(&self.principal.subject)
    }

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

    /// Whether the caller's tenant takes writes now: not while a move
    /// copies its data (docs/tenants-placement.md), when reads go on.
    ///
    /// # Errors
    /// `Unavailable` (`tenant_moving`, answered with `Retry-After`).
    pub fn writable(&self) -> Result<(), ServiceError> {
        match self.tenant.as_ref().and_then(|t| t.writes_frozen_at) {
            Some(_) => Err(ServiceError::new(
                ErrorKind::Unavailable,
                ErrorCode::TenantMoving,
                "this tenant is moving to another placement; writes resume after the switch",
            )),
            None => Ok(()),
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

/// Who is calling: verifies tokens, resolves their tenant (cached) and
/// provisions their user just in time.
#[derive(Clone)]
pub struct Authentication {
    identity: Arc<dyn IdentityProvider>,
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    caches: Arc<TenantCaches>,
}

impl Authentication {
    pub fn new(
        identity: Arc<dyn IdentityProvider>,
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        caches: Arc<TenantCaches>,
    ) -> Self {
        Self {
            identity,
            registry,
            tenant_data,
            caches,
        }
    }

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
            Some(claim) => self.caches.resolve(self.registry.as_ref(), claim).await?,
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
                    acting: None,
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
            acting: None,
        })
    }

    /// Just-in-time user provisioning, skipped while the same roles are cached.
    async fn provision_user(
        &self,
        tenant: &Tenant,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, ServiceError> {
        let key = (tenant.id, tenant.home(), subject.clone(), roles.to_vec());
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
}
