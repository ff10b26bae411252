//! `/platform/metrics`: platform administrators' view across tenants.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantUsageDto {
    pub id: Uuid,
    pub slug: String,
    pub plan: String,
    pub status: String,
    pub used_bytes: u64,
    pub file_count: u64,
    pub reserved_bytes: u64,
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlatformMetricsDto {
    pub tenants: u64,
    pub tenants_by_status: BTreeMap<String, u64>,
    pub tenants_by_plan: BTreeMap<String, u64>,
    pub files: u64,
    pub bytes: u64,
    pub users: u64,
    pub usage: Vec<TenantUsageDto>,
}
