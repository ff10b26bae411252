//! The one place where adapters are chosen by configuration and plugged
//! into the use cases — for `coffer serve` and for the tests alike.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use coffer_domain::outbound::OutboundPolicy;
use coffer_domain::{
    BucketName, Category, LimitOverrides, Placement, Plan, Region, TenantId, TenantSlug,
    TenantStatus,
};
use coffer_fs::{FsConfig, FsStore};
use coffer_keycloak::dev::DevIssuer;
use coffer_keycloak::{KeycloakConfig, KeycloakProvider};
use coffer_ports::{
    BucketSpec, IdentityProvider, MetadataErrorKind, MetadataPorts, NewTenant, ObjectStore,
    SystemClock, TenantChanges,
};
use coffer_service::{Coffer, ServiceConfig};
use secrecy::ExposeSecret as _;

use crate::config::{Config, IdentityBackend, MetadataBackend, StorageBackend};
use crate::timed_store::TimedStore;

/// The wired application and the adapters some routes and commands need directly.
#[derive(Clone)]
pub struct Wiring {
    pub coffer: Coffer,
    /// Every metadata port, for the CLI and the tests that read through them.
    pub meta: MetadataPorts,
    /// The default object store; a region with an endpoint of its own has
    /// its store in `coffer.stores()`.
    pub store: Arc<dyn ObjectStore>,
    /// Committed tenant changes of every instance on the same database.
    pub changes: Arc<dyn TenantChanges>,
    /// The local-disk store, whose signed URLs the server itself serves.
    pub fs: Option<Arc<FsStore>>,
    /// The embedded issuer, which `coffer token` mints with.
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// The PostgreSQL pools, for the operator's gauges.
    pub pool: Option<Pools>,
    /// Every store call's duration ([`crate::timed_store`]), for the
    /// server's metrics registry.
    pub store_calls: prometheus::HistogramVec,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("coffer", &self.coffer)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct WiringError {
    what: &'static str,
    message: String,
}

fn fail(what: &'static str) -> impl FnOnce(String) -> WiringError {
    move |message| WiringError { what, message }
}

/// Open the metadata ports (migrating first when configured).
///
/// # Errors
/// A database that cannot be opened or migrated.
pub async fn metadata(config: &Config) -> Result<MetadataPorts, WiringError> {
    Ok(metadata_and_changes(config).await?.0)
}

/// The metadata ports, the feed of tenant changes they announce, and the
/// PostgreSQL pools (for their gauges).
type Metadata = (MetadataPorts, Arc<dyn TenantChanges>, Option<Pools>);

/// The PostgreSQL pools of a deployment, for the operator's gauges.
#[derive(Debug, Clone)]
pub struct Pools {
    /// The shared database's (the registry and shared tenants).
    pub shared: coffer_postgres::PgMetadataStore,
    /// Those of the dedicated databases this process has opened.
    pub dedicated: coffer_postgres::DedicatedPools,
}

/// The metadata ports and the feed of tenant changes they announce.
async fn metadata_and_changes(config: &Config) -> Result<Metadata, WiringError> {
    match config.metadata.backend {
        MetadataBackend::Postgres => {
            if config.metadata.migrate_on_start
                && let Some(owner) = &config.metadata.migration_url
            {
                coffer_postgres::migrate_with(owner.expose_secret(), migrate_options(config))
                    .await
                    .map_err(|e| fail("migrating PostgreSQL")(e.to_string()))?;
                // The regions' shared databases are as much this instance's
                // as the registry's (dedicated ones and schemas are left to
                // `coffer migrate`).
                for (name, region) in &config.metadata.regions {
                    coffer_postgres::migrate_with(
                        region.migration_url.expose_secret(),
                        migrate_options(config),
                    )
                    .await
                    .map_err(|e| fail("migrating PostgreSQL")(format!("region {name}: {e}")))?;
                }
            }
            let url = config.metadata.url.as_ref().ok_or_else(|| {
                fail("metadata")(
                    "metadata.url (COFFER__METADATA__URL) is required for postgres".into(),
                )
            })?;
            let shared = coffer_postgres::PgMetadataStore::connect_with(
                url.expose_secret(),
                config.pool_options(),
            )
            .map_err(|e| fail("connecting to PostgreSQL")(e.to_string()))?;
            // Changes are announced on the shared database (the registry).
            let changes = Arc::new(shared.clone());
            let router = coffer_postgres::DatabaseRouter::new(shared.clone(), dedicated(config)?)
                .with_schemas(schemas(config)?)
                .with_regions(regional_databases(config)?);
            let pools = Pools {
                shared,
                dedicated: router.dedicated_pools(),
            };
            Ok((router.ports(), changes, Some(pools)))
        }
        MetadataBackend::Sqlite => {
            let path = config.sqlite_path();
            let store = coffer_sqlite::SqliteMetadataStore::open(&path)
                .await
                .map_err(|e| fail("opening SQLite")(format!("{}: {e}", path.display())))?;
            let store = Arc::new(store);
            Ok((MetadataPorts::in_one(store.clone()), store, None))
        }
    }
}

/// The servers dedicated databases are made on, from `[metadata.dedicated]`;
/// `None` when it has no `admin_url`.
///
/// # Errors
/// An `admin_url` without `app_url`, a URL without `{database}`, a region
/// name that is not valid, or dedicated databases with the SQLite backend.
pub fn dedicated(
    config: &Config,
) -> Result<Option<coffer_postgres::DedicatedDatabases>, WiringError> {
    let d = &config.metadata.dedicated;
    let Some(admin_url) = &d.admin_url else {
        if !d.regions.is_empty() {
            return Err(fail("metadata.dedicated")(
                "regions are set but admin_url is not".into(),
            ));
        }
        return Ok(None);
    };
    if config.metadata.backend != MetadataBackend::Postgres {
        return Err(fail("metadata.dedicated")(
            "dedicated databases need the postgres backend".into(),
        ));
    }
    let app_url = d
        .app_url
        .as_ref()
        .ok_or_else(|| fail("metadata.dedicated")("app_url is required with admin_url".into()))?;
    let server = |admin: &secrecy::SecretString, app: &secrecy::SecretString| {
        coffer_postgres::DatabaseServer {
            admin_url: admin.expose_secret().to_owned(),
            app_url: app.expose_secret().to_owned(),
        }
    };
    let mut regions = std::collections::BTreeMap::new();
    for (region, s) in &d.regions {
        let region = Region::new(region.clone())
            .map_err(|e| fail("metadata.dedicated.regions")(e.to_string()))?;
        regions.insert(region, server(&s.admin_url, &s.app_url));
    }
    let dedicated = coffer_postgres::DedicatedDatabases {
        default: server(admin_url, app_url),
        regions,
        pool: coffer_postgres::PoolOptions {
            max_size: d.pool_size.max(1),
            ..config.pool_options()
        },
        app_password: migrate_options(config).app_password,
    };
    dedicated
        .check()
        .map_err(|e| fail("metadata.dedicated")(e.to_string()))?;
    Ok(Some(dedicated))
}

/// Where tenant schemas are made, from `[metadata.schemas]`; `None` unless
/// it is enabled.
///
/// # Errors
/// Schemas with the SQLite backend, or without `metadata.migration_url`
/// (the owner role makes and migrates them).
pub fn schemas(config: &Config) -> Result<Option<coffer_postgres::DedicatedSchemas>, WiringError> {
    if !config.metadata.schemas.enabled {
        return Ok(None);
    }
    if config.metadata.backend != MetadataBackend::Postgres {
        return Err(fail("metadata.schemas")(
            "tenant schemas need the postgres backend".into(),
        ));
    }
    let owner = config.metadata.migration_url.as_ref().ok_or_else(|| {
        fail("metadata.schemas")(
            "metadata.migration_url (the owner role) is required: it makes and migrates the schemas"
                .into(),
        )
    })?;
    Ok(Some(coffer_postgres::DedicatedSchemas {
        owner_url: owner.expose_secret().to_owned(),
    }))
}

/// Each region's shared database, from `[metadata.regions]` (connected
/// lazily, like the registry's pool).
///
/// # Errors
/// Regions with the SQLite backend, a region name that is not valid, or a
/// pool that cannot be configured.
pub fn regional_databases(
    config: &Config,
) -> Result<std::collections::BTreeMap<Region, coffer_postgres::RegionalDatabase>, WiringError> {
    let mut regions = std::collections::BTreeMap::new();
    if config.metadata.regions.is_empty() {
        return Ok(regions);
    }
    if config.metadata.backend != MetadataBackend::Postgres {
        return Err(fail("metadata.regions")(
            "regional databases need the postgres backend".into(),
        ));
    }
    for (name, r) in &config.metadata.regions {
        let region =
            Region::new(name.clone()).map_err(|e| fail("metadata.regions")(e.to_string()))?;
        let store = coffer_postgres::PgMetadataStore::connect_with(
            r.url.expose_secret(),
            coffer_postgres::PoolOptions {
                max_size: r.pool_size.unwrap_or(config.metadata.pool_size).max(1),
                ..config.pool_options()
            },
        )
        .map_err(|e| fail("metadata.regions")(format!("{name}: {e}")))?;
        regions.insert(
            region,
            coffer_postgres::RegionalDatabase {
                store,
                owner_url: r.migration_url.expose_secret().to_owned(),
            },
        );
    }
    Ok(regions)
}

/// Which new tenants get a schema of their own, for the use cases.
///
/// # Errors
/// A `schema_prefix` that is not a plain identifier.
fn dedicated_schema_policy(
    config: &Config,
) -> Result<Option<coffer_service::DedicatedPolicy>, WiringError> {
    let s = &config.metadata.schemas;
    if !s.enabled {
        return Ok(None);
    }
    coffer_service::DedicatedPolicy::for_schemas(s.schema_prefix.clone(), s.plans.iter().copied())
        .map(Some)
        .map_err(|e| fail("metadata.schemas.schema_prefix")(e.to_string()))
}

/// Which new tenants get a dedicated database, for the use cases.
///
/// # Errors
/// A `database_prefix` that is not a plain identifier.
fn dedicated_database_policy(
    config: &Config,
) -> Result<Option<coffer_service::DedicatedPolicy>, WiringError> {
    let d = &config.metadata.dedicated;
    if d.admin_url.is_none() {
        return Ok(None);
    }
    coffer_service::DedicatedPolicy::new(d.database_prefix.clone(), d.plans.iter().copied())
        .map(Some)
        .map_err(|e| fail("metadata.dedicated.database_prefix")(e.to_string()))
}

/// What `coffer migrate` (and migrate-on-start) does besides migrating.
pub fn migrate_options(config: &Config) -> coffer_postgres::MigrateOptions {
    coffer_postgres::MigrateOptions {
        app_password: config
            .metadata
            .app_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned()),
        schema: None,
    }
}

/// Open the object store.
///
/// # Errors
/// A store that cannot be configured.
async fn storage(
    config: &Config,
) -> Result<(Arc<dyn ObjectStore>, Option<Arc<FsStore>>), WiringError> {
    match config.storage.backend {
        StorageBackend::Fs => {
            let fs = FsStore::open(FsConfig {
                data_dir: config.data_dir.clone(),
                public_url: config.public_url(),
            })
            .map_err(|e| fail("opening the local object store")(e.to_string()))?;
            let fs = Arc::new(fs);
            Ok((fs.clone(), Some(fs)))
        }
        StorageBackend::S3 => {
            let s3 = coffer_s3::S3Store::new(config.storage.s3.clone())
                .await
                .map_err(|e| fail("configuring S3")(e.to_string()))?;
            Ok((Arc::new(s3), None))
        }
    }
}

/// The stores of the regions with an S3 endpoint of their own.
///
/// # Errors
/// A region name that is not valid, a store that cannot be configured.
async fn region_stores(
    config: &Config,
) -> Result<BTreeMap<Region, Arc<dyn ObjectStore>>, WiringError> {
    let mut stores = BTreeMap::new();
    for (name, region) in &config.storage.regions {
        let Some(s3) = &region.s3 else { continue };
        let region =
            Region::new(name.clone()).map_err(|e| fail("storage.regions")(e.to_string()))?;
        let store = coffer_s3::S3Store::new(s3.clone())
            .await
            .map_err(|e| fail("configuring a region's S3")(format!("{region}: {e}")))?;
        stores.insert(region, Arc::new(store) as Arc<dyn ObjectStore>);
    }
    Ok(stores)
}

async fn identity(
    config: &Config,
) -> Result<(Arc<dyn IdentityProvider>, Option<Arc<DevIssuer>>), WiringError> {
    match config.identity.backend {
        IdentityBackend::Dev => {
            let issuer = Arc::new(
                DevIssuer::open(&config.data_dir)
                    .map_err(|e| fail("opening the dev issuer")(e.to_string()))?,
            );
            Ok((issuer.clone(), Some(issuer)))
        }
        IdentityBackend::Keycloak => {
            let settings =
                serde_json::Value::Object(config.identity.keycloak.clone().into_iter().collect());
            let kc: KeycloakConfig = serde_json::from_value(settings)
                .map_err(|e| fail("identity configuration")(e.to_string()))?;
            let provider = KeycloakProvider::connect(kc)
                .await
                .map_err(|e| fail("discovering the OIDC issuer")(e.to_string()))?;
            Ok((Arc::new(provider), None))
        }
    }
}

/// Where files go, from `[storage]`.
///
/// # Errors
/// A bucket, category or region name that is not valid.
pub fn placement(config: &Config) -> Result<Placement, WiringError> {
    let bucket =
        |name: &str| BucketName::new(name).map_err(|e| fail("storage placement")(e.to_string()));
    let mut placement = Placement::single(bucket(&config.storage.bucket)?);
    for (category, name) in &config.storage.category_buckets {
        let category = Category::new(category.clone())
            .map_err(|e| fail("storage.category_buckets")(e.to_string()))?;
        placement.categories.insert(category, bucket(name)?);
    }
    for (region, name) in &config.storage.region_buckets {
        let region = Region::new(region.clone())
            .map_err(|e| fail("storage.region_buckets")(e.to_string()))?;
        placement.regions.insert(region, bucket(name)?);
    }
    for (region, storage) in &config.storage.regions {
        let region =
            Region::new(region.clone()).map_err(|e| fail("storage.regions")(e.to_string()))?;
        placement.regions.insert(region, bucket(&storage.bucket)?);
    }
    Ok(placement)
}

/// Build everything `coffer serve` needs.
///
/// # Errors
/// Any adapter that cannot be opened, or buckets that cannot be prepared.
pub async fn wire(config: &Config) -> Result<Wiring, WiringError> {
    wire_with(config, |meta| meta).await
}

/// [`wire`], with the metadata ports passed through `wrap` before anything
/// uses them: how the tests put a port that fails on cue under a real server.
///
/// # Errors
/// As [`wire`].
pub async fn wire_with(
    config: &Config,
    wrap: impl FnOnce(MetadataPorts) -> MetadataPorts,
) -> Result<Wiring, WiringError> {
    let (meta, changes, pool) = metadata_and_changes(config).await?;
    let meta = wrap(meta);
    let store_calls =
        crate::timed_store::histogram().map_err(|e| fail("store metrics")(e.to_string()))?;
    let (store, fs) = storage(config).await?;
    let store = TimedStore::wrap(store, &store_calls);
    let regional: BTreeMap<_, _> = region_stores(config)
        .await?
        .into_iter()
        .map(|(region, store)| (region, TimedStore::wrap(store, &store_calls)))
        .collect();
    let (identity, dev_issuer) = identity(config).await?;
    let placement = placement(config)?;
    if config.storage.ensure_buckets {
        ensure_buckets(store.as_ref(), &regional, &placement, &config.storage).await?;
    }
    let mut service = ServiceConfig::new(placement.default_bucket.clone());
    service.placement = placement;
    service.plans = config.plans.clone();
    service.upload_window = Duration::from_secs(config.uploads.window_secs);
    service.multipart_part_size = config.uploads.multipart_part_size;
    service.erase_grace = Duration::from_secs(config.jobs.erase_grace_secs);
    service.delivery = config.events.policy();
    service.bucket_cors_origins = config.storage.cors_origins.clone();
    service.onboarding_lease = Duration::from_secs(config.jobs.onboarding_lease_secs.max(1));
    service.move_freeze_grace = Duration::from_millis(config.jobs.move_freeze_grace_ms);
    service.tenant_cache_ttl = config.tenants.cache_ttl(config.metadata.backend);
    service.dedicated_databases = dedicated_database_policy(config)?;
    service.dedicated_schemas = dedicated_schema_policy(config)?;
    service.metadata_regions = config
        .metadata
        .regions
        .keys()
        .map(|name| Region::new(name.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| fail("metadata.regions")(e.to_string()))?;
    service.scanning = scanning_policy(&config.scanning);
    service.credentials = credentials_policy(&config.credentials);
    service.outbound = OutboundPolicy::parse(&config.events.allowed_webhook_hosts)
        .map_err(fail("events.allowed_webhook_hosts"))?;
    let sender = crate::webhooks::HttpWebhookSender::new(
        Duration::from_secs(config.events.delivery_timeout_secs),
        service.outbound.clone(),
    )
    .map_err(|e| fail("the webhook client")(e.to_string()))?;
    let mut coffer = Coffer::new(
        meta.clone(),
        store.clone(),
        identity,
        Arc::new(SystemClock),
        service,
    )
    .with_webhook_sender(Arc::new(sender));
    for (region, regional) in regional {
        coffer = coffer.with_region_store(region, regional);
    }
    for (region, issuer) in credential_issuers(config).await? {
        coffer = coffer.with_credential_issuer(region, issuer);
    }
    if let Some(scanner) = scanner(&config.scanning)? {
        coffer = coffer.with_scanner(scanner);
    }
    if !config.bootstrap.tenant.is_empty() {
        bootstrap_tenant(&meta, &config.bootstrap.tenant).await?;
    }
    Ok(Wiring {
        coffer,
        meta,
        store,
        changes,
        fs,
        dev_issuer,
        pool,
        store_calls,
    })
}

fn credentials_policy(
    config: &crate::config::CredentialsConfig,
) -> coffer_service::CredentialsPolicy {
    let secs = Duration::from_secs;
    let max = &config.max_ttl_secs;
    coffer_service::CredentialsPolicy {
        max_ttl: coffer_service::PlanDurations {
            starter: secs(max.starter),
            professional: secs(max.professional),
            enterprise: secs(max.enterprise),
        },
        default_ttl: secs(config.default_ttl_secs),
        registration_window: secs(config.registration_window_secs),
    }
}

/// The STS issuers of the stores with `sts` configured: the default
/// store's (`None`) and each region's own.
///
/// # Errors
/// A store's `sts` section that is invalid.
async fn credential_issuers(
    config: &Config,
) -> Result<Vec<(Option<Region>, Arc<dyn coffer_ports::CredentialIssuer>)>, WiringError> {
    if config.storage.backend != StorageBackend::S3 {
        return Ok(Vec::new());
    }
    let mut issuers = Vec::new();
    let stores = std::iter::once((None, &config.storage.s3)).chain(
        config
            .storage
            .regions
            .iter()
            .filter_map(|(name, r)| r.s3.as_ref().map(|s3| (Some(name), s3))),
    );
    for (name, s3) in stores {
        let region = name
            .map(|n| Region::new(n.clone()))
            .transpose()
            .map_err(|e| fail("storage.regions")(e.to_string()))?;
        let issuer = coffer_s3::S3CredentialIssuer::new(s3)
            .await
            .map_err(|e| fail("configuring STS")(e.to_string()))?;
        if let Some(issuer) = issuer {
            issuers.push((
                region,
                Arc::new(issuer) as Arc<dyn coffer_ports::CredentialIssuer>,
            ));
        }
    }
    Ok(issuers)
}

fn scanning_policy(config: &crate::config::ScanningConfig) -> coffer_service::ScanningPolicy {
    coffer_service::ScanningPolicy {
        plans: config.plans.clone(),
        lease: Duration::from_secs(config.lease_secs.max(1)),
        concurrency: config.concurrency.max(1),
        retry_base: Duration::from_millis(config.retry_base_ms.max(1)),
        retry_max: Duration::from_secs(config.retry_max_secs.max(1)),
        ..coffer_service::ScanningPolicy::default()
    }
}

/// clamd, when `[scanning] clamd` names it. Nothing is sent yet: a clamd
/// that is down shows in `/readyz`, and scans wait for it.
fn scanner(
    config: &crate::config::ScanningConfig,
) -> Result<Option<Arc<dyn coffer_ports::Scanner>>, WiringError> {
    if config.clamd.trim().is_empty() {
        return Ok(None);
    }
    let address: coffer_clamav::ClamdAddress = config
        .clamd
        .parse()
        .map_err(|e: coffer_clamav::AddressError| fail("scanning.clamd")(e.to_string()))?;
    let mut clamd = coffer_clamav::ClamdConfig::new(address);
    clamd.connect_timeout = Duration::from_secs(config.connect_timeout_secs.max(1));
    clamd.read_timeout = Duration::from_secs(config.read_timeout_secs.max(1));
    Ok(Some(Arc::new(coffer_clamav::ClamdScanner::new(clamd))))
}

/// Prepare every bucket on the store it lives on: a region with an
/// endpoint of its own has its bucket there (and nowhere else); the default
/// store has the rest.
async fn ensure_buckets(
    store: &dyn ObjectStore,
    regional: &BTreeMap<Region, Arc<dyn ObjectStore>>,
    placement: &Placement,
    storage: &crate::config::StorageConfig,
) -> Result<(), WiringError> {
    let buckets: BTreeSet<&BucketName> = std::iter::once(&placement.default_bucket)
        .chain(placement.categories.values())
        .chain(
            placement
                .regions
                .iter()
                .filter(|(region, _)| !regional.contains_key(*region))
                .map(|(_, bucket)| bucket),
        )
        .collect();
    for bucket in buckets {
        ensure_bucket(store, bucket, storage).await?;
    }
    for (region, regional) in regional {
        if let Some(bucket) = placement.regions.get(region) {
            ensure_bucket(regional.as_ref(), bucket, storage).await?;
        }
    }
    Ok(())
}

async fn ensure_bucket(
    store: &dyn ObjectStore,
    bucket: &BucketName,
    storage: &crate::config::StorageConfig,
) -> Result<(), WiringError> {
    let spec = BucketSpec {
        bucket: bucket.clone(),
        cors_origins: storage.cors_origins.clone(),
        abort_incomplete_multipart_days: 2,
        transitions: storage
            .transitions
            .get(bucket.as_str())
            .cloned()
            .unwrap_or_default(),
    };
    store
        .ensure_bucket(&spec)
        .await
        .map_err(|e| fail("preparing bucket")(format!("{bucket}: {e}")))
}

/// Create the first tenant if it does not exist yet (embedded mode).
async fn bootstrap_tenant(meta: &MetadataPorts, slug: &str) -> Result<(), WiringError> {
    let slug = TenantSlug::new(slug).map_err(|e| fail("bootstrap.tenant")(e.to_string()))?;
    match meta.registry.find_tenant_by_slug(&slug).await {
        Ok(_) => return Ok(()),
        Err(e) if e.is(MetadataErrorKind::NotFound) => {}
        Err(e) => return Err(fail("bootstrap tenant")(e.to_string())),
    }
    let tenant = NewTenant {
        id: TenantId::new_random(),
        display_name: slug.to_string(),
        slug,
        plan: Plan::Starter,
        status: TenantStatus::Active,
        region: Region::new("local").map_err(|e| fail("bootstrap tenant")(e.to_string()))?,
        dedicated_bucket: None,
        dedicated_database: None,
        dedicated_schema: None,
        metadata_region: None,
        limit_overrides: LimitOverrides::default(),
        created_at: time::OffsetDateTime::now_utc(),
    };
    let journal = created_by_operator(&tenant, "bootstrap");
    match meta.create_tenant(tenant, journal).await {
        Ok(t) => {
            tracing::info!(tenant = %t.slug, id = %t.id, "created the first tenant");
            Ok(())
        }
        // Another instance created it meanwhile.
        Err(e) if e.is(MetadataErrorKind::Conflict) => Ok(()),
        Err(e) => Err(fail("bootstrap tenant")(e.to_string())),
    }
}

/// The record of a tenant created from the command line or at start-up,
/// where no authenticated caller exists: the actor is Coffer itself.
pub fn created_by_operator(tenant: &NewTenant, how: &str) -> coffer_ports::Journal {
    let actor = coffer_domain::Subject::system();
    coffer_ports::Journal::audit(coffer_ports::NewAudit {
        actor,
        action: "tenant.created".to_owned(),
        file_id: None,
        detail: serde_json::json!({ "via": how, "plan": tenant.plan }),
        request_id: None,
        client_addr: None,
        at: tenant.created_at,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let mut vars = vec![("COFFER__METADATA__BACKEND", "postgres")];
        vars.extend_from_slice(pairs);
        Config::load_from(
            None,
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .map_err(|e| e.to_string())
    }

    const ADMIN: &str = "postgres://admin:pw@db:5432/{database}";
    const APP: &str = "postgres://coffer_app:pw@db:5432/{database}";

    #[test]
    fn dedicated_databases_are_off_without_an_admin_url() {
        let config = config(&[]).unwrap();
        assert!(dedicated(&config).unwrap().is_none());
        assert!(dedicated_database_policy(&config).unwrap().is_none());
    }

    #[test]
    fn dedicated_databases_come_from_the_environment_and_the_file() {
        let config = config(&[
            ("COFFER__METADATA__DEDICATED__ADMIN_URL", ADMIN),
            ("COFFER__METADATA__DEDICATED__APP_URL", APP),
            (
                "COFFER__METADATA__DEDICATED__PLANS",
                "enterprise,professional",
            ),
            ("COFFER__METADATA__DEDICATED__DATABASE_PREFIX", "acme_t_"),
            ("COFFER__METADATA__DEDICATED__POOL_SIZE", "2"),
        ])
        .unwrap();
        let servers = dedicated(&config).unwrap().unwrap();
        assert_eq!(servers.default.admin_url, ADMIN);
        assert_eq!(servers.pool.max_size, 2);
        let placement = dedicated_database_policy(&config).unwrap().unwrap();
        assert_eq!(placement.plans, [Plan::Enterprise, Plan::Professional]);
        let id = TenantId::new_random();
        assert_eq!(
            placement.name_for(id),
            format!("acme_t_{}", id.as_uuid().simple())
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coffer.toml");
        std::fs::write(
            &file,
            format!(
                "[metadata]\nbackend = \"postgres\"\n[metadata.dedicated]\nadmin_url = \"{ADMIN}\"\napp_url = \"{APP}\"\n\
                 [metadata.dedicated.regions.eu-west]\nadmin_url = \"postgres://a@eu/{{database}}\"\napp_url = \"postgres://b@eu/{{database}}\"\n"
            ),
        )
        .unwrap();
        let config = Config::load_from(Some(&file), Vec::new()).unwrap();
        let servers = dedicated(&config).unwrap().unwrap();
        let eu = Region::new("eu-west").unwrap();
        assert_eq!(servers.regions[&eu].app_url, "postgres://b@eu/{database}");
        // The default plan rule: enterprise only.
        let placement = dedicated_database_policy(&config).unwrap().unwrap();
        assert_eq!(placement.plans, [Plan::Enterprise]);
    }

    #[test]
    fn tenant_schemas_are_off_by_default_and_need_the_owner_and_postgres() {
        let off = config(&[]).unwrap();
        assert!(schemas(&off).unwrap().is_none());
        assert!(dedicated_schema_policy(&off).unwrap().is_none());
        let owner = "postgres://owner:pw@db:5432/coffer";
        let on = config(&[
            ("COFFER__METADATA__SCHEMAS__ENABLED", "true"),
            ("COFFER__METADATA__MIGRATION_URL", owner),
        ])
        .unwrap();
        assert_eq!(schemas(&on).unwrap().unwrap().owner_url, owner);
        let policy = dedicated_schema_policy(&on).unwrap().unwrap();
        assert_eq!(policy.plans, [Plan::Professional], "the default plans");
        let id = TenantId::new_random();
        assert_eq!(
            policy.name_for(id),
            format!("coffer_s_{}", id.as_uuid().simple())
        );
        // Without the owner, or on the embedded store, nothing could make them.
        let ownerless = config(&[("COFFER__METADATA__SCHEMAS__ENABLED", "true")]).unwrap();
        assert!(schemas(&ownerless).is_err());
        let embedded = config(&[
            ("COFFER__METADATA__BACKEND", "sqlite"),
            ("COFFER__METADATA__SCHEMAS__ENABLED", "true"),
            ("COFFER__METADATA__MIGRATION_URL", owner),
        ])
        .unwrap();
        assert!(schemas(&embedded).is_err());
        let bad_prefix = config(&[
            ("COFFER__METADATA__SCHEMAS__ENABLED", "true"),
            ("COFFER__METADATA__SCHEMAS__SCHEMA_PREFIX", "Bad-Prefix"),
        ])
        .unwrap();
        assert!(dedicated_schema_policy(&bad_prefix).is_err());
    }

    #[tokio::test]
    async fn regional_databases_come_from_the_environment_with_dashed_names() {
        let config = config(&[
            (
                "COFFER__METADATA__REGIONS__EU_WEST__URL",
                "postgres://coffer_app:pw@db-eu:5432/coffer",
            ),
            (
                "COFFER__METADATA__REGIONS__EU_WEST__MIGRATION_URL",
                "postgres://owner:pw@db-eu:5432/coffer",
            ),
        ])
        .unwrap();
        let regions = regional_databases(&config).unwrap();
        let eu = Region::new("eu-west").unwrap();
        assert_eq!(regions.keys().collect::<Vec<_>>(), [&eu]);
        assert_eq!(
            regions[&eu].owner_url,
            "postgres://owner:pw@db-eu:5432/coffer"
        );
        let embedded = Config::load_from(
            None,
            [
                ("COFFER__METADATA__BACKEND", "sqlite"),
                (
                    "COFFER__METADATA__REGIONS__EU_WEST__URL",
                    "postgres://a@eu/c",
                ),
                (
                    "COFFER__METADATA__REGIONS__EU_WEST__MIGRATION_URL",
                    "postgres://b@eu/c",
                ),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .unwrap();
        assert!(regional_databases(&embedded).is_err());
    }

    #[test]
    fn dedicated_databases_refuse_what_cannot_work() {
        let cases: [&[(&str, &str)]; 4] = [
            // No service-role URL.
            &[("COFFER__METADATA__DEDICATED__ADMIN_URL", ADMIN)],
            // No place for the database's name: every tenant in one database.
            &[
                (
                    "COFFER__METADATA__DEDICATED__ADMIN_URL",
                    "postgres://admin@db/coffer",
                ),
                ("COFFER__METADATA__DEDICATED__APP_URL", APP),
            ],
            // The embedded store has no dedicated databases.
            &[
                ("COFFER__METADATA__BACKEND", "sqlite"),
                ("COFFER__METADATA__DEDICATED__ADMIN_URL", ADMIN),
                ("COFFER__METADATA__DEDICATED__APP_URL", APP),
            ],
            // A prefix that would be spliced into CREATE DATABASE unquoted.
            &[
                ("COFFER__METADATA__DEDICATED__ADMIN_URL", ADMIN),
                ("COFFER__METADATA__DEDICATED__APP_URL", APP),
                ("COFFER__METADATA__DEDICATED__DATABASE_PREFIX", "x; DROP"),
            ],
        ];
        for pairs in cases {
            let config = config(pairs).unwrap();
            let refused =
                dedicated(&config).is_err() || dedicated_database_policy(&config).is_err();
            assert!(refused, "{pairs:?}");
        }
    }
}
