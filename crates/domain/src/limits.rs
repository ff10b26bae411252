use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ContentType;

/// The effective limits of a tenant: its plan's defaults with any per-tenant
/// overrides applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub max_file_size: u64,
    pub max_total_bytes: u64,
    pub max_files: u64,
    /// Patterns such as `application/pdf` or `image/*`; empty allows any type.
    pub allowed_content_types: Vec<String>,
    /// Lifetime of presigned URLs, in seconds.
    pub url_ttl_secs: u32,
    /// Days that trash and a cancelled tenant's data are kept.
    pub retention_days: u32,
}

/// Per-tenant overrides of [`PlanLimits`]; `None` keeps the plan's value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_content_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_ttl_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

/// A tenant's storage use. Reservations are pending uploads: they count
/// against the quota until they complete or are reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub used_bytes: u64,
    pub file_count: u64,
    pub reserved_bytes: u64,
    pub reserved_files: u64,
}

/// Why an upload does not fit a tenant's limits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitViolation {
    #[error("the file is {size} bytes; this tenant accepts at most {max}")]
    FileTooLarge { size: u64, max: u64 },
    #[error("content type {content_type} is not allowed for this tenant")]
    ContentTypeNotAllowed { content_type: String },
    #[error("storage quota exceeded: {needed} bytes needed, {available} available")]
    QuotaBytes { needed: u64, available: u64 },
    #[error("file count quota of {max} reached")]
    QuotaFiles { max: u64 },
}

impl PlanLimits {
    pub fn with_overrides(&self, overrides: &LimitOverrides) -> Self {
        Self {
            max_file_size: overrides.max_file_size.unwrap_or(self.max_file_size),
            max_total_bytes: overrides.max_total_bytes.unwrap_or(self.max_total_bytes),
            max_files: overrides.max_files.unwrap_or(self.max_files),
            allowed_content_types: overrides
                .allowed_content_types
                .clone()
                .unwrap_or_else(|| self.allowed_content_types.clone()),
            url_ttl_secs: overrides.url_ttl_secs.unwrap_or(self.url_ttl_secs),
            retention_days: overrides.retention_days.unwrap_or(self.retention_days),
        }
    }

    /// The per-file checks, made before anything is reserved.
    pub fn check_file(&self, size: u64, content_type: &ContentType) -> Result<(), LimitViolation> {
        if size > self.max_file_size {
            return Err(LimitViolation::FileTooLarge {
                size,
                max: self.max_file_size,
            });
        }
        self.check_content_type(content_type)
    }

    pub fn check_content_type(&self, content_type: &ContentType) -> Result<(), LimitViolation> {
        if self.allowed_content_types.is_empty()
            || self
                .allowed_content_types
                .iter()
                .any(|p| content_type.matches(p))
        {
            Ok(())
        } else {
            Err(LimitViolation::ContentTypeNotAllowed {
                content_type: content_type.essence().to_owned(),
            })
        }
    }
}

impl Usage {
    /// Whether one more file of `size` bytes fits, counting reservations.
    /// Stores call this inside the transaction that reserves, so that two
    /// concurrent uploads cannot both take the last free bytes.
    pub fn admits(&self, limits: &PlanLimits, size: u64) -> Result<(), LimitViolation> {
        let committed = self.used_bytes.saturating_add(self.reserved_bytes);
        let available = limits.max_total_bytes.saturating_sub(committed);
        if size > available {
            return Err(LimitViolation::QuotaBytes {
                needed: size,
                available,
            });
        }
        if self.file_count.saturating_add(self.reserved_files) >= limits.max_files {
            return Err(LimitViolation::QuotaFiles {
                max: limits.max_files,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PlanLimits {
        PlanLimits {
            max_file_size: 100,
            max_total_bytes: 1000,
            max_files: 3,
            allowed_content_types: vec!["application/pdf".into(), "image/*".into()],
            url_ttl_secs: 300,
            retention_days: 30,
        }
    }

    fn ct(s: &str) -> ContentType {
        ContentType::new(s)
            .unwrap_or_else(|_| ContentType::new("x/y").unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn file_checks() {
        let l = limits();
        assert!(l.check_file(100, &ct("application/pdf")).is_ok());
        assert!(matches!(
            l.check_file(101, &ct("application/pdf")),
            Err(LimitViolation::FileTooLarge { max: 100, .. })
        ));
        assert!(l.check_file(1, &ct("image/png")).is_ok());
        assert!(matches!(
            l.check_file(1, &ct("text/html")),
            Err(LimitViolation::ContentTypeNotAllowed { .. })
        ));
        let any = PlanLimits {
            allowed_content_types: vec![],
            ..limits()
        };
        assert!(any.check_file(1, &ct("text/html")).is_ok());
    }

    #[test]
    fn quota_counts_reservations() {
        let l = limits();
        let usage = Usage {
            used_bytes: 500,
            file_count: 1,
            reserved_bytes: 400,
            reserved_files: 1,
        };
        assert!(usage.admits(&l, 100).is_ok());
        assert_eq!(
            usage.admits(&l, 101),
            Err(LimitViolation::QuotaBytes {
                needed: 101,
                available: 100
            })
        );
        let full = Usage {
            reserved_files: 2,
            ..usage
        };
        assert_eq!(
            full.admits(&l, 1),
            Err(LimitViolation::QuotaFiles { max: 3 })
        );
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o = LimitOverrides {
            max_file_size: Some(7),
            allowed_content_types: Some(vec![]),
            ..Default::default()
        };
        let eff = limits().with_overrides(&o);
        assert_eq!(eff.max_file_size, 7);
        assert!(eff.allowed_content_types.is_empty());
        assert_eq!(eff.max_total_bytes, 1000);
        assert_eq!(
            limits().with_overrides(&LimitOverrides::default()),
            limits()
        );
    }
}
