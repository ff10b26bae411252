//! `POST /webhooks/billing` (outside `/api/v1`): what Coffer did with a
//! signed billing event (docs/billing.md).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What Coffer did with a billing event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BillingReceiptDto {
    /// The event's id.
    pub id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `applied`, `unchanged`, `ignored` or `replay`.
    pub outcome: String,
    /// Why it was unchanged or ignored, e.g. `unknown_tenant`.
    pub reason: Option<String>,
}
