use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tenant::snake_case_names;
use crate::{FileId, GrantId, Role, Subject, TenantId, ValidationError};

/// Access levels, ordered: `read` < `write` < `manage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// See metadata, download.
    Read,
    /// Also rename, move, change metadata.
    Write,
    /// Also change grants and visibility, delete, restore.
    Manage,
}
snake_case_names!(Access { Read => "read", Write => "write", Manage => "manage" }, "access");

/// Whom a grant is for: one user (`user:<sub>`) or every holder of a role
/// (`role:<name>`) in the file's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GrantSubject {
    User(Subject),
    Role(Role),
}

impl FromStr for GrantSubject {
    type Err = ValidationError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ValidationError::new("subject", reason);
        match raw.split_once(':') {
            Some(("user", sub)) => Subject::new(sub)
                .map(Self::User)
                .map_err(|e| err(&e.reason)),
            Some(("role", role)) => match role.parse::<Role>()? {
                Role::PlatformAdmin => Err(err("platform-admin cannot be granted file access")),
                role => Ok(Self::Role(role)),
            },
            _ => Err(err(
                "must be 'user:<subject>' or 'role:<admin|editor|viewer>'",
            )),
        }
    }
}

impl TryFrom<String> for GrantSubject {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<GrantSubject> for String {
    fn from(value: GrantSubject) -> Self {
        value.to_string()
    }
}

impl fmt::Display for GrantSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(sub) => write!(f, "user:{sub}"),
            Self::Role(role) => write!(f, "role:{role}"),
        }
    }
}

/// A permission on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub tenant_id: TenantId,
    pub file_id: FileId,
    pub subject: GrantSubject,
    pub access: Access,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: Subject,
    pub created_at: OffsetDateTime,
}

impl Grant {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_and_print() {
        for raw in ["user:alice", "role:viewer", "user:f:1"] {
            assert_eq!(
                raw.parse::<GrantSubject>()
                    .map(|s| s.to_string())
                    .ok()
                    .as_deref(),
                Some(raw)
            );
        }
        for bad in [
            "alice",
            "group:x",
            "user:",
            "role:owner",
            "role:platform-admin",
        ] {
            assert!(bad.parse::<GrantSubject>().is_err(), "{bad}");
        }
        assert!(Access::Read < Access::Write && Access::Write < Access::Manage);
    }
}
