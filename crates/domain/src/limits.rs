use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ContentType, FileStatus, ValidationError};

/// The largest object Coffer stores, whatever a tenant's limits say: S3's
/// limit for one object (5 TiB). The embedded store could hold more, but one
/// bound for both modes keeps a file movable between them; it is also far
/// below what PostgreSQL's and SQLite's signed 64-bit sizes can count.
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;

/// S3's limit on the parts of one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// S3's smallest part (all but the last): a file below it is uploaded
/// with one PUT, not in parts.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// Whether `size` bytes fit in one object of any store ([`MAX_OBJECT_SIZE`]).
pub const fn is_storable(size: u64) -> bool {
    size <= MAX_OBJECT_SIZE
}

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
    /// API requests per minute the whole tenant may make (its users
    /// together); 0: no limit. Bursts of up to a minute's worth pass.
    pub requests_per_minute: u32,
    /// API requests per minute one user of the tenant may make; 0: no limit.
    pub user_requests_per_minute: u32,
}

/// The request rates a tenant and each of its users may make, per minute;
/// 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRates {
    pub tenant_per_minute: u32,
    pub user_per_minute: u32,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_requests_per_minute: Option<u32>,
}

impl LimitOverrides {
    /// The overrides, each within what its setting accepts: `url_ttl_secs`
    /// 1 to [`crate::MAX_URL_TTL_SECS`], `retention_days` at most
    /// [`crate::MAX_RETENTION_DAYS`], `allowed_content_types` at most 100
    /// media-type patterns (normalised as the setting normalises them).
    ///
    /// # Errors
    /// The first override out of its range, named in `field`.
    pub fn validated(mut self) -> Result<Self, ValidationError> {
        if let Some(ttl) = self.url_ttl_secs
            && !(1..=crate::MAX_URL_TTL_SECS).contains(&ttl)
        {
            return Err(ValidationError::new(
                "limit_overrides.url_ttl_secs",
                format!("must be from 1 to {}", crate::MAX_URL_TTL_SECS),
            ));
        }
        if let Some(days) = self.retention_days
            && days > crate::MAX_RETENTION_DAYS
        {
            return Err(ValidationError::new(
                "limit_overrides.retention_days",
                format!("must be from 0 to {}", crate::MAX_RETENTION_DAYS),
            ));
        }
        if let Some(types) = self.allowed_content_types.take() {
            let checked = crate::SettingKey::AllowedContentTypes
                .validate(&serde_json::json!(types))
                .map_err(|e| {
                    ValidationError::new("limit_overrides.allowed_content_types", e.reason)
                })?;
            self.allowed_content_types = serde_json::from_value(checked).ok();
        }
        Ok(self)
    }
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
        let rates = self.request_rates(overrides);
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
            requests_per_minute: rates.tenant_per_minute,
            user_requests_per_minute: rates.user_per_minute,
        }
    }

    /// The request rates of a tenant on this plan with `overrides`: what
    /// [`PlanLimits::with_overrides`] gives, without copying the rest (it
    /// runs on every request).
    pub fn request_rates(&self, overrides: &LimitOverrides) -> RequestRates {
        RequestRates {
            tenant_per_minute: overrides
                .requests_per_minute
                .unwrap_or(self.requests_per_minute),
            user_per_minute: overrides
                .user_requests_per_minute
                .unwrap_or(self.user_requests_per_minute),
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

    /// This usage with one more file of `size` bytes reserved, when it
    /// [`Usage::admits`] it: what a batch of reservations checks entry by
    /// entry, in order, against one read of the counters.
    pub fn with_reservation(&self, limits: &PlanLimits, size: u64) -> Result<Self, LimitViolation> {
        self.admits(limits, size)?;
        Ok(Self {
            reserved_bytes: self.reserved_bytes.saturating_add(size),
            reserved_files: self.reserved_files.saturating_add(1),
            ..*self
        })
    }

    /// The usage that a tenant's changes add up to, as the stored counters
    /// hold it. A negative counter means the accounting went wrong somewhere:
    /// refused rather than read as a huge unsigned number.
    pub fn from_total(total: UsageChange) -> Result<Self, NegativeUsage> {
        let counter = |value: i64, name: &'static str| {
            u64::try_from(value).map_err(|_| NegativeUsage { counter: name })
        };
        Ok(Self {
            used_bytes: counter(total.used_bytes, "used_bytes")?,
            file_count: counter(total.file_count, "file_count")?,
            reserved_bytes: counter(total.reserved_bytes, "reserved_bytes")?,
            reserved_files: counter(total.reserved_files, "reserved_files")?,
        })
    }
}

/// A usage counter that adds up to less than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{counter} is negative")]
pub struct NegativeUsage {
    pub counter: &'static str,
}

/// What one step of a file's lifecycle does to its tenant's [`Usage`]: the
/// signed amounts every store adds to its counters in the transaction that
/// takes the step. Sizes are the stored (signed) byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageChange {
    pub used_bytes: i64,
    pub file_count: i64,
    pub reserved_bytes: i64,
    pub reserved_files: i64,
}

impl UsageChange {
    /// Recording a pending upload of `size` bytes reserves them.
    pub fn reserve(size: i64) -> Self {
        Self {
            reserved_bytes: size,
            reserved_files: 1,
            ..Self::default()
        }
    }

    /// Completing an upload moves its reservation (`reserved` bytes) into
    /// usage at the size actually `stored`, which may differ.
    pub fn complete(reserved: i64, stored: i64) -> Self {
        Self {
            used_bytes: stored,
            file_count: 1,
            reserved_bytes: -reserved,
            reserved_files: -1,
        }
    }

    /// Removing a file of `size` bytes gives back what it holds: its
    /// reservation while pending, its usage otherwise (trash still counts).
    pub fn release(status: FileStatus, size: i64) -> Self {
        match status {
            FileStatus::Pending => Self {
                reserved_bytes: -size,
                reserved_files: -1,
                ..Self::default()
            },
            FileStatus::Scanning
            | FileStatus::Available
            | FileStatus::Quarantined
            | FileStatus::Deleted => Self {
                used_bytes: -size,
                file_count: -1,
                ..Self::default()
            },
        }
    }
}

impl std::ops::AddAssign for UsageChange {
    fn add_assign(&mut self, other: Self) {
        self.used_bytes += other.used_bytes;
        self.file_count += other.file_count;
        self.reserved_bytes += other.reserved_bytes;
        self.reserved_files += other.reserved_files;
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
            requests_per_minute: 600,
            user_requests_per_minute: 60,
        }
    }

    #[test]
    fn reservations_in_a_row_each_count_against_the_next() -> Result<(), LimitViolation> {
        let l = limits();
        let first = Usage::default().with_reservation(&l, 600)?;
        assert_eq!((first.reserved_bytes, first.reserved_files), (600, 1));
        assert_eq!(
            first.with_reservation(&l, 500),
            Err(LimitViolation::QuotaBytes {
                needed: 500,
                available: 400
            })
        );
        let second = first.with_reservation(&l, 400)?;
        assert_eq!(second.reserved_bytes, 1000);
        let third = second.with_reservation(&l, 0)?;
        assert_eq!(
            third.with_reservation(&l, 0),
            Err(LimitViolation::QuotaFiles { max: 3 })
        );
        Ok(())
    }

    #[test]
    fn request_rates_are_the_plans_unless_overridden() {
        let l = limits();
        let none = LimitOverrides::default();
        assert_eq!(
            l.request_rates(&none),
            RequestRates {
                tenant_per_minute: 600,
                user_per_minute: 60
            }
        );
        let overrides = LimitOverrides {
            user_requests_per_minute: Some(0),
            ..LimitOverrides::default()
        };
        let rates = l.request_rates(&overrides);
        assert_eq!((rates.tenant_per_minute, rates.user_per_minute), (600, 0));
        let merged = l.with_overrides(&overrides);
        assert_eq!(
            (merged.requests_per_minute, merged.user_requests_per_minute),
            (600, 0)
        );
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

    fn plus(total: UsageChange, change: UsageChange) -> UsageChange {
        UsageChange {
            used_bytes: total.used_bytes + change.used_bytes,
            file_count: total.file_count + change.file_count,
            reserved_bytes: total.reserved_bytes + change.reserved_bytes,
            reserved_files: total.reserved_files + change.reserved_files,
        }
    }

    #[test]
    fn lifecycle_changes_add_up() {
        let counters = |total| {
            Usage::from_total(total).map(|u| {
                (
                    u.used_bytes,
                    u.file_count,
                    u.reserved_bytes,
                    u.reserved_files,
                )
            })
        };
        let reserved = UsageChange::reserve(10);
        assert_eq!(counters(reserved), Ok((0, 0, 10, 1)));
        // Completion counts the stored size, not the reserved one.
        let completed = plus(reserved, UsageChange::complete(10, 12));
        assert_eq!(counters(completed), Ok((12, 1, 0, 0)));
        for status in [FileStatus::Available, FileStatus::Deleted] {
            let removed = plus(completed, UsageChange::release(status, 12));
            assert_eq!(removed, UsageChange::default(), "{status:?}");
        }
        let abandoned = plus(reserved, UsageChange::release(FileStatus::Pending, 10));
        assert_eq!(abandoned, UsageChange::default());
    }

    #[test]
    fn negative_totals_are_refused() {
        let total = UsageChange {
            used_bytes: 5,
            reserved_files: -1,
            ..UsageChange::default()
        };
        let err = Usage::from_total(total).err();
        assert_eq!(
            err,
            Some(NegativeUsage {
                counter: "reserved_files"
            })
        );
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("reserved_files is negative")
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

    #[test]
    fn overrides_out_of_their_settings_range_are_refused() {
        use crate::LimitOverrides;
        let ok = LimitOverrides {
            url_ttl_secs: Some(crate::MAX_URL_TTL_SECS),
            retention_days: Some(crate::MAX_RETENTION_DAYS),
            allowed_content_types: Some(vec!["Image/*".into()]),
            ..LimitOverrides::default()
        }
        .validated();
        assert_eq!(
            ok.map(|o| o.allowed_content_types),
            Ok(Some(vec!["image/*".to_owned()]))
        );
        for bad in [
            LimitOverrides {
                retention_days: Some(479_001_601),
                ..LimitOverrides::default()
            },
            LimitOverrides {
                url_ttl_secs: Some(0),
                ..LimitOverrides::default()
            },
            LimitOverrides {
                allowed_content_types: Some(vec!["\u{c}".into()]),
                ..LimitOverrides::default()
            },
        ] {
            assert!(bad.clone().validated().is_err(), "{bad:?}");
        }
    }
}
