//! Records rules on files (docs/records.md): `/files/{id}/retention`,
//! `/files/{id}/legal-holds` and `/legal-holds`.

use coffer_domain::{LogicalPath, RetentionMode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `PUT /files/{id}/retention`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// `governance` (admins may shorten it with `bypass_governance`) or
    /// `compliance` (nobody may shorten it).
    #[schema(value_type = String, example = "compliance")]
    pub mode: RetentionMode,
    /// In the future, at most 100 years from now.
    #[serde(with = "crate::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub retain_until: OffsetDateTime,
    /// Needed to shorten a governance retention or turn it into nothing shorter.
    #[serde(default)]
    pub bypass_governance: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BypassQuery {
    /// Needed to remove a governance retention before its date.
    #[serde(default)]
    pub bypass_governance: bool,
}

/// `POST /files/{id}/legal-holds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// Why (a matter, a case number): 1 to 1000 characters.
    #[schema(example = "Matter 2026-114: Acme v. Example")]
    pub reason: String,
}

/// `POST /legal-holds`: a hold on every file in a folder and below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderHoldBody {
    #[schema(value_type = String, example = "/contracts/acme")]
    pub path: LogicalPath,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LegalHoldDto {
    pub id: Uuid,
    pub file_id: Uuid,
    pub reason: String,
    pub placed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LegalHoldsDto {
    pub items: Vec<LegalHoldDto>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoldsQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
    /// 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}
