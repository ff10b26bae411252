//! Share links for people outside the tenant: `/files/{id}/links`.

use coffer_domain::{LinkPassword, ShareLink};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A share link. Its `url` carries the link's secret token and is in the
/// answer to its creation only: Coffer keeps just the token's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkDto {
    pub id: Uuid,
    pub file_id: Uuid,
    /// The public page (`…/s/{token}`): only when the link was just made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `active`, `revoked`, `expired` or `used_up`.
    #[schema(example = "active")]
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub max_downloads: Option<u32>,
    pub downloads: u32,
    pub password_protected: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl LinkDto {
    /// `link` as seen at `now`, with its URL when it was just made.
    pub fn new(link: ShareLink, url: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            id: *link.id.as_uuid(),
            file_id: *link.file_id.as_uuid(),
            url,
            state: link
                .dead(now)
                .map_or("active", coffer_domain::LinkDead::as_str)
                .to_owned(),
            expires_at: link.expires_at,
            max_downloads: link.max_downloads,
            downloads: link.downloads,
            password_protected: link.password_protected,
            revoked_at: link.revoked_at,
            created_by: link.created_by.as_str().to_owned(),
            created_at: link.created_at,
        }
    }
}

/// A new share link: until when, and optionally a password (8 to 256
/// characters) and a download limit (1 to 1,000,000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// At most 365 days ahead.
    #[serde(with = "crate::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 8, max_length = 256)]
    pub password: Option<LinkPassword>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_downloads: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinksDto {
    pub items: Vec<LinkDto>,
}
