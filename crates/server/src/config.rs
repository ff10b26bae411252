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
    pub scanning: ScanningConfig,
    pub credentials: CredentialsConfig,
    pub billing: BillingConfig,
    pub rate_limits: RateLimitsConfig,
    pub metrics: MetricsConfig,
    pub plans: PlanDefaults,
    pub tenants: TenantsConfig,
    pub bootstrap: BootstrapConfig,
    pub web: WebConfig,
}

/// The web app at `/` (docs/web-app.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the app and its sign-in.
    pub enabled: bool,
    /// The app's OAuth client at the issuer (`keycloak` identity): a client
    /// with the standard flow, PKCE S256 and `{public_url}/app/callback`
    /// as its redirect URI.
    pub client_id: String,
    /// Only when that client is confidential.
    pub client_secret: Option<SecretString>,
    /// How long a dev sign-in (embedded issuer) lasts.
    pub dev_session_secs: u64,
}

/// The in-process tenant cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    /// How long at most a resolved tenant and its settings and flags are
    /// cached; unset, [`TenantsConfig::cache_ttl`] picks it by backend.
    pub cache_ttl_secs: Option<u64>,
}

impl TenantsConfig {
    /// On PostgreSQL every change to a tenant, a setting or a flag
    /// notifies every instance, whoever makes it (a trigger per table), so
    /// the TTL is only a backstop: 300 s. On SQLite a `coffer tenant`
    /// command run beside `coffer serve` is another process that nothing
    /// reports, and the TTL is how soon the server sees it: 60 s.
    pub fn cache_ttl(&self, backend: MetadataBackend) -> Duration {
        let secs = self.cache_ttl_secs.unwrap_or(match backend {
            MetadataBackend::Postgres => 300,
            MetadataBackend::Sqlite => 60,
        });
        Duration::from_secs(secs.max(1))
    }
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
    /// Web origins whose pages may call `/api/v1` from a browser (CORS):
    /// exact origins (`https://app.example.com`) or `*`. The storage route
    /// follows `storage.cors_origins`, as an S3 bucket does.
    pub cors_origins: Vec<String>,
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
    /// Audit group-commit batches in flight at once per database (each
    /// keeps one PostgreSQL backend busy; fewer make larger batches).
    /// 0: half the cores of this machine, at least one.
    pub audit_lanes: usize,
    /// SQLite file; `<data_dir>/coffer.db` when empty.
    pub sqlite_path: Option<PathBuf>,
    pub dedicated: DedicatedConfig,
    pub schemas: SchemasConfig,
    /// Region → its shared database (`[metadata.regions.eu-west]`): the
    /// data of that region's tenants lives there, the registry stays in
    /// the database above. Once any is set, a tenant of a region without
    /// one is refused at creation.
    #[serde(default)]
    pub regions: BTreeMap<String, RegionDatabaseConfig>,
}

/// One region's shared database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionDatabaseConfig {
    /// The service role's URL (`coffer_app`).
    pub url: SecretString,
    /// The owner role's URL: migrations, and the tenants' rows and schemas.
    pub migration_url: SecretString,
    /// Connections to it; `metadata.pool_size` when unset.
    pub pool_size: Option<usize>,
}

/// Tenant schemas (a schema per tenant in the shared database,
/// docs/tenants-placement.md): off unless `enabled`; PostgreSQL only, made
/// and migrated through `migration_url` (the owner role).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemasConfig {
    pub enabled: bool,
    /// Tenants of these plans get a schema of their own, unless their
    /// creation says `"dedicated_schema": false` (or they get a database).
    pub plans: Vec<coffer_domain::Plan>,
    /// Schemas are named `<prefix><tenant id without dashes>`.
    pub schema_prefix: String,
}

/// Dedicated databases (a database per tenant, docs/tenants-databases.md):
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
    /// Region → bucket on the default endpoint, for data residency.
    pub region_buckets: BTreeMap<String, String>,
    /// Region → its bucket and, optionally, an S3 endpoint of its own
    /// (`[storage.regions.eu-west]`). A region is either here or in
    /// `region_buckets`, never both.
    pub regions: BTreeMap<String, RegionStorage>,
    /// Web origins allowed to use presigned URLs from a browser (bucket CORS).
    pub cors_origins: Vec<String>,
    /// Create and configure the buckets at start-up.
    pub ensure_buckets: bool,
    /// Bucket → lifecycle transitions, e.g. a documents bucket to
    /// `STANDARD_IA` after 30 days (applied where the store supports them).
    pub transitions: BTreeMap<String, Vec<coffer_ports::StorageTransition>>,
    pub s3: coffer_s3::S3Config,
}

/// Where a region's objects live: `bucket`, on the region's own endpoint
/// when `s3` is set, else on the default one (as `region_buckets`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionStorage {
    pub bucket: String,
    /// The region's endpoint. Keys it leaves out are taken from
    /// `[storage.s3]`, except [`NOT_INHERITED`]: where the store is and
    /// whose credentials open it are never borrowed from another region.
    pub s3: Option<coffer_s3::S3Config>,
}

/// Keys of `[storage.s3]` a region's `s3` table does not inherit. An
/// endpoint inherited by a region that forgot its own would put that
/// region's objects in the default region, the one thing residency forbids.
pub const NOT_INHERITED: [&str; 5] = [
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    // An STS role issues credentials for its own store only.
    "sts",
];

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

/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 << 30;

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
    /// How long a moving tenant's writes are frozen before its rows are
    /// copied (every instance sees the freeze; writes under way end).
    /// Moves run on the onboarding interval, under its lease.
    pub move_freeze_grace_ms: u64,
}

/// Temporary store credentials (docs/storage.md, "Temporary credentials");
/// they exist where a store has `[storage.s3.sts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// The longest lifetime per plan (at least 900; `sts.max_duration_secs`
    /// bounds it too).
    pub max_ttl_secs: PlanSeconds,
    /// The lifetime of a request without `ttl_secs`, within the maximum.
    pub default_ttl_secs: u64,
    /// How long after write credentials expire their uploads can still be
    /// registered; then the sweep deletes what is left.
    pub registration_window_secs: u64,
}

/// Seconds per plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSeconds {
    pub starter: u64,
    pub professional: u64,
    pub enterprise: u64,
}

/// Malware scanning of uploads (docs/scanning.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanningConfig {
    /// clamd's address, `tcp://HOST:PORT` or `unix:///PATH`; empty: no
    /// scanner, nothing is scanned.
    pub clamd: String,
    /// Plans whose tenants' uploads are scanned (a tenant's
    /// `malware_scanning` flag overrides its plan).
    pub plans: Vec<coffer_domain::Plan>,
    /// How often `coffer serve` looks for due scans; 0 turns the worker off.
    pub interval_ms: u64,
    /// Scans one instance runs at once.
    pub concurrency: u32,
    /// How long a worker holds a claimed scan before another instance may
    /// take it over (its worker died).
    pub lease_secs: u64,
    /// The first wait before a scan is tried again while the scanner is
    /// down; doubled per attempt up to `retry_max_secs`.
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    /// How long one wait for clamd may take (connecting; each read during a
    /// scan).
    pub connect_timeout_secs: u64,
    pub read_timeout_secs: u64,
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
    /// Deliveries to one tenant's receiver at once; 1 keeps a tenant's
    /// events in order.
    pub deliveries_per_tenant: u32,
    /// Deliveries at once over all tenants (receivers in flight) per
    /// instance. Tenants are served side by side, so a slow receiver holds
    /// at most `deliveries_per_tenant` of these.
    pub deliveries_in_flight: u32,
    /// Age an event must reach before pollers (`GET /api/v1/events`) see it.
    pub settle_ms: u64,
    /// Internal hosts a tenant's webhook may name after all: IP addresses,
    /// CIDR blocks (`10.1.2.0/24`, `fd00::/8`) or exact host names
    /// (docs/security.md). Empty (the default) refuses every loopback,
    /// private, link-local, CGNAT and metadata target. From the environment,
    /// comma-separated.
    pub allowed_webhook_hosts: Vec<String>,
}

impl EventsConfig {
    pub fn policy(&self) -> coffer_service::DeliveryPolicy {
        use std::time::Duration;
        let timeout = Duration::from_secs(self.delivery_timeout_secs);
        coffer_service::DeliveryPolicy {
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_secs(self.backoff_max_secs),
            // An event is claimed once a slot is free for it: the lease
            // covers one delivery, with room to record its outcome.
            lease: timeout.saturating_mul(4).max(Duration::from_secs(30)),
            per_tenant: self.deliveries_per_tenant.max(1),
            in_flight: self.deliveries_in_flight.max(1),
            settle: Duration::from_millis(self.settle_ms),
            ..coffer_service::DeliveryPolicy::default()
        }
    }
}

/// Prometheus metrics (docs/operations.md#metrics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A listener of their own for `GET /metrics` (the usual Prometheus
    /// set-up, e.g. `127.0.0.1:9464`); it serves nothing else.
    pub listen: Option<SocketAddr>,
    /// Serve `/metrics` on the public listener too. Off by default: anyone
    /// who reaches the API would read every route's traffic and the jobs'
    /// counts.
    pub public: bool,
}

/// Rate limits beside the plans' (docs/security.md): a tenant's and each
/// user's requests per minute are plan limits (`[plans.<plan>]
/// requests_per_minute`, `user_requests_per_minute`), overridable per
/// tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Requests per minute one client address may make on the public
    /// routes: the storage route, requests refused for want of a valid
    /// token, unknown routes. 0: no limit.
    pub client_requests_per_minute: u32,
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
cors_origins = []

[metadata]
backend = "sqlite"
migrate_on_start = true
pool_size = 32
connect_timeout_secs = 5
checkout_timeout_secs = 5
statement_timeout_secs = 10
audit_lanes = 0

[metadata.dedicated]
plans = ["enterprise"]
database_prefix = "coffer_t_"
pool_size = 4
regions = {}

[metadata.schemas]
enabled = false
plans = ["professional"]
schema_prefix = "coffer_s_"

[storage]
backend = "fs"
bucket = "coffer"
category_buckets = {}
region_buckets = {}
regions = {}
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
move_freeze_grace_ms = 5000

[events]
dispatch_interval_ms = 1000
max_attempts = 10
backoff_base_ms = 5000
backoff_max_secs = 3600
delivery_timeout_secs = 10
deliveries_per_tenant = 1
deliveries_in_flight = 64
settle_ms = 2000
allowed_webhook_hosts = []

[scanning]
clamd = ""
plans = ["starter", "professional", "enterprise"]
interval_ms = 1000
concurrency = 2
lease_secs = 300
retry_base_ms = 1000
retry_max_secs = 60
connect_timeout_secs = 5
read_timeout_secs = 60

[credentials]
max_ttl_secs = { starter = 3600, professional = 3600, enterprise = 43200 }
default_ttl_secs = 3600
registration_window_secs = 3600

[billing]
tolerance_secs = 300

[rate_limits]
client_requests_per_minute = 1200

[metrics]
public = false

[tenants]

[bootstrap]
tenant = "acme"

[web]
enabled = true
client_id = "coffer-web"
dev_session_secs = 28800
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
        let env: config::Map<String, String> = env
            .into_iter()
            .map(|(k, v)| (region_env_key(&k), v))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("COFFER")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("server.cors_origins")
                .with_list_parse_key("storage.cors_origins")
                .with_list_parse_key("metadata.dedicated.plans")
                .with_list_parse_key("metadata.schemas.plans")
                .with_list_parse_key("scanning.plans")
                .with_list_parse_key("events.allowed_webhook_hosts")
                .source(Some(env)),
        );
        let built = builder.build()?;
        let mut config: Self = built.clone().try_deserialize()?;
        config.inherit_region_s3(&built)?;
        config.validate()?;
        Ok(config)
    }

    /// Fill the keys each region's `s3` table left out from `[storage.s3]`
    /// (all but [`NOT_INHERITED`]), by merging the raw tables and reading
    /// the result again, so that every key of `S3Config`, present or
    /// future, follows the same rule.
    fn inherit_region_s3(&mut self, built: &config::Config) -> Result<(), ConfigError> {
        if self.storage.regions.values().all(|r| r.s3.is_none()) {
            return Ok(());
        }
        let mut inherited = built.get_table("storage.s3")?;
        inherited.retain(|key, _| !NOT_INHERITED.contains(&key.as_str()));
        let raw = built.get_table("storage.regions")?;
        for (name, region) in &mut self.storage.regions {
            if region.s3.is_none() {
                continue;
            }
            let own = raw
                .get(name)
                .cloned()
                .ok_or_else(|| ConfigError::Invalid(format!("storage.regions.{name} vanished")))?
                .into_table()?
                .remove("s3")
                .ok_or_else(|| ConfigError::Invalid(format!("storage.regions.{name}.s3 vanished")))?
                .into_table()?;
            let mut merged = inherited.clone();
            merged.extend(own);
            let merged = config::Value::new(None, config::ValueKind::Table(merged));
            region.s3 =
                Some(merged.try_deserialize().map_err(|e| {
                    ConfigError::Invalid(format!("storage.regions.{name}.s3: {e}"))
                })?);
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        crate::http::cors::check_origins("server.cors_origins", &self.server.cors_origins)
            .map_err(ConfigError::Invalid)?;
        // Served by Coffer only for the local store; S3 judges its own.
        if self.storage.backend == StorageBackend::Fs {
            crate::http::cors::check_origins("storage.cors_origins", &self.storage.cors_origins)
                .map_err(ConfigError::Invalid)?;
        }
        for (name, region) in &self.storage.regions {
            if self.storage.region_buckets.contains_key(name) {
                return Err(ConfigError::Invalid(format!(
                    "region {name} is in both storage.region_buckets and storage.regions: keep one"
                )));
            }
            if region.s3.is_some() && self.storage.backend != StorageBackend::S3 {
                return Err(ConfigError::Invalid(format!(
                    "storage.regions.{name}.s3 needs storage.backend = \"s3\" (the local store has no endpoints)"
                )));
            }
        }
        // S3's bounds for a part (the last may be smaller): below them every
        // multipart upload would fail at `complete`.
        let part = self.uploads.multipart_part_size;
        if !(coffer_domain::MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part) {
            return Err(ConfigError::Invalid(format!(
                "uploads.multipart_part_size must be from {} (5 MiB) to {MAX_PART_SIZE} (5 GiB), not {part}",
                coffer_domain::MIN_PART_SIZE
            )));
        }
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
            audit_lanes: match self.metadata.audit_lanes {
                0 => coffer_ports::GroupCommit::default_lanes(),
                lanes => lanes,
            },
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

    /// The origins a browser sends bytes to on presigned URLs (every S3
    /// endpoint, with its per-bucket host names unless path style): the
    /// `connect-src` of the web app's and the upload page's
    /// Content-Security-Policy. Empty for `fs`, whose URLs are this server's.
    pub fn browser_store_origins(&self) -> Vec<String> {
        if self.storage.backend != StorageBackend::S3 {
            return Vec::new();
        }
        let stores = std::iter::once(&self.storage.s3)
            .chain(self.storage.regions.values().filter_map(|r| r.s3.as_ref()));
        let mut origins = Vec::new();
        for s3 in stores {
            match s3.endpoint.as_deref().map(url::Url::parse) {
                Some(Ok(endpoint)) => {
                    let origin = endpoint.origin().ascii_serialization();
                    if !s3.force_path_style
                        && let Some(host) = endpoint.host_str()
                    {
                        let port = endpoint.port().map(|p| format!(":{p}")).unwrap_or_default();
                        origins.push(format!("{}://*.{host}{port}", endpoint.scheme()));
                    }
                    origins.push(origin);
                }
                Some(Err(_)) => {}
                // AWS: `bucket.s3.region.amazonaws.com`.
                None => origins.push("https://*.amazonaws.com".to_owned()),
            }
        }
        origins.sort();
        origins.dedup();
        origins
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

/// Region names have hyphens, which shells cannot export: in
/// `COFFER__STORAGE__REGIONS__EU_WEST__…` and
/// `COFFER__STORAGE__REGION_BUCKETS__EU_WEST` the region's segment takes
/// `_` for `-` (a region name has no `_`, so nothing is ambiguous).
fn region_env_key(key: &str) -> String {
    for prefix in [
        "COFFER__METADATA__REGIONS__",
        "COFFER__STORAGE__REGIONS__",
        "COFFER__STORAGE__REGION_BUCKETS__",
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            let (region, tail) = rest.split_once("__").unwrap_or((rest, ""));
            let region = region.replace('_', "-");
            return if tail.is_empty() {
                format!("{prefix}{region}")
            } else {
                format!("{prefix}{region}__{tail}")
            };
        }
    }
    key.to_owned()
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
    fn the_tenant_cache_keeps_entries_longer_where_every_change_is_notified() {
        let config = Config::load_from(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        let ttl = |backend| config.tenants.cache_ttl(backend).as_secs();
        assert_eq!(ttl(MetadataBackend::Sqlite), 60);
        assert_eq!(ttl(MetadataBackend::Postgres), 300);
        let set = Config::load_from(None, env(&[("COFFER__TENANTS__CACHE_TTL_SECS", "15")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            set.tenants.cache_ttl(MetadataBackend::Postgres).as_secs(),
            15
        );
        assert_eq!(set.tenants.cache_ttl(MetadataBackend::Sqlite).as_secs(), 15);
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
    fn browsers_may_send_bytes_to_every_store_endpoint_and_no_other() {
        let embedded = Config::load_from(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert!(embedded.browser_store_origins().is_empty());
        let toml = "[storage]\nbackend = \"s3\"\n[storage.s3]\nendpoint = \"https://s3.example.com\"\n\
                    [storage.regions.eu]\nbucket = \"eu\"\n[storage.regions.eu.s3]\n\
                    endpoint = \"http://10.0.0.9:8333/\"\nregion = \"eu\"\nforce_path_style = true\n\
                    [storage.regions.us]\nbucket = \"us\"\n";
        let config = load_toml(toml, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.browser_store_origins(),
            [
                "http://10.0.0.9:8333",
                "https://*.s3.example.com",
                "https://s3.example.com"
            ]
        );
    }

    #[test]
    fn a_part_size_the_store_would_refuse_is_refused_at_start() {
        for refused in ["1048576", "6442450944"] {
            let err = Config::load_from(
                None,
                env(&[("COFFER__UPLOADS__MULTIPART_PART_SIZE", refused)]),
            )
            .err();
            assert!(
                err.is_some_and(|e| e.to_string().contains("multipart_part_size")),
                "{refused}"
            );
        }
        let five_mib = Config::load_from(
            None,
            env(&[("COFFER__UPLOADS__MULTIPART_PART_SIZE", "5242880")]),
        );
        assert!(five_mib.is_ok());
    }

    fn load_toml(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("coffer.toml");
        std::fs::write(&file, toml).unwrap_or_else(|e| panic!("{e}"));
        Config::load_from(Some(&file), env(vars))
    }

    const REGIONS: &str = r#"
[storage]
backend = "s3"
region_buckets = { us-east = "coffer-us" }
[storage.s3]
endpoint = "http://us.example:8333"
region = "us-east-1"
access_key_id = "us-id"
secret_access_key = "us-secret"
force_path_style = true
operation_timeout = 7
[storage.regions.eu-west]
bucket = "coffer-eu"
s3 = { endpoint = "http://eu.example:8333", region = "eu-central-1", access_key_id = "eu-id", secret_access_key = "eu-secret-value" }
[storage.regions.ap-south]
bucket = "coffer-ap"
[storage.regions.sa-east]
bucket = "coffer-sa"
s3 = { region = "sa-east-1", part_size_bytes = 6291456 }
"#;

    fn region<'c>(config: &'c Config, name: &str) -> &'c RegionStorage {
        config
            .storage
            .regions
            .get(name)
            .unwrap_or_else(|| panic!("no region {name}"))
    }

    #[test]
    fn a_region_has_its_own_endpoint_and_inherits_only_tuning() {
        let config = load_toml(REGIONS, &[]).unwrap_or_else(|e| panic!("{e}"));
        let eu = region(&config, "eu-west");
        assert_eq!(eu.bucket, "coffer-eu");
        let eu_s3 = eu.s3.clone().unwrap_or_else(|| panic!("eu-west has no s3"));
        assert_eq!(eu_s3.endpoint.as_deref(), Some("http://eu.example:8333"));
        assert_eq!(eu_s3.region, "eu-central-1");
        assert_eq!(eu_s3.access_key_id.as_deref(), Some("eu-id"));
        // Tuning comes from [storage.s3] …
        assert!(eu_s3.force_path_style);
        assert_eq!(eu_s3.operation_timeout, Duration::from_secs(7));
        // … but where the store is and whose keys open it never do: a
        // region that names no endpoint is AWS in its own S3 region, with
        // the default credential chain, not the default endpoint.
        let sa = region(&config, "sa-east")
            .s3
            .clone()
            .unwrap_or_else(|| panic!("sa-east has no s3"));
        assert_eq!(sa.endpoint, None);
        assert_eq!(sa.region, "sa-east-1");
        assert_eq!(sa.access_key_id, None);
        assert!(sa.secret_access_key.is_none());
        assert_eq!(sa.part_size_bytes, 6 * 1024 * 1024);
        assert!(sa.force_path_style);
        // Without `s3` a region's bucket is on the default endpoint.
        assert!(region(&config, "ap-south").s3.is_none());
        assert!(!format!("{config:?}").contains("eu-secret-value"));

        let placement = crate::wiring::placement(&config).unwrap_or_else(|e| panic!("{e}"));
        let placed: Vec<(String, String)> = placement
            .regions
            .iter()
            .map(|(r, b)| (r.to_string(), b.to_string()))
            .collect();
        let pair = |r: &str, b: &str| (r.to_owned(), b.to_owned());
        assert_eq!(
            placed,
            [
                pair("ap-south", "coffer-ap"),
                pair("eu-west", "coffer-eu"),
                pair("sa-east", "coffer-sa"),
                pair("us-east", "coffer-us"),
            ]
        );
    }

    #[test]
    fn a_region_in_both_tables_unknown_keys_and_endpoints_without_s3_fail() {
        let both = "[storage]\nregion_buckets = { eu-west = \"coffer-eu\" }\n[storage.regions.eu-west]\nbucket = \"coffer-eu2\"\n";
        let err = load_toml(both, &[]).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("eu-west") && e.contains("both")),
            "{err:?}"
        );
        for bad in [
            "[storage.regions.eu-west]\nbucket = \"coffer-eu\"\nendpoint = \"http://eu\"\n",
            "[storage]\nbackend = \"s3\"\n[storage.regions.eu-west]\nbucket = \"coffer-eu\"\ns3 = { endpoint = \"http://eu\", bucket = \"b\" }\n",
            "[storage.regions.eu-west]\ns3 = { endpoint = \"http://eu\" }\n",
        ] {
            assert!(load_toml(bad, &[]).is_err(), "accepted: {bad}");
        }
        let fs = "[storage.regions.eu-west]\nbucket = \"coffer-eu\"\ns3 = { endpoint = \"http://eu\" }\n";
        let err = load_toml(fs, &[]).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("storage.backend")),
            "{err:?}"
        );
        // The local store keeps regions' buckets as directories.
        let local = "[storage.regions.eu-west]\nbucket = \"coffer-eu\"\n";
        assert!(load_toml(local, &[]).is_ok());
    }

    #[test]
    fn the_environment_sets_and_overrides_regions() {
        let config = load_toml(
            REGIONS,
            &[
                // A shell cannot export `-`: `_` stands for it in the region.
                (
                    "COFFER__STORAGE__REGIONS__EU_WEST__S3__ENDPOINT",
                    "http://eu2.example",
                ),
                ("COFFER__STORAGE__REGIONS__EU_WEST__BUCKET", "coffer-eu2"),
                // A secret of digits only is still a string.
                (
                    "COFFER__STORAGE__REGIONS__AP_SOUTH__S3__SECRET_ACCESS_KEY",
                    "12345",
                ),
                (
                    "COFFER__STORAGE__REGIONS__AP_SOUTH__S3__ACCESS_KEY_ID",
                    "ap-id",
                ),
                (
                    "COFFER__STORAGE__REGIONS__AP_SOUTH__S3__ENDPOINT",
                    "http://ap.example",
                ),
                ("COFFER__STORAGE__REGIONS__ME_CENTRAL__BUCKET", "coffer-me"),
                ("COFFER__STORAGE__REGION_BUCKETS__CA_CENTRAL", "coffer-ca"),
                ("COFFER__STORAGE__S3__UPLOAD_CONCURRENCY", "5"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let eu = region(&config, "eu-west");
        assert_eq!(eu.bucket, "coffer-eu2");
        let eu_s3 = eu.s3.clone().unwrap_or_else(|| panic!("eu-west has no s3"));
        assert_eq!(eu_s3.endpoint.as_deref(), Some("http://eu2.example"));
        assert_eq!(eu_s3.region, "eu-central-1");
        assert_eq!(eu_s3.upload_concurrency, 5);
        let ap = region(&config, "ap-south")
            .s3
            .clone()
            .unwrap_or_else(|| panic!("the environment gave ap-south no s3"));
        assert_eq!(ap.endpoint.as_deref(), Some("http://ap.example"));
        assert_eq!(ap.access_key_id.as_deref(), Some("ap-id"));
        assert!(ap.secret_access_key.is_some());
        assert!(ap.force_path_style);
        assert_eq!(region(&config, "me-central").bucket, "coffer-me");
        assert_eq!(
            config
                .storage
                .region_buckets
                .get("ca-central")
                .map(String::as_str),
            Some("coffer-ca")
        );
        let conflict = load_toml(
            REGIONS,
            &[("COFFER__STORAGE__REGION_BUCKETS__EU_WEST", "coffer-eu")],
        );
        assert!(conflict.is_err());
    }

    #[test]
    fn timeouts_have_defaults_and_zero_turns_them_off() {
        let config = Config::load_from(None, env(&[])).unwrap_or_else(|e| panic!("{e}"));
        let pool = config.pool_options();
        assert_eq!(pool.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(pool.checkout_timeout, Some(Duration::from_secs(5)));
        assert_eq!(pool.statement_timeout, Some(Duration::from_secs(10)));
        assert_eq!(pool.audit_lanes, coffer_ports::GroupCommit::default_lanes());
        assert_eq!(config.request_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(config.storage.s3.operation_timeout, Duration::from_secs(20));
        let tuned = Config::load_from(
            None,
            env(&[
                ("COFFER__METADATA__STATEMENT_TIMEOUT_SECS", "0"),
                ("COFFER__METADATA__CHECKOUT_TIMEOUT_SECS", "2"),
                ("COFFER__SERVER__REQUEST_TIMEOUT_SECS", "0"),
                ("COFFER__STORAGE__S3__OPERATION_TIMEOUT", "3"),
                ("COFFER__METADATA__AUDIT_LANES", "3"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tuned.pool_options().statement_timeout, None);
        assert_eq!(tuned.pool_options().audit_lanes, 3);
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
