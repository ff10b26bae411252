//! Records rules: how long a file must be kept (retention) and whether it
//! is frozen for litigation (legal hold). The rules of who may change them
//! live here, once, for every store and every caller.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ValidationError;
use crate::tenant::snake_case_names;

/// How strictly a retention binds, after S3 Object Lock's two modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionMode {
    /// Tenant admins may shorten or remove it, with an explicit bypass
    /// (audited).
    Governance,
    /// Nobody may shorten or remove it; it can only be extended.
    Compliance,
}
snake_case_names!(RetentionMode { Governance => "governance", Compliance => "compliance" }, "mode");

/// A file is kept, unchanged, until `retain_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    #[serde(with = "time::serde::rfc3339")]
    pub retain_until: OffsetDateTime,
}

/// Why a retention cannot change as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetentionChangeRefused {
    /// Compliance retention only ever grows.
    #[error("the file is under compliance retention until {0}; it can only be extended")]
    Compliance(OffsetDateTime),
    /// Governance retention shrinks only with the bypass flag.
    #[error(
        "the file is under governance retention until {0}; shortening or removing it needs `bypass_governance`"
    )]
    GovernanceNeedsBypass(OffsetDateTime),
}

impl Retention {
    /// Whether the retention still binds at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        now < self.retain_until
    }

    /// Whether `next` keeps at least what `self` promises: same or stricter
    /// mode, same or later date.
    fn is_kept_by(&self, next: &Retention) -> bool {
        let mode_kept = self.mode == RetentionMode::Governance || next.mode == self.mode;
        mode_kept && next.retain_until >= self.retain_until
    }
}

/// Decide a change of a file's retention from `current` to `next` (`None`
/// removes it), at `now`. An expired retention binds nothing. Extending
/// (or tightening governance into compliance) is always allowed; anything
/// else needs governance mode and `bypass_governance`.
///
/// # Errors
/// [`RetentionChangeRefused`] when the change would weaken an active
/// retention that may not be weakened.
pub fn decide_retention_change(
    current: Option<&Retention>,
    next: Option<&Retention>,
    bypass_governance: bool,
    now: OffsetDateTime,
) -> Result<(), RetentionChangeRefused> {
    let Some(current) = current.filter(|r| r.is_active(now)) else {
        return Ok(());
    };
    if next.is_some_and(|next| current.is_kept_by(next)) {
        return Ok(());
    }
    match current.mode {
        RetentionMode::Compliance => Err(RetentionChangeRefused::Compliance(current.retain_until)),
        RetentionMode::Governance if bypass_governance => Ok(()),
        RetentionMode::Governance => Err(RetentionChangeRefused::GovernanceNeedsBypass(
            current.retain_until,
        )),
    }
}

/// The retention a tenant gives every new file of a category: kept `days`
/// from upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub mode: RetentionMode,
    /// 1 to [`RetentionRule::MAX_DAYS`].
    pub days: u32,
}

impl RetentionRule {
    /// The longest default rule: 100 years.
    pub const MAX_DAYS: u32 = 36_525;

    /// # Errors
    /// When `days` is 0 or above [`RetentionRule::MAX_DAYS`].
    pub fn new(mode: RetentionMode, days: u32) -> Result<Self, ValidationError> {
        if (1..=Self::MAX_DAYS).contains(&days) {
            Ok(Self { mode, days })
        } else {
            Err(ValidationError::new(
                "days",
                format!("must be from 1 to {}", Self::MAX_DAYS),
            ))
        }
    }

    /// The retention of a file uploaded at `at`.
    pub fn retention_from(&self, at: OffsetDateTime) -> Retention {
        Retention {
            mode: self.mode,
            retain_until: at + Duration::days(i64::from(self.days)),
        }
    }
}

/// What keeps a file from being permanently removed at `now`, if anything:
/// an active retention or a legal hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalBlock {
    Retained(Retention),
    LegalHold,
}

impl fmt::Display for RemovalBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retained(r) => write!(f, "under {} retention until {}", r.mode, r.retain_until),
            Self::LegalHold => f.write_str("on legal hold"),
        }
    }
}

/// Whether a file with this retention and hold may be permanently removed
/// at `now`. A legal hold binds whatever the retention says.
pub fn removal_block(
    retention: Option<&Retention>,
    on_hold: bool,
    now: OffsetDateTime,
) -> Option<RemovalBlock> {
    if on_hold {
        return Some(RemovalBlock::LegalHold);
    }
    retention
        .filter(|r| r.is_active(now))
        .map(|r| RemovalBlock::Retained(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(10_000 + days)
    }

    fn retention(mode: RetentionMode, days: i64) -> Retention {
        Retention {
            mode,
            retain_until: at(days),
        }
    }

    use RetentionMode::{Compliance, Governance};

    #[test]
    fn compliance_only_grows() {
        let current = retention(Compliance, 10);
        let now = at(0);
        let change = |next: Option<Retention>, bypass| {
            decide_retention_change(Some(&current), next.as_ref(), bypass, now)
        };
        assert_eq!(change(Some(retention(Compliance, 20)), false), Ok(()));
        assert_eq!(change(Some(retention(Compliance, 10)), false), Ok(()));
        for bypass in [false, true] {
            for next in [
                Some(retention(Compliance, 5)),
                Some(retention(Governance, 20)),
                None,
            ] {
                assert_eq!(
                    change(next, bypass),
                    Err(RetentionChangeRefused::Compliance(at(10))),
                    "{next:?} bypass={bypass}"
                );
            }
        }
    }

    #[test]
    fn governance_shrinks_only_with_bypass() {
        let current = retention(Governance, 10);
        let now = at(0);
        let change = |next: Option<Retention>, bypass| {
            decide_retention_change(Some(&current), next.as_ref(), bypass, now)
        };
        assert_eq!(change(Some(retention(Governance, 30)), false), Ok(()));
        assert_eq!(change(Some(retention(Compliance, 10)), false), Ok(()));
        for next in [Some(retention(Governance, 5)), None] {
            assert_eq!(
                change(next, false),
                Err(RetentionChangeRefused::GovernanceNeedsBypass(at(10)))
            );
            assert_eq!(change(next, true), Ok(()));
        }
    }

    #[test]
    fn an_expired_retention_binds_nothing() {
        let current = retention(Compliance, 10);
        assert_eq!(
            decide_retention_change(Some(&current), None, false, at(11)),
            Ok(())
        );
        assert_eq!(decide_retention_change(None, None, false, at(0)), Ok(()));
    }

    #[test]
    fn a_hold_blocks_removal_past_retention() {
        let kept = retention(Governance, 10);
        assert_eq!(
            removal_block(Some(&kept), false, at(0)),
            Some(RemovalBlock::Retained(kept))
        );
        assert_eq!(removal_block(Some(&kept), false, at(10)), None);
        assert_eq!(
            removal_block(Some(&kept), true, at(20)),
            Some(RemovalBlock::LegalHold)
        );
        assert_eq!(removal_block(None, false, at(0)), None);
    }

    #[test]
    fn a_rule_keeps_files_from_their_upload() {
        let rule = RetentionRule::new(Compliance, 7).unwrap_or_else(|_| unreachable!());
        assert_eq!(rule.retention_from(at(0)), retention(Compliance, 7));
        assert!(RetentionRule::new(Governance, 0).is_err());
        assert!(RetentionRule::new(Governance, RetentionRule::MAX_DAYS + 1).is_err());
        assert_eq!(
            "compliance".parse::<RetentionMode>().ok(),
            Some(RetentionMode::Compliance)
        );
    }
}
