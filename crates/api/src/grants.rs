//! Permissions on a file: `/files/{id}/grants`.

use coffer_domain::{Access, Grant};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A permission on a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GrantDto {
    pub id: Uuid,
    /// `user:<sub>` or `role:<name>`.
    pub subject: String,
    #[schema(value_type = String, example = "read")]
    pub access: Access,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<Grant> for GrantDto {
    fn from(g: Grant) -> Self {
        Self {
            id: *g.id.as_uuid(),
            subject: g.subject.to_string(),
            access: g.access,
            expires_at: g.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(value_type = String, example = "user:bob")]
    pub subject: coffer_domain::GrantSubject,
    #[schema(value_type = String, example = "read")]
    pub access: Access,
    #[serde(default, with = "crate::instant::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GrantsDto {
    pub items: Vec<GrantDto>,
}
