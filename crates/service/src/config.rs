use std::time::Duration;

use coffer_domain::{BucketName, Placement, Plan, PlanLimits};
use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Default limits per plan; a tenant's overrides apply on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDefaults {
    pub starter: PlanLimits,
    pub professional: PlanLimits,
    pub enterprise: PlanLimits,
}

impl PlanDefaults {
    pub fn for_plan(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Starter => &self.starter,
            Plan::Professional => &self.professional,
            Plan::Enterprise => &self.enterprise,
        }
    }
}

impl Default for PlanDefaults {
    fn default() -> Self {
        let base =
            |max_file_size, max_total_bytes, max_files, url_ttl_secs, rates: [u32; 2]| PlanLimits {
                max_file_size,
                max_total_bytes,
                max_files,
                allowed_content_types: Vec::new(),
                url_ttl_secs,
                retention_days: 90,
                requests_per_minute: rates[0],
                user_requests_per_minute: rates[1],
            };
        // Request rates per minute, [tenant, each user]: far above what
        // people and scripts normally do, low enough to stop a runaway loop.
        Self {
            starter: base(100 * MIB, 10 * GIB, 100_000, 300, [6_000, 1_200]),
            professional: base(5 * GIB, 1024 * GIB, 10_000_000, 300, [30_000, 3_000]),
            enterprise: base(
                5 * 1024 * GIB,
                1024 * 1024 * GIB,
                1_000_000_000,
                900,
                [120_000, 6_000],
            ),
        }
    }
}

/// Settings of the use cases, independent of any adapter.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub plans: PlanDefaults,
    pub placement: Placement,
    /// How long a pending upload may take before the reaper removes it.
    pub upload_window: Duration,
    /// Part size suggested to clients of multipart uploads.
    pub multipart_part_size: u64,
    /// Smallest file for which a multipart upload is accepted, and the
    /// smallest part S3 allows (all parts but the last).
    pub multipart_min_part_size: u64,
    /// How long a resolved tenant is cached before it is read again.
    pub tenant_cache_ttl: Duration,
    /// How events are delivered to tenants' webhooks.
    pub delivery: crate::DeliveryPolicy,
    /// Which internal hosts a webhook may name (none by default).
    pub outbound: coffer_domain::outbound::OutboundPolicy,
    /// How long a permanent delete may take before the sweep finishes it
    /// instead (a crash between marking the row and removing it).
    pub erase_grace: Duration,
    /// Web origins given to buckets made for a tenant (dedicated buckets).
    pub bucket_cors_origins: Vec<String>,
    /// How long a worker holds a claimed onboarding before another may
    /// take it over (a worker that died).
    pub onboarding_lease: Duration,
    /// How long a tenant's writes are frozen before a move copies its rows:
    /// every instance drops the tenant it cached (the change feed) and the
    /// writes that began before the freeze end. Moves are claimed with the
    /// onboarding lease.
    pub move_freeze_grace: Duration,
    /// Which new tenants get a database of their own (a database per tenant);
    /// `None`: every tenant lives in the shared database.
    pub dedicated_databases: Option<DedicatedPolicy>,
    /// Which new tenants get a schema of their own in the shared database
    /// (a schema per tenant); `None`: no tenant does. A tenant given a
    /// database of its own gets no schema.
    pub dedicated_schemas: Option<DedicatedPolicy>,
    /// The regions with a shared database of their own (`[metadata.regions]`),
    /// where their tenants' data lives. Empty: every tenant's data is in the
    /// registry's database; otherwise a tenant of another region is refused.
    pub metadata_regions: Vec<coffer_domain::Region>,
    /// Malware scanning, where the deployment has a scanner.
    pub scanning: ScanningPolicy,
    pub credentials: CredentialsPolicy,
}

/// How long temporary credentials live (docs/storage.md, "Temporary
/// credentials"). It applies only where a store has an issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsPolicy {
    /// The longest lifetime per plan (the issuer's own maximum bounds it
    /// too); a request without `ttl_secs` gets `default_ttl`, capped the same way.
    pub max_ttl: PlanDurations,
    pub default_ttl: Duration,
    /// How long after write credentials expire what landed can still be
    /// registered; then the sweep removes what is left.
    pub registration_window: Duration,
}

/// A duration per plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDurations {
    pub starter: Duration,
    pub professional: Duration,
    pub enterprise: Duration,
}

impl PlanDurations {
    pub fn for_plan(&self, plan: Plan) -> Duration {
        match plan {
            Plan::Starter => self.starter,
            Plan::Professional => self.professional,
            Plan::Enterprise => self.enterprise,
        }
    }
}

impl Default for CredentialsPolicy {
    fn default() -> Self {
        let hour = Duration::from_secs(3600);
        Self {
            max_ttl: PlanDurations {
                starter: hour,
                professional: hour,
                enterprise: 12 * hour,
            },
            default_ttl: hour,
            registration_window: hour,
        }
    }
}

/// Who is scanned and how scans run (docs/scanning.md). It applies only
/// where a scanner is wired ([`crate::Coffer::with_scanner`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanningPolicy {
    /// Plans whose tenants' uploads are scanned, unless a tenant's
    /// `malware_scanning` flag says otherwise. Default: every plan.
    pub plans: Vec<coffer_domain::Plan>,
    /// How long a worker holds a claimed scan before another may take it
    /// over (a worker that died).
    pub lease: Duration,
    /// Scans one process runs at once.
    pub concurrency: u32,
    /// The first wait before a scan is tried again when the scanner cannot
    /// be reached; it doubles per attempt up to `retry_max`. Scans are
    /// retried until the scanner answers: files wait, never unscanned.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Scanner errors (not outages) tolerated before a file is quarantined
    /// as unscannable.
    pub max_failures: u32,
}

impl Default for ScanningPolicy {
    fn default() -> Self {
        Self {
            plans: coffer_domain::Plan::ALL.to_vec(),
            lease: Duration::from_secs(300),
            concurrency: 2,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_failures: 5,
        }
    }
}

/// The rule for dedicated databases (and, the same, for tenant schemas):
/// tenants of these plans get one (unless their creation asks otherwise),
/// named `<prefix><tenant id without dashes>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedicatedPolicy {
    prefix: String,
    pub plans: Vec<coffer_domain::Plan>,
}

impl DedicatedPolicy {
    /// The longest prefix: with the 32 hex digits of the id it must fit
    /// PostgreSQL's 63-byte identifiers.
    pub const MAX_PREFIX_LEN: usize = 31;

    /// # Errors
    /// A prefix that is not a lower-case identifier start (`[a-z_][a-z0-9_]*`)
    /// of at most [`Self::MAX_PREFIX_LEN`] bytes: it is spliced into
    /// `CREATE DATABASE`.
    pub fn new(
        prefix: impl Into<String>,
        plans: impl IntoIterator<Item = coffer_domain::Plan>,
    ) -> Result<Self, coffer_domain::ValidationError> {
        Self::named(prefix.into(), plans, "database_prefix")
    }

    /// The rule for tenant schemas: as [`Self::new`], the prefix reported
    /// as `schema_prefix`.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn for_schemas(
        prefix: impl Into<String>,
        plans: impl IntoIterator<Item = coffer_domain::Plan>,
    ) -> Result<Self, coffer_domain::ValidationError> {
        Self::named(prefix.into(), plans, "schema_prefix")
    }

    fn named(
        prefix: String,
        plans: impl IntoIterator<Item = coffer_domain::Plan>,
        field: &'static str,
    ) -> Result<Self, coffer_domain::ValidationError> {
        if !coffer_domain::is_plain_identifier(&prefix, Self::MAX_PREFIX_LEN) {
            return Err(coffer_domain::ValidationError::new(
                field,
                format!(
                    "the prefix must be 1 to {} of a-z, 0-9 and _, not starting with a digit",
                    Self::MAX_PREFIX_LEN
                ),
            ));
        }
        Ok(Self {
            prefix,
            plans: plans.into_iter().collect(),
        })
    }

    /// The database (or schema) of tenant `id`.
    pub fn name_for(&self, id: coffer_domain::TenantId) -> String {
        format!("{}{}", self.prefix, id.as_uuid().simple())
    }
}

impl ServiceConfig {
    pub fn new(default_bucket: BucketName) -> Self {
        Self {
            plans: PlanDefaults::default(),
            placement: Placement::single(default_bucket),
            upload_window: Duration::from_secs(3600),
            multipart_part_size: 16 * MIB,
            multipart_min_part_size: coffer_domain::MIN_PART_SIZE,
            tenant_cache_ttl: Duration::from_secs(60),
            delivery: crate::DeliveryPolicy::default(),
            outbound: coffer_domain::outbound::OutboundPolicy::default(),
            erase_grace: Duration::from_secs(300),
            bucket_cors_origins: Vec::new(),
            onboarding_lease: Duration::from_secs(300),
            move_freeze_grace: Duration::from_secs(5),
            dedicated_databases: None,
            dedicated_schemas: None,
            metadata_regions: Vec::new(),
            scanning: ScanningPolicy::default(),
            credentials: CredentialsPolicy::default(),
        }
    }

    /// [`ServiceConfig::erase_grace`] as a span of time.
    pub(crate) fn erase_grace_span(&self) -> time::Duration {
        time::Duration::try_from(self.erase_grace).unwrap_or(time::Duration::MAX)
    }
}
