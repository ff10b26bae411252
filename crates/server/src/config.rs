//! Configuration: built-in defaults → `coffer.toml` (or `--config`) →
//! environment `COFFER__SECTION__KEY`. Unknown keys are refused, so a typo
//! fails at start instead of being silently ignored; secrets are
//! [`SecretString`]s and never print.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coffer_service::PlanDefaults;
use secrecy::SecretString;
use serde::Deserialize;

/// The whole configuration of a `coffer` process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Embedded data: SQLite file, objects, signing keys, dev issuer key.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub metadata: MetadataConfig,
    pub storage: StorageConfig,
    pub identity: IdentityConfig,
    pub uploads: UploadsConfig,
    pub jobs: JobsConfig,
    pub events: EventsConfig,
    pub billing: BillingConfig,
    pub plans: PlanDefaults,
    pub tenants: TenantsConfig,
    pub bootstrap: BootstrapConfig,
}

/// The in-process tenant cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    /// How long a resolved tenant and its settings and flags are cached.
    /// Changes drop the entry at once on every instance (PostgreSQL
    /// `LISTEN/NOTIFY`); the TTL is the backstop should a notification be
    /// lost.
    pub cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base URL clients reach; used in Coffer-signed storage URLs. Derived
    /// from `listen` when empty.
    pub public_url: Option<String>,
    /// Log as JSON lines instead of human-readable text.
    pub json_logs: bool,
    /// Upper bound of a request's handling (not of streamed transfers):
    /// past it the answer is `503 request_timeout`. Also bounds how long a
    /// client may take to send the request head. A backstop behind the
    /// dependency timeouts below, so keep it above them. 0: no bound.
    pub request_timeout_secs: u64,
    /// Largest JSON request body.
    pub json_limit_bytes: usize,
    pub workers: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetadataBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    pub backend: MetadataBackend,
    /// PostgreSQL URL of the service role (`coffer_app`).
    pub url: Option<SecretString>,
    /// PostgreSQL URL of the owner role, for `coffer migrate`.
    pub migration_url: Option<SecretString>,
    /// Run migrations at start-up (needs `migration_url`).
    pub migrate_on_start: bool,
    /// Password the migrations give the `coffer_app` role (with `LOGIN`);
    /// unset leaves the role's login as a DBA configured it.
    pub app_password: Option<SecretString>,
    pub pool_size: usize,
    /// Opening one PostgreSQL connection (TCP, TLS, authentication). 0: no bound.
    pub connect_timeout_secs: u64,
    /// Waiting for a free pooled connection when all are in use. 0: no bound.
    pub checkout_timeout_secs: u64,
    /// PostgreSQL's `statement_timeout` for the service's sessions (also the
    /// client-side bound of the readiness probe). 0: no bound.
    pub statement_timeout_secs: u64,
    /// SQLite file; `<data_dir>/coffer.db` when empty.
    pub sqlite_path: Option<PathBuf>,
    pub dedicated: DedicatedConfig,
}

/// Dedicated databases (metadata placement, docs/tenants-placement.md):
/// off unless `admin_url` is set; PostgreSQL only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedicatedConfig {
    /// URL of a role that may create databases on the server they are
    /// made on, with `{database}` where the name goes
    /// (`postgres://coffer_admin:…@db-ent:5432/{database}`).
    pub admin_url: Option<SecretString>,
    /// The service role's URL on that server, with `{database}`.
    pub app_url: Option<SecretString>,
    /// Tenants of these plans get a database of their own, unless their
    /// creation says `"dedicated_database": false`.
    pub plans: Vec<coffer_domain::Plan>,
    /// Databases are named `<prefix><tenant id without dashes>`.
    pub database_prefix: String,
    /// Connections per dedicated database.
    pub pool_size: usize,
    /// Region → server, for tenants whose database must stay in their
    /// region; other regions use the server above.
    pub regions: BTreeMap<String, DedicatedServerConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedicatedServerConfig {
    pub admin_url: SecretString,
    pub app_url: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Fs,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// The default bucket (a directory under `<data_dir>/objects` for `fs`).
    pub bucket: String,
    /// Category → bucket, e.g. `media = "coffer-media"`.
    pub category_buckets: BTreeMap<String, String>,
    /// Region → bucket, for data residency.
    pub region_buckets: BTreeMap<String, String>,
    /// Web origins allowed to use presigned URLs from a browser (bucket CORS).
    pub cors_origins: Vec<String>,
    /// Create and configure the buckets at start-up.
    pub ensure_buckets: bool,
    /// Bucket → lifecycle transitions, e.g. a documents bucket to
    /// `STANDARD_IA` after 30 days (applied where the store supports them).
    pub transitions: BTreeMap<String, Vec<coffer_ports::StorageTransition>>,
    pub s3: coffer_s3::S3Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityBackend {
    Dev,
    Keycloak,
}

/// `backend`, and for `keycloak` the keys of [`coffer_keycloak::KeycloakConfig`]
/// (`issuer`, `audience`, `tenant_claim`, …) beside it.
#[derive(Debug, Clone, Deserialize)]
pub struct IdentityConfig {
    pub backend: IdentityBackend,
    #[serde(flatten)]
    pub keycloak: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsConfig {
    /// How long a pending upload may take before it is reaped.
    pub window_secs: u64,
    /// Part size offered to multipart clients.
    pub multipart_part_size: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// How often `coffer serve` reaps expired uploads, purges expired trash
    /// and finishes interrupted erases (`coffer reap` does it once); 0 turns
    /// it off.
    pub sweep_interval_secs: u64,
    /// How often `coffer serve` reconciles objects with rows, repairing
    /// (`coffer reconcile --repair` does it once); 0 turns it off.
    pub reconcile_interval_secs: u64,
    /// How old an object without a row must be to count as an orphan: longer
    /// than any streamed upload takes between its object and its row.
    pub reconcile_grace_secs: u64,
    /// How long a permanent delete may take before the jobs finish it.
    pub erase_grace_secs: u64,
    /// How often `coffer serve` looks for queued tenant onboardings (each
    /// round runs every due one); 0 turns the worker off.
    pub onboarding_interval_ms: u64,
    /// How long a worker holds a claimed onboarding before another
    /// instance may take it over (its worker died).
    pub onboarding_lease_secs: u64,
}

/// Delivery of the events outbox to tenants' webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// How often `coffer serve` looks for due events; 0 turns delivery off.
    pub dispatch_interval_ms: u64,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff_base_ms: u64,
    /// Longest wait between two attempts.
    pub backoff_max_secs: u64,
    /// How long one delivery may take before it counts as failed.
    pub delivery_timeout_secs: u64,
    /// Age an event must reach before pollers (`GET /api/v1/events`) see it.
    pub settle_ms: u64,
}

impl EventsConfig {
    pub fn policy(&self) -> coffer_service::DeliveryPolicy {
        use std::time::Duration;
        let timeout = Duration::from_secs(self.delivery_timeout_secs);
        coffer_service::DeliveryPolicy {
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_secs(self.backoff_max_secs),
            // A claim outlives a whole batch's deliveries.
            lease: timeout.saturating_mul(4).max(Duration::from_secs(30)),
            settle: Duration::from_millis(self.settle_ms),
            ..coffer_service::DeliveryPolicy::default()
        }
    }
}

/// Billing events from a Stripe-compatible provider, at
/// `POST /webhooks/billing` (docs/billing.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// The endpoint's signing secret (Stripe's `whsec_…`); unset turns the
    /// endpoint off (it answers `404 billing_not_configured`).
    pub webhook_secret: Option<SecretString>,
    /// How far a signature's timestamp may be from now, in seconds.
    pub tolerance_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    /// A tenant created at start-up if missing (embedded mode's first
    /// tenant); empty for none.
    pub tenant: String,
}

/// The defaults, as TOML: the embedded mode, listening on localhost.
const DEFAULTS: &str = r#"
data_dir = "./.coffer"

[server]
listen = "127.0.0.1:8080"
json_logs = false
request_timeout_secs = 30
json_limit_bytes = 65536

[metadata]
backend = "sqlite"
migrate_on_start = true
pool_size = 32
connect_timeout_secs = 5
checkout_timeout_secs = 5
statement_timeout_secs = 10

[metadata.dedicated]
plans = ["enterprise"]
database_prefix = "coffer_t_"
pool_size = 4
regions = {}

[storage]
backend = "fs"
bucket = "coffer"
category_buckets = {}
region_buckets = {}
cors_origins = []
ensure_buckets = true
transitions = {}

[storage.s3]

[identity]
backend = "dev"

[uploads]
window_secs = 3600
multipart_part_size = 16777216

[jobs]
sweep_interval_secs = 300
reconcile_interval_secs = 3600
reconcile_grace_secs = 3600
erase_grace_secs = 300
onboarding_interval_ms = 1000
onboarding_lease_secs = 300

[events]
dispatch_interval_ms = 1000
max_attempts = 10
backoff_base_ms = 5000
backoff_max_secs = 3600
delivery_timeout_secs = 10
settle_ms = 2000

[billing]
tolerance_secs = 300

[tenants]
cache_ttl_secs = 5

[bootstrap]
tenant = "acme"
"#;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Load the layers. `file` is `--config`; without it `./coffer.toml` is
    /// read when present.
    ///
    /// # Errors
    /// A file that does not parse, an unknown key, a value of the wrong type.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Config::load`], with the environment given (for tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let defaults_plans = toml_plans()?;
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from_str(
                &defaults_plans,
                config::FileFormat::Toml,
            ));
        builder = match file {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name("coffer.toml").required(false)),
        };
        let mut env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("COFFER__"))
            .collect();
        // The bucket is not S3's alone (the local store has buckets too), so it
        // lives in `[storage]`; the S3-flavoured name operators know is
        // accepted for it, the general key winning when both are set.
        if let Some(bucket) = env.remove("COFFER__STORAGE__S3__BUCKET") {
            env.entry("COFFER__STORAGE__BUCKET".to_owned())
                .or_insert(bucket);
        }
        builder = builder.add_source(
            config::Environment::with_prefix("COFFER")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("storage.cors_origins")
                .source(Some(env)),
        );
        let config: Self = builder.build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.identity.backend == IdentityBackend::Keycloak
            && !self.identity.keycloak.contains_key("issuer")
        {
            return Err(ConfigError::Invalid(
                "identity.issuer (COFFER__IDENTITY__ISSUER) is required for the keycloak backend"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The PostgreSQL pool's size and timeouts.
    pub fn pool_options(&self) -> coffer_postgres::PoolOptions {
        coffer_postgres::PoolOptions {
            max_size: self.metadata.pool_size,
            connect_timeout: seconds(self.metadata.connect_timeout_secs),
            checkout_timeout: seconds(self.metadata.checkout_timeout_secs),
            statement_timeout: seconds(self.metadata.statement_timeout_secs),
        }
    }

    /// The bound of one request's handling, if any.
    pub fn request_timeout(&self) -> Option<Duration> {
        seconds(self.server.request_timeout_secs)
    }

    /// The URL clients use to reach this server.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
            _ => format!("http://{}", self.server.listen),
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.metadata
            .sqlite_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("coffer.db"))
    }

    /// Whether everything runs on the embedded defaults.
    pub fn is_embedded(&self) -> bool {
        self.metadata.backend == MetadataBackend::Sqlite
            && self.storage.backend == StorageBackend::Fs
            && self.identity.backend == IdentityBackend::Dev
    }
}

/// Timeout keys count seconds; 0 means no bound.
fn seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// The plan defaults are defined once, in the service; render them as a layer.
fn toml_plans() -> Result<String, ConfigError> {
    let plans = serde_json::to_value(PlanDefaults::default())
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut out = String::new();
    if let serde_json::Value::Object(plans) = plans {
        for (plan, limits) in plans {
            out.push_str(&format!("[plans.{plan}]\n"));
            if let serde_json::Value::Object(limits) = limits {
                for (key, value) in limits {
                    out.push_str(&format!("{key} = {value}\n"));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let config = Config::load_from(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.is_embedded());
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(config.plans, PlanDefaults::default());
        assert!(config.storage.transitions.is_empty());
    }

    #[test]
    fn a_file_sets_lifecycle_transitions() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("coffer.toml");
        let toml = "[storage.transitions]\ncoffer-docs = [{ after_days = 30, storage_class = \"STANDARD_IA\" }]\n";
        std::fs::write(&file, toml).unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load_from(Some(&file), env(&[])).unwrap_or_else(|e| panic!("{e}"));
        let docs = config
            .storage
            .transitions
            .get("coffer-docs")
            .cloned()
            .unwrap_or_default();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs.first()
                .map(|t| (t.after_days, t.storage_class.as_str())),
            Some((30, "STANDARD_IA"))
        );
    }

    #[test]
    fn environment_overrides_and_unknown_keys_fail() {
        let config = Config::load_from(
            None,
            env(&[
                ("COFFER__SERVER__LISTEN", "0.0.0.0:9000"),
                (
                    "COFFER__STORAGE__CORS_ORIGINS",
                    "https://a.example,https://b.example",
                ),
                ("COFFER__PLANS__STARTER__MAX_FILE_SIZE", "7"),
                ("COFFER_TEST_UNRELATED", "x"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.storage.cors_origins.len(), 2);
        assert_eq!(config.plans.starter.max_file_size, 7);

        let aliased = Config::load_from(None, env(&[("COFFER__STORAGE__S3__BUCKET", "docs-eu")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(aliased.storage.bucket, "docs-eu");

        let err = Config::load_from(None, env(&[("COFFER__SERVER__LISTN", "x")])).err();
        assert!(err.is_some_and(|e| e.to_string().contains("listn")));
    }

    #[test]
    fn timeouts_have_defaults_and_zero_turns_them_off() {
        let config = Config::load_from(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        let pool = config.pool_options();
        assert_eq!(pool.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(pool.checkout_timeout, Some(Duration::from_secs(5)));
        assert_eq!(pool.statement_timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.request_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(config.storage.s3.operation_timeout, Duration::from_secs(20));
        let tuned = Config::load_from(
            None,
            env(&[
                ("COFFER__METADATA__STATEMENT_TIMEOUT_SECS", "0"),
                ("COFFER__METADATA__CHECKOUT_TIMEOUT_SECS", "2"),
                ("COFFER__SERVER__REQUEST_TIMEOUT_SECS", "0"),
                ("COFFER__STORAGE__S3__OPERATION_TIMEOUT", "3"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tuned.pool_options().statement_timeout, None);
        assert_eq!(
            tuned.pool_options().checkout_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(tuned.request_timeout(), None);
        assert_eq!(tuned.storage.s3.operation_timeout, Duration::from_secs(3));
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::load_from(
            None,
            env(&[
                ("COFFER__METADATA__BACKEND", "postgres"),
                (
                    "COFFER__METADATA__URL",
                    "postgres://coffer_app:hunter2@db/coffer",
                ),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let billing = Config::load_from(
            None,
            env(&[("COFFER__BILLING__WEBHOOK_SECRET", "whsec_hunter3")]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(billing.billing.webhook_secret.is_some());
        assert_eq!(billing.billing.tolerance_secs, 300);
        assert!(!format!("{billing:?}").contains("whsec_hunter3"));
        // `coffer migrate` needs only the owner URL; serving needs the app URL.
        let migrate_only = Config::load_from(
            None,
            env(&[
                ("COFFER__METADATA__BACKEND", "postgres"),
                (
                    "COFFER__METADATA__MIGRATION_URL",
                    "postgres://owner@db/coffer",
                ),
                ("COFFER__METADATA__APP_PASSWORD", "s3cret-app"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{migrate_only:?}").contains("s3cret-app"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let missing = runtime.block_on(crate::wiring::metadata(&Config {
            metadata: MetadataConfig {
                migrate_on_start: false,
                ..migrate_only.metadata.clone()
            },
            ..migrate_only
        }));
        assert!(
            missing
                .err()
                .is_some_and(|e| e.to_string().contains("COFFER__METADATA__URL"))
        );
    }
}
