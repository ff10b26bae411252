//! Tenants (`/tenant`, `/tenants…`): the tenant, its onboarding, its
//! settings and feature flags.

use coffer_domain::{
    LimitOverrides, Plan, PlanLimits, Region, Tenant, TenantSlug, TenantStatus, Usage,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantDto {
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
    #[schema(value_type = String, example = "starter")]
    pub plan: Plan,
    #[schema(value_type = String, example = "active")]
    pub status: TenantStatus,
    pub region: String,
    /// Its own bucket, when it has one (storage placement).
    pub dedicated_bucket: Option<String>,
    /// Its own PostgreSQL database, when it has one (a database per tenant).
    pub dedicated_database: Option<String>,
    /// Its own schema in the shared PostgreSQL database, when it has one (a
    /// schema per tenant).
    pub dedicated_schema: Option<String>,
    /// The region whose shared database holds its data, when its region has
    /// one (regional databases); none: the registry's database.
    pub metadata_region: Option<String>,
    #[schema(value_type = Object)]
    pub limit_overrides: LimitOverrides,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub purge_after: Option<OffsetDateTime>,
    /// Set while a move copies its data: its writes answer `503`
    /// (`tenant_moving`) until the switch, its reads go on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub writes_frozen_at: Option<OffsetDateTime>,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        Self {
            id: *t.id.as_uuid(),
            slug: t.slug.into(),
            display_name: t.display_name,
            plan: t.plan,
            status: t.status,
            region: t.region.into(),
            dedicated_bucket: t.dedicated_bucket,
            dedicated_database: t.dedicated_database,
            dedicated_schema: t.dedicated_schema,
            metadata_region: t.metadata_region.map(Into::into),
            limit_overrides: t.limit_overrides,
            created_at: t.created_at,
            suspended_at: t.suspended_at,
            cancelled_at: t.cancelled_at,
            purge_after: t.purge_after,
            writes_frozen_at: t.writes_frozen_at,
        }
    }
}

/// A tenant with its effective limits and usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantViewDto {
    #[serde(flatten)]
    pub tenant: TenantDto,
    #[schema(value_type = Object)]
    pub limits: PlanLimits,
    #[schema(value_type = Object)]
    pub usage: Usage,
    /// The onboarding job's progress (absent for tenants created before
    /// onboarding was a job).
    pub onboarding: Option<OnboardingDto>,
    /// The billing notice (an unpaid invoice: `payment_failed_at`,
    /// `invoice`, `amount_due`, `currency`, …), for administrators; `null`
    /// when there is none.
    #[schema(value_type = Option<Object>)]
    pub billing: Option<serde_json::Value>,
    /// `placed`, `moving:<next step>` while a move runs, or
    /// `move_failed:<step>` (docs/tenants-placement.md).
    #[serde(default = "placed")]
    pub placement_status: String,
    /// Its last move's progress; `null` for a tenant never moved.
    #[serde(default, rename = "move")]
    pub last_move: Option<MoveDto>,
}

fn placed() -> String {
    "placed".to_owned()
}

/// Where a tenant's data lives: the placement fields of its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlacementDto {
    pub dedicated_database: Option<String>,
    pub dedicated_schema: Option<String>,
    pub dedicated_bucket: Option<String>,
    /// The region whose shared database holds its rows (without a database
    /// of its own, where regional databases are configured).
    #[schema(value_type = Option<String>, example = "eu-west")]
    pub metadata_region: Option<coffer_domain::Region>,
    /// The tenant's region.
    #[schema(value_type = Option<String>, example = "eu-west")]
    pub region: Option<coffer_domain::Region>,
}

impl From<coffer_domain::TenantPlacement> for PlacementDto {
    fn from(p: coffer_domain::TenantPlacement) -> Self {
        Self {
            dedicated_database: p.dedicated_database,
            dedicated_schema: p.dedicated_schema,
            dedicated_bucket: p.dedicated_bucket,
            metadata_region: p.metadata_region,
            region: p.region,
        }
    }
}

/// A tenant's move to another placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MoveDto {
    /// `queued`, `running`, `done` or `failed`.
    #[schema(value_type = String, example = "running")]
    pub state: coffer_domain::MoveState,
    /// The step running now, or the one that failed last.
    #[schema(value_type = Option<String>, example = "copy_rows")]
    pub current_step: Option<coffer_domain::MoveStep>,
    #[schema(value_type = Vec<String>)]
    pub steps_done: Vec<coffer_domain::MoveStep>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub from: PlacementDto,
    pub to: PlacementDto,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<coffer_domain::TenantMove> for MoveDto {
    fn from(m: coffer_domain::TenantMove) -> Self {
        Self {
            state: m.state,
            current_step: m.current_step,
            steps_done: m.steps_done,
            attempts: m.attempts,
            last_error: m.last_error,
            from: m.source.into(),
            to: m.target.into(),
            updated_at: m.updated_at,
        }
    }
}

/// `POST /api/v1/tenants/{id}/move`: where to move a tenant. What is left
/// out follows the configured plans, as at onboarding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTenantBody {
    /// A database of its own (`[metadata.dedicated]`).
    #[serde(default)]
    pub dedicated_database: Option<bool>,
    /// A schema of its own (`[metadata.schemas]`).
    #[serde(default)]
    pub dedicated_schema: Option<bool>,
    /// A bucket of its own, made by the move; its objects are copied there.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "acme-records")]
    pub dedicated_bucket: Option<coffer_domain::BucketName>,
    /// Another region: its objects (and, with regional databases, its
    /// rows) are moved there. Needs `confirm_region_change`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "us-east")]
    pub region: Option<coffer_domain::Region>,
    /// `true` to confirm that the tenant's data may leave its region.
    #[serde(default)]
    pub confirm_region_change: bool,
}

/// Where a tenant's onboarding stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OnboardingDto {
    /// `queued`, `running`, `done` or `failed`.
    #[schema(value_type = String, example = "running")]
    pub state: coffer_domain::OnboardingState,
    /// The step running now, or the one that failed.
    #[schema(value_type = Option<String>, example = "placement")]
    pub current_step: Option<coffer_domain::OnboardingStep>,
    #[schema(value_type = Vec<String>)]
    pub steps_done: Vec<coffer_domain::OnboardingStep>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub admin_subject: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<coffer_domain::Onboarding> for OnboardingDto {
    fn from(o: coffer_domain::Onboarding) -> Self {
        Self {
            state: o.state,
            current_step: o.current_step,
            steps_done: o.steps_done,
            attempts: o.attempts,
            last_error: o.last_error,
            admin_subject: o.request.admin_subject.map(String::from),
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantBody {
    #[schema(value_type = String, example = "globex")]
    pub slug: TenantSlug,
    pub display_name: String,
    #[schema(value_type = String, example = "professional")]
    pub plan: Plan,
    #[schema(value_type = String, example = "eu-west")]
    pub region: Region,
    #[serde(default, deserialize_with = "crate::json::object_or_null_as_default")]
    #[schema(value_type = Option<Object>)]
    pub limit_overrides: LimitOverrides,
    #[schema(value_type = Option<String>)]
    pub dedicated_bucket: Option<coffer_domain::BucketName>,
    /// A PostgreSQL database of its own; omitted, the configured plans
    /// decide (`metadata.dedicated.plans`).
    pub dedicated_database: Option<bool>,
    /// A schema of its own in the shared PostgreSQL database; omitted, the
    /// configured plans decide (`metadata.schemas.plans`). Not with
    /// `"dedicated_database": true`.
    #[serde(default)]
    pub dedicated_schema: Option<bool>,
    /// The first tenant administrator (the identity provider's subject),
    /// created with the `admin` role by the onboarding job.
    #[schema(value_type = Option<String>)]
    pub admin_subject: Option<coffer_domain::Subject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantBody {
    pub display_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub plan: Option<Plan>,
    /// `active`, `suspended` or `cancelled`.
    #[schema(value_type = Option<String>)]
    pub status: Option<TenantStatus>,
    #[serde(default, deserialize_with = "crate::json::optional_object")]
    #[schema(value_type = Option<Object>)]
    pub limit_overrides: Option<LimitOverrides>,
}

/// A setting's new value; `null` clears it (the override or plan value applies again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingBody {
    /// `max_file_size` (bytes ≥ 1), `url_ttl_secs` (1…604800),
    /// `allowed_content_types` (list of `type/subtype` or `type/*`),
    /// `retention_days` (0…3650).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// A setting: what is stored (`null` when unset) and the limit's effective
/// value with its source (`plan`, `override` or `setting`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SettingDto {
    pub key: String,
    #[schema(value_type = Object)]
    pub value: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub effective: serde_json::Value,
    /// `plan`, `override`, `setting`.
    pub source: String,
}

/// A feature flag to store: on or off, until `expires_at` when given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureBody {
    pub enabled: bool,
    #[serde(default, with = "crate::instant::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// A flag's effective state (source `feature` while a stored flag applies,
/// `default` otherwise) and the stored flag, expired or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeatureDto {
    pub key: String,
    pub enabled: bool,
    /// `default` or `feature`.
    pub source: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    #[schema(value_type = Object)]
    pub stored: Option<serde_json::Value>,
}

/// Every limit as `{value, source}` and every flag as `{enabled, source,
/// expires_at}`; sources are `default`, `plan`, `override`, `setting`, `feature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EffectiveConfigDto {
    pub tenant_id: Uuid,
    pub plan: String,
    #[schema(value_type = String, format = DateTime)]
    pub evaluated_at: String,
    #[schema(value_type = Object)]
    pub max_file_size: serde_json::Value,
    #[schema(value_type = Object)]
    pub max_total_bytes: serde_json::Value,
    #[schema(value_type = Object)]
    pub max_files: serde_json::Value,
    #[schema(value_type = Object)]
    pub allowed_content_types: serde_json::Value,
    #[schema(value_type = Object)]
    pub url_ttl_secs: serde_json::Value,
    #[schema(value_type = Object)]
    pub retention_days: serde_json::Value,
    #[schema(value_type = Object)]
    pub requests_per_minute: serde_json::Value,
    #[schema(value_type = Object)]
    pub user_requests_per_minute: serde_json::Value,
    #[schema(value_type = Object)]
    pub features: serde_json::Value,
}
