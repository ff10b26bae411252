//! From verified claims to Coffer's principal: subject, tenant candidates
//! (tenant claim or Keycloak Organizations), roles. Shared by the Keycloak
//! adapter and the dev issuer.

use coffer_domain::{Role, Subject};
use coffer_ports::{TenantClaim, VerifiedIdentity};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{ClaimMapping, KeycloakError};

/// A tenant a token holds: the value Coffer resolves (slug or UUID) and
/// other names `X-Tenant` may use for it (a Keycloak organisation's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TenantCandidate {
    pub value: String,
    pub aliases: Vec<String>,
}

/// Everything a verified token says, before the `X-Tenant` selection; what
/// the verified-token cache keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MappedToken {
    pub subject: Subject,
    pub tenants: Vec<TenantCandidate>,
    pub roles: Vec<Role>,
    pub client_id: Option<String>,
    pub expires_at: OffsetDateTime,
}

impl ClaimMapping {
    pub(crate) fn map(&self, claims: &Map<String, Value>) -> Result<MappedToken, KeycloakError> {
        let subject = match claims.get("sub") {
            Some(Value::String(s)) => Subject::new(s.clone())
                .map_err(|e| KeycloakError::invalid_claim("sub", e.reason))?,
            Some(_) => return Err(KeycloakError::invalid_claim("sub", "not a string")),
            None => return Err(KeycloakError::MissingClaim("sub".into())),
        };
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| OffsetDateTime::from_unix_timestamp(exp).ok())
            .ok_or_else(|| KeycloakError::invalid_claim("exp", "not a timestamp"))?;
        let client_id = ["azp", "client_id"]
            .iter()
            .find_map(|c| claims.get(*c).and_then(Value::as_str))
            .map(str::to_owned);
        Ok(MappedToken {
            subject,
            tenants: self.tenants(claims)?,
            roles: self.roles(claims),
            client_id,
            expires_at,
        })
    }

    /// The configured tenant claim (a string or a list) wins; otherwise
    /// Keycloak's `organization` claim in either shape: `["acme", …]`, or
    /// `{"acme": {"id": "…"}, …}` when the mapper adds organisation ids.
    fn tenants(&self, claims: &Map<String, Value>) -> Result<Vec<TenantCandidate>, KeycloakError> {
        let plain = |value: &str| TenantCandidate {
            value: value.to_owned(),
            aliases: Vec::new(),
        };
        let strings = |claim: &str, list: &[Value]| {
            list.iter()
                .map(|v| {
                    v.as_str()
                        .map(plain)
                        .ok_or_else(|| KeycloakError::invalid_claim(claim, "not a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if let Some(value) = claims.get(&self.tenant_claim) {
            let claim = self.tenant_claim.as_str();
            return match value {
                Value::String(s) => Ok(vec![plain(s)]),
                Value::Array(list) => strings(claim, list),
                _ => Err(KeycloakError::invalid_claim(
                    claim,
                    "not a string or a list",
                )),
            };
        }
        let claim = self.organization_claim.as_str();
        match claims.get(claim) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(list)) => strings(claim, list),
            Some(Value::Object(orgs)) => Ok(orgs
                .iter()
                .map(|(alias, details)| TenantCandidate {
                    value: alias.clone(),
                    aliases: details
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .into_iter()
                        .collect(),
                })
                .collect()),
            Some(_) => Err(KeycloakError::invalid_claim(claim, "not a list or a map")),
        }
    }

    /// Realm roles and this client's roles; names that mean nothing to
    /// Coffer (Keycloak's `offline_access`, other clients' roles) are ignored.
    fn roles(&self, claims: &Map<String, Value>) -> Vec<Role> {
        let names = |v: Option<&Value>| -> Vec<String> {
            v.and_then(|v| v.get("roles"))
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut all = names(claims.get("realm_access"));
        all.extend(names(
            claims
                .get("resource_access")
                .and_then(|r| r.get(&self.client_id)),
        ));
        let n = &self.roles;
        let mut roles: Vec<Role> = all
            .iter()
            .filter_map(|name| match name.as_str() {
                x if x == n.admin => Some(Role::Admin),
                x if x == n.editor => Some(Role::Editor),
                x if x == n.viewer => Some(Role::Viewer),
                x if x == n.platform_admin => Some(Role::PlatformAdmin),
                _ => None,
            })
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

impl MappedToken {
    /// Chooses the tenant, using `X-Tenant` when given: it must name one of
    /// the token's tenants; several tenants and none selected is refused. A
    /// token without any tenant is only valid for a platform administrator.
    pub(crate) fn select(&self, selected: Option<&str>) -> Result<VerifiedIdentity, KeycloakError> {
        let selected = selected.map(str::trim).filter(|s| !s.is_empty());
        let chosen = match (self.tenants.as_slice(), selected) {
            ([], None) if self.roles.contains(&Role::PlatformAdmin) => None,
            ([], None) => {
                return Err(KeycloakError::TenantMissing(
                    "the token names no tenant".into(),
                ));
            }
            ([only], None) => Some(only),
            (many, None) => {
                return Err(KeycloakError::TenantMissing(format!(
                    "the token holds {} tenants; choose one with X-Tenant",
                    many.len()
                )));
            }
            (all, Some(sel)) => Some(
                all.iter()
                    .find(|c| matches(c, sel))
                    .ok_or_else(|| KeycloakError::TenantNotAllowed(sel.to_owned()))?,
            ),
        };
        let tenant = chosen
            .map(|c| {
                TenantClaim::parse(&c.value).ok_or_else(|| {
                    KeycloakError::invalid_claim(
                        "tenant",
                        format!("`{}` is not a slug or UUID", c.value),
                    )
                })
            })
            .transpose()?;
        Ok(VerifiedIdentity {
            subject: self.subject.clone(),
            tenant,
            roles: self.roles.clone(),
            client_id: self.client_id.clone(),
            expires_at: self.expires_at,
        })
    }
}

fn matches(candidate: &TenantCandidate, selected: &str) -> bool {
    candidate.value == selected
        || candidate.aliases.iter().any(|a| a == selected)
        // a UUID may be written in any case
        || matches!(
            (TenantClaim::parse(&candidate.value), TenantClaim::parse(selected)),
            (Some(TenantClaim::Id(a)), Some(TenantClaim::Id(b))) if a == b
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use coffer_domain::TenantSlug;
    use serde_json::json;

    use super::*;
    use crate::RoleNames;

    fn map(claims: Value) -> Result<MappedToken, KeycloakError> {
        ClaimMapping::default().map(claims.as_object().unwrap())
    }

    fn slug(s: &str) -> Option<TenantClaim> {
        Some(TenantClaim::Slug(TenantSlug::new(s).unwrap()))
    }

    #[test]
    fn realm_and_own_client_roles_count_others_do_not() {
        let t = map(json!({"sub": "a", "exp": 2_000_000_000, "tenant": "acme",
            "realm_access": {"roles": ["editor", "offline_access"]},
            "resource_access": {"coffer": {"roles": ["viewer"]}, "other": {"roles": ["admin"]}}}))
        .unwrap();
        assert_eq!(t.roles, vec![Role::Editor, Role::Viewer]);
    }

    #[test]
    fn role_names_are_configurable() {
        let mapping = ClaimMapping {
            roles: RoleNames {
                admin: "coffer-admin".into(),
                ..RoleNames::default()
            },
            ..ClaimMapping::default()
        };
        let claims = json!({"sub": "a", "exp": 2_000_000_000, "tenant": "acme",
            "realm_access": {"roles": ["coffer-admin", "admin"]}});
        let t = mapping.map(claims.as_object().unwrap()).unwrap();
        assert_eq!(t.roles, vec![Role::Admin]);
    }

    #[test]
    fn tenant_claim_wins_over_organizations() {
        let t = map(json!({"sub": "a", "exp": 2_000_000_000, "tenant": "acme",
            "organization": ["globex"]}))
        .unwrap();
        assert_eq!(t.select(None).unwrap().tenant, slug("acme"));
    }

    #[test]
    fn selection_rules() {
        let t = map(json!({"sub": "a", "exp": 2_000_000_000,
            "organization": {"acme": {"id": "k1"}, "globex": {"id": "k2"}}}))
        .unwrap();
        assert!(matches!(
            t.select(None),
            Err(KeycloakError::TenantMissing(_))
        ));
        assert_eq!(t.select(Some("globex")).unwrap().tenant, slug("globex"));
        assert_eq!(t.select(Some("k1")).unwrap().tenant, slug("acme"));
        assert!(matches!(
            t.select(Some("initech")),
            Err(KeycloakError::TenantNotAllowed(_))
        ));
    }

    #[test]
    fn no_tenant_only_for_platform_admins() {
        let user = map(json!({"sub": "a", "exp": 2_000_000_000})).unwrap();
        assert!(matches!(
            user.select(None),
            Err(KeycloakError::TenantMissing(_))
        ));
        let admin = map(json!({"sub": "a", "exp": 2_000_000_000,
            "realm_access": {"roles": ["platform-admin"]}}))
        .unwrap();
        assert_eq!(admin.select(None).unwrap().tenant, None);
        assert!(matches!(
            admin.select(Some("acme")),
            Err(KeycloakError::TenantNotAllowed(_))
        ));
    }

    #[test]
    fn bad_claims_are_refused() {
        assert!(matches!(
            map(json!({"exp": 2_000_000_000})),
            Err(KeycloakError::MissingClaim(_))
        ));
        assert!(map(json!({"sub": 5, "exp": 2_000_000_000})).is_err());
        assert!(map(json!({"sub": "a", "exp": 2_000_000_000, "tenant": 5})).is_err());
        let bad_slug =
            map(json!({"sub": "a", "exp": 2_000_000_000, "tenant": "Not A Slug"})).unwrap();
        assert!(matches!(
            bad_slug.select(None),
            Err(KeycloakError::InvalidClaim { .. })
        ));
    }
}
