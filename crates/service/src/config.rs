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
        let base = |max_file_size, max_total_bytes, max_files, url_ttl_secs| PlanLimits {
            max_file_size,
            max_total_bytes,
            max_files,
            allowed_content_types: Vec::new(),
            url_ttl_secs,
            retention_days: 90,
        };
        Self {
            starter: base(100 * MIB, 10 * GIB, 100_000, 300),
            professional: base(5 * GIB, 1024 * GIB, 10_000_000, 300),
            enterprise: base(5 * 1024 * GIB, 1024 * 1024 * GIB, 1_000_000_000, 900),
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
    /// How long a permanent delete may take before the sweep finishes it
    /// instead (a crash between marking the row and removing it).
    pub erase_grace: Duration,
    /// Web origins given to buckets made for a tenant (dedicated buckets).
    pub bucket_cors_origins: Vec<String>,
    /// How long a worker holds a claimed onboarding before another may
    /// take it over (a worker that died).
    pub onboarding_lease: Duration,
}

impl ServiceConfig {
    pub fn new(default_bucket: BucketName) -> Self {
        Self {
            plans: PlanDefaults::default(),
            placement: Placement::single(default_bucket),
            upload_window: Duration::from_secs(3600),
            multipart_part_size: 16 * MIB,
            multipart_min_part_size: 5 * MIB,
            tenant_cache_ttl: Duration::from_secs(5),
            delivery: crate::DeliveryPolicy::default(),
            erase_grace: Duration::from_secs(300),
            bucket_cors_origins: Vec::new(),
            onboarding_lease: Duration::from_secs(300),
        }
    }
}
