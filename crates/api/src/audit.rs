//! The tenant's audit log: `/audit`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub file_id: Option<Uuid>,
    #[serde(default, with = "crate::instant::option")]
    #[param(value_type = Option<String>)]
    pub since: Option<OffsetDateTime>,
    #[serde(default, with = "crate::instant::option")]
    #[param(value_type = Option<String>)]
    pub until: Option<OffsetDateTime>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditDto {
    pub id: Uuid,
    pub actor: String,
    pub action: String,
    pub file_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The entry's place in its hash chain (1, 2, 3 … per tenant and
    /// chain); `null` only for a record the chain has not covered.
    pub seq: Option<u64>,
    /// SHA-256 (lowercase hex) of the previous entry's hash and this
    /// entry's canonical bytes (docs/audit.md).
    #[schema(value_type = Option<String>)]
    pub hash: Option<String>,
}
