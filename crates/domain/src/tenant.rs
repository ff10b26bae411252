use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{LimitOverrides, PageCursor, TenantId, ValidationError};

/// A tenant's public, immutable handle: lowercase `[a-z0-9-]{3,63}`, not
/// starting or ending with `-` (so it can name a bucket or a database).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let err = |reason: &str| ValidationError::new("slug", reason);
        if !(3..=63).contains(&raw.len()) {
            return Err(err("must be 3 to 63 characters long"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(err("only lowercase letters, digits and '-' are allowed"));
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(err("must not start or end with '-'"));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TenantSlug> for String {
    fn from(value: TenantSlug) -> Self {
        value.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Commercial plan; each has default [`PlanLimits`](crate::PlanLimits) in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Starter,
    Professional,
    Enterprise,
}

/// Lifecycle of a tenant. Only `Active` tenants may use the file API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Provisioning,
    ProvisioningFailed,
    Active,
    Suspended,
    Cancelled,
}

macro_rules! snake_case_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }, $field:literal) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];

            pub const fn as_str(&self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(<$ty>::$variant),)+
                    _ => Err(ValidationError::new(
                        $field,
                        format!("unknown value {s:?}; expected one of: {}", [$($name),+].join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use snake_case_names;

snake_case_names!(Plan { Starter => "starter", Professional => "professional", Enterprise => "enterprise" }, "plan");
snake_case_names!(
    TenantStatus {
        Provisioning => "provisioning",
        ProvisioningFailed => "provisioning_failed",
        Active => "active",
        Suspended => "suspended",
        Cancelled => "cancelled",
    },
    "status"
);

/// Data-residency region, e.g. `eu-west`: lowercase `[a-z0-9-]{2,32}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let ok = (2..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw))
        } else {
            Err(ValidationError::new(
                "region",
                "must be 2 to 32 lowercase letters, digits or '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant as stored. `limit_overrides` holds the per-tenant overrides only;
/// the effective limits are the plan's defaults with them applied
/// ([`crate::PlanLimits::with_overrides`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub display_name: String,
    pub plan: Plan,
    pub status: TenantStatus,
    pub region: Region,
    /// Bucket of its own, when the tenant has dedicated storage placement.
    pub dedicated_bucket: Option<String>,
    /// PostgreSQL database of its own (a database per tenant), when the
    /// tenant's files, users, grants and their records live apart from the
    /// shared database. Chosen at creation and never changed.
    pub dedicated_database: Option<String>,
    /// PostgreSQL schema of its own in a shared database (a schema per
    /// tenant): its tables apart from every other tenant's, on a server it
    /// shares. Chosen at creation; never set together with
    /// `dedicated_database`.
    #[serde(default)]
    pub dedicated_schema: Option<String>,
    /// The region whose shared database holds its data (regional shared
    /// databases, for residency), when its region has one; `None`: the
    /// registry's database. A schema of its own is made in that database
    /// too. Chosen at creation; never set with `dedicated_database` (a
    /// dedicated database is made on its region's server already).
    #[serde(default)]
    pub metadata_region: Option<Region>,
    pub limit_overrides: LimitOverrides,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub suspended_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub purge_after: Option<OffsetDateTime>,
    /// Set while a move copies its data elsewhere (`TenantMove`): its writes
    /// answer `503` until the switch, its reads go on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub writes_frozen_at: Option<OffsetDateTime>,
}

impl Tenant {
    /// Whether its data lives apart from the registry's tables: in a
    /// database or a schema of its own, or in its region's shared database.
    pub fn keeps_data_apart(&self) -> bool {
        self.dedicated_database.is_some()
            || self.dedicated_schema.is_some()
            || self.metadata_region.is_some()
    }

    /// The database or schema of its own, if any: where its rows are, as
    /// far as caches of its row ids need to know.
    pub fn home(&self) -> Option<String> {
        self.dedicated_database
            .clone()
            .or_else(|| self.dedicated_schema.clone())
    }

    /// Its place in the tenant listing, which runs by `(created_at, id)`.
    pub fn page_cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            id: *self.id.as_uuid(),
        }
    }

    /// Display names are free text but bounded and printable.
    pub fn validate_display_name(name: &str) -> Result<String, ValidationError> {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 200 {
            return Err(ValidationError::new(
                "display_name",
                "must be 1 to 200 characters",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "display_name",
                "must not contain control characters",
            ));
        }
        Ok(trimmed.to_owned())
    }
}

/// Whether `name` is a plain lower-case SQL identifier (`[a-z_][a-z0-9_]*`)
/// of 1 to `max_len` bytes: what a dedicated database's name (and its
/// prefix) must be, since `CREATE DATABASE` takes no bind parameters and
/// the name is spliced in unquoted.
pub fn is_plain_identifier(name: &str, max_len: usize) -> bool {
    !name.is_empty()
        && name.len() <= max_len
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_lowercase() || (i > 0 && b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "a-1", "abc", &"a".repeat(63)] {
            assert!(TenantSlug::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "ac_me",
            "ac me",
            &"a".repeat(64),
            "ümlaut",
        ] {
            assert!(TenantSlug::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_round_trip_as_lowercase() {
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().ok(), Some(*plan));
            assert_eq!(
                serde_json::to_string(plan).ok(),
                Some(format!("\"{}\"", plan.as_str()))
            );
        }
        assert_eq!(
            serde_json::to_string(&TenantStatus::ProvisioningFailed).ok(),
            Some("\"provisioning_failed\"".to_owned())
        );
        assert!("Gold".parse::<Plan>().is_err());
    }

    #[test]
    fn regions_and_display_names() {
        assert!(Region::new("eu-west").is_ok());
        assert!(Region::new("EU").is_err());
        assert_eq!(
            Tenant::validate_display_name("  Acme  ").ok().as_deref(),
            Some("Acme")
        );
        assert!(Tenant::validate_display_name(" ").is_err());
        assert!(Tenant::validate_display_name("a\u{7}b").is_err());
    }
}
