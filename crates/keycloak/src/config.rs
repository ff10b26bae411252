use std::time::Duration;

use serde::Deserialize;

/// Settings of the Keycloak adapter (`[identity]` in `coffer.toml`, env
/// `COFFER__IDENTITY__…`). Only `issuer` is required; see `docs/identity.md`.
#[derive(Debug, Clone, Deserialize)]
pub struct KeycloakConfig {
    /// The realm's issuer, `{base}/realms/{realm}`, exactly as it appears in
    /// the tokens' `iss` claim.
    pub issuer: String,
    /// The audience Coffer's tokens carry in `aud` (an audience mapper in Keycloak).
    #[serde(default = "defaults::audience")]
    pub audience: String,
    /// Accept a token whose `azp` equals `audience` even if `aud` does not
    /// contain it (Keycloak's default tokens carry `aud: account` only).
    #[serde(default)]
    pub use_azp: bool,
    /// Claim holding the tenant's slug or UUID (a string, or a list of them).
    #[serde(default = "defaults::tenant_claim")]
    pub tenant_claim: String,
    /// Keycloak Organizations claim, used when `tenant_claim` is absent.
    #[serde(default = "defaults::organization_claim")]
    pub organization_claim: String,
    /// Client whose roles in `resource_access.<client>.roles` count.
    #[serde(default = "defaults::audience")]
    pub client_id: String,
    /// Which provider role names mean which Coffer role.
    #[serde(default)]
    pub roles: RoleNames,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[serde(default = "defaults::leeway_secs")]
    pub leeway_secs: u64,
    /// At most one JWKS refetch for an unknown `kid` per this many seconds.
    #[serde(default = "defaults::jwks_refetch_interval_secs")]
    pub jwks_refetch_interval_secs: u64,
    /// Keys older than this are refreshed on the next verification, so a key
    /// the issuer withdrew stops being trusted.
    #[serde(default = "defaults::jwks_max_age_secs")]
    pub jwks_max_age_secs: u64,
    /// Accepted token types (`typ` in the header or the payload); empty
    /// disables the check.
    #[serde(default = "defaults::token_types")]
    pub token_types: Vec<String>,
    /// How many verified tokens are kept (each until it expires).
    #[serde(default = "defaults::cache_capacity")]
    pub cache_capacity: u64,
    /// Timeout of discovery and JWKS requests, in seconds.
    #[serde(default = "defaults::http_timeout_secs")]
    pub http_timeout_secs: u64,
}

impl KeycloakConfig {
    /// The defaults for everything but the issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: defaults::audience(),
            use_azp: false,
            tenant_claim: defaults::tenant_claim(),
            organization_claim: defaults::organization_claim(),
            client_id: defaults::audience(),
            roles: RoleNames::default(),
            leeway_secs: defaults::leeway_secs(),
            jwks_refetch_interval_secs: defaults::jwks_refetch_interval_secs(),
            jwks_max_age_secs: defaults::jwks_max_age_secs(),
            token_types: defaults::token_types(),
            cache_capacity: defaults::cache_capacity(),
            http_timeout_secs: defaults::http_timeout_secs(),
        }
    }

    /// The claim-mapping part. (Kept as plain fields above rather than a
    /// `#[serde(flatten)]` struct: flattening makes serde buffer values, and
    /// the `config` crate's environment strings then no longer parse as
    /// numbers or booleans.)
    pub fn claim_mapping(&self) -> ClaimMapping {
        ClaimMapping {
            tenant_claim: self.tenant_claim.clone(),
            organization_claim: self.organization_claim.clone(),
            client_id: self.client_id.clone(),
            roles: self.roles.clone(),
        }
    }

    pub(crate) fn refetch_interval(&self) -> Duration {
        Duration::from_secs(self.jwks_refetch_interval_secs)
    }

    pub(crate) fn max_age(&self) -> Duration {
        Duration::from_secs(self.jwks_max_age_secs)
    }
}

/// Where the principal's tenant and roles are read from in a token (see
/// the fields of the same names on [`KeycloakConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub tenant_claim: String,
    pub organization_claim: String,
    pub client_id: String,
    pub roles: RoleNames,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            tenant_claim: defaults::tenant_claim(),
            organization_claim: defaults::organization_claim(),
            client_id: defaults::audience(),
            roles: RoleNames::default(),
        }
    }
}

/// Provider role names for Coffer's roles (realm or client roles alike).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RoleNames {
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    pub platform_admin: String,
}

impl Default for RoleNames {
    fn default() -> Self {
        Self {
            admin: "admin".into(),
            editor: "editor".into(),
            viewer: "viewer".into(),
            platform_admin: "platform-admin".into(),
        }
    }
}

mod defaults {
    pub fn audience() -> String {
        "coffer".into()
    }
    pub fn tenant_claim() -> String {
        "tenant".into()
    }
    pub fn organization_claim() -> String {
        "organization".into()
    }
    pub fn leeway_secs() -> u64 {
        30
    }
    pub fn jwks_refetch_interval_secs() -> u64 {
        10
    }
    pub fn jwks_max_age_secs() -> u64 {
        600
    }
    pub fn token_types() -> Vec<String> {
        vec!["Bearer".into(), "at+jwt".into()]
    }
    /// Verified tokens kept: one per active session, so above the users
    /// of 10,000 active tenants (docs/benchmarks.md); an entry is the
    /// token's hash and its principal, a few hundred bytes.
    pub fn cache_capacity() -> u64 {
        100_000
    }
    pub fn http_timeout_secs() -> u64 {
        10
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issuer_is_required() {
        let c: KeycloakConfig =
            serde_json::from_str(r#"{"issuer": "https://sso/realms/coffer"}"#).unwrap();
        assert_eq!(c.audience, "coffer");
        assert_eq!(c.claim_mapping(), ClaimMapping::default());
        assert_eq!(c.leeway_secs, 30);
        assert!(!c.use_azp);
        assert!(serde_json::from_str::<KeycloakConfig>("{}").is_err());
    }

    #[test]
    fn flattened_mapping_keys_and_role_names() {
        let c: KeycloakConfig = serde_json::from_str(
            r#"{"issuer": "i", "tenant_claim": "org", "client_id": "files",
                "roles": {"platform_admin": "superuser"}, "use_azp": true}"#,
        )
        .unwrap();
        assert_eq!(c.tenant_claim, "org");
        assert_eq!(c.client_id, "files");
        assert_eq!(c.roles.platform_admin, "superuser");
        assert_eq!(c.roles.admin, "admin");
        assert!(c.use_azp);
    }

    #[test]
    fn layered_like_the_server_with_strings_from_the_environment() {
        // env values arrive as strings; they must still parse as numbers and booleans
        let c: KeycloakConfig = config::Config::builder()
            .add_source(config::File::from_str(
                "issuer = \"https://sso/realms/coffer\"\n[roles]\nadmin = \"boss\"\n",
                config::FileFormat::Toml,
            ))
            .set_override("leeway_secs", "5")
            .unwrap()
            .set_override("use_azp", "true")
            .unwrap()
            .set_override("tenant_claim", "org")
            .unwrap()
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(c.leeway_secs, 5);
        assert!(c.use_azp);
        assert_eq!(c.tenant_claim, "org");
        assert_eq!(c.roles.admin, "boss");
        assert_eq!(c.roles.viewer, "viewer");
    }
}
