use async_trait::async_trait;
use coffer_domain::{Role, Subject, TenantId, TenantSlug};
use time::OffsetDateTime;

use crate::IdentityError;

/// The tenant a token names: by slug, or by id (both are accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantClaim {
    Slug(TenantSlug),
    Id(TenantId),
}

impl TenantClaim {
    /// A UUID is an id; anything else must be a valid slug.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<TenantId>()
            .map(Self::Id)
            .ok()
            .or_else(|| TenantSlug::new(raw).ok().map(Self::Slug))
    }
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub subject: Subject,
    /// `None` only for tokens that name no tenant (platform administrators).
    pub tenant: Option<TenantClaim>,
    pub roles: Vec<Role>,
    /// The OAuth client the token was issued to (`azp`/`client_id`), if any.
    pub client_id: Option<String>,
    pub expires_at: OffsetDateTime,
}

/// Verifies bearer tokens (Keycloak/OIDC in production, a local key in
/// embedded mode).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Verify `token` and map its claims. `selected_tenant` is the
    /// `X-Tenant` header, used when the token holds several organisations.
    ///
    /// # Errors
    /// `Invalid` or `Expired` for a token that must be refused;
    /// `TenantMissing`/`TenantNotAllowed` when no single tenant can be chosen;
    /// `Unavailable` when the provider's keys cannot be fetched.
    async fn verify(
        &self,
        token: &str,
        selected_tenant: Option<String>,
    ) -> Result<VerifiedIdentity, IdentityError>;
}
