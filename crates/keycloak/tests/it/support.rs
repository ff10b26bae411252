use coffer_keycloak::{KeycloakConfig, KeycloakError, KeycloakProvider};
use coffer_ports::{IdentityErrorKind, TenantClaim, VerifiedIdentity};
use serde_json::{Value, json};

/// Where the test issuer is; fails loudly when the service is not started.
pub struct Issuer {
    base: String,
    password: String,
    cli: (String, String),
    service: (String, String),
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test OIDC issuer with `scripts/services/oidc-issuer.sh start` \
             and `source .test-services/oidc-issuer.env`"
        )
    })
}

pub fn issuer() -> Issuer {
    Issuer {
        base: var("COFFER_TEST_OIDC_BASE"),
        password: var("COFFER_TEST_OIDC_PASSWORD"),
        cli: (
            var("COFFER_TEST_OIDC_CLI_CLIENT_ID"),
            var("COFFER_TEST_OIDC_CLI_SECRET"),
        ),
        service: (
            var("COFFER_TEST_OIDC_SERVICE_CLIENT_ID"),
            var("COFFER_TEST_OIDC_SERVICE_SECRET"),
        ),
    }
}

/// A realm of this test's own, so key rotation and fetch counts are not
/// disturbed by tests running in parallel.
pub fn fresh_realm(purpose: &str) -> String {
    format!(
        "{purpose}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl Issuer {
    pub fn url(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base)
    }

    pub fn config(&self, realm: &str) -> KeycloakConfig {
        KeycloakConfig::new(self.url(realm))
    }

    pub async fn provider(&self, realm: &str) -> KeycloakProvider {
        KeycloakProvider::connect(self.config(realm)).await.unwrap()
    }

    async fn token_request(
        &self,
        realm: &str,
        client: &(String, String),
        form: &[(&str, &str)],
    ) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.url(realm)))
            .basic_auth(&client.0, Some(&client.1))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "token request failed: {status} {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A user's access token from the password grant.
    pub async fn user_token(&self, realm: &str, user: &str) -> String {
        let form = [
            ("grant_type", "password"),
            ("username", user),
            ("password", &self.password),
        ];
        self.token_request(realm, &self.cli, &form).await
    }

    /// The service client's access token from client_credentials.
    pub async fn service_token(&self, realm: &str) -> String {
        self.token_request(
            realm,
            &self.service,
            &[("grant_type", "client_credentials")],
        )
        .await
    }

    pub fn service_client_id(&self) -> &str {
        &self.service.0
    }

    async fn admin(&self, method: reqwest::Method, realm: &str, what: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .request(method, format!("{}/admin/realms/{realm}/{what}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "admin {what}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// A token signed by the realm's current key (or as `sign` says) with
    /// `claims`/`header` merged over Keycloak-like defaults (null removes).
    pub async fn mint(&self, realm: &str, spec: Value) -> String {
        self.admin(reqwest::Method::POST, realm, "mint", spec).await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// New signing key at the issuer; returns its kid.
    pub async fn rotate(&self, realm: &str) -> String {
        self.rotate_with(realm, json!({})).await
    }

    /// `{"retire": true}` also withdraws the previous keys from the JWKS.
    pub async fn rotate_with(&self, realm: &str, body: Value) -> String {
        self.admin(reqwest::Method::POST, realm, "rotate", body)
            .await["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn jwks_fetches(&self, realm: &str) -> u64 {
        self.admin(reqwest::Method::GET, realm, "jwks-fetches", json!({}))
            .await["count"]
            .as_u64()
            .unwrap()
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn slug(s: &str) -> Option<TenantClaim> {
    Some(TenantClaim::parse(s).unwrap())
}

/// Asserts a refusal: its port kind and a word of its reason.
#[track_caller]
pub fn refused(
    result: Result<VerifiedIdentity, KeycloakError>,
    kind: IdentityErrorKind,
    reason: &str,
) {
    match result {
        Ok(identity) => panic!("accepted, expected a refusal ({reason}): {identity:?}"),
        Err(err) => {
            assert_eq!(err.kind(), kind, "wrong kind for: {err}");
            assert!(
                err.to_string().contains(reason),
                "reason `{err}` does not mention `{reason}`"
            );
        }
    }
}
