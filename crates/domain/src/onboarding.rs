//! Onboarding a tenant as a job: the steps, their order and the progress a
//! platform administrator sees (`GET /api/v1/tenants/{id}`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tenant::snake_case_names;
use crate::{Subject, TenantId, ValidationError};

/// One step of onboarding, in the order they run. Each is idempotent and
/// has a compensation (run in reverse order when a later step fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingStep {
    /// Storage placement: the region's bucket (a prefix in it) or a
    /// dedicated bucket, created private, encrypted, with CORS and lifecycle.
    Placement,
    /// A database per tenant: for a tenant with a dedicated database, that
    /// database created, migrated and given the tenant's row; nothing to
    /// do for a tenant in the shared database.
    Database,
    /// The first tenant administrator (when the request names one).
    AdminUser,
    /// The tenant becomes `active`.
    Activate,
}

snake_case_names!(OnboardingStep {
    Placement => "placement",
    Database => "database",
    AdminUser => "admin_user",
    Activate => "activate",
}, "step");

/// Where an onboarding stands in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it (until its lease ends).
    Running,
    /// Every step done; the tenant is active.
    Done,
    /// A step failed and what was made was undone; may be retried.
    Failed,
}

snake_case_names!(OnboardingState {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Failed => "failed",
}, "onboarding state");

/// What the onboarding job was asked to do beyond the tenant row itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnboardingRequest {
    /// The first tenant administrator, upserted with the `admin` role.
    pub admin_subject: Option<Subject>,
}

/// One tenant's onboarding: its steps' progress, attempts and last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub tenant_id: TenantId,
    pub state: OnboardingState,
    pub request: OnboardingRequest,
    /// The step running now, or the one that failed last.
    pub current_step: Option<OnboardingStep>,
    /// Steps done (and not undone), in order.
    pub steps_done: Vec<OnboardingStep>,
    /// Runs started so far (a retry or a reclaimed lease adds one).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// A running onboarding belongs to its worker until then.
    pub lease_until: Option<OffsetDateTime>,
    pub queued_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Onboarding {
    /// The steps in the order they run.
    pub const STEPS: &'static [OnboardingStep] = OnboardingStep::ALL;

    pub fn is_done(&self, step: OnboardingStep) -> bool {
        self.steps_done.contains(&step)
    }
}

/// Steps as stored: comma-separated names in order (`placement,admin_user`).
pub fn steps_to_string(steps: &[OnboardingStep]) -> String {
    steps
        .iter()
        .map(OnboardingStep::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// # Errors
/// An unknown step name.
pub fn steps_from_str(raw: &str) -> Result<Vec<OnboardingStep>, ValidationError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(OnboardingStep::from_str)
        .collect()
}

impl fmt::Display for Onboarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "onboarding of {} {} ({})",
            self.tenant_id,
            self.state,
            steps_to_string(&self.steps_done)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_order_and_round_trip() {
        assert_eq!(
            Onboarding::STEPS,
            &[
                OnboardingStep::Placement,
                OnboardingStep::Database,
                OnboardingStep::AdminUser,
                OnboardingStep::Activate
            ]
        );
        let all = steps_to_string(Onboarding::STEPS);
        assert_eq!(all, "placement,database,admin_user,activate");
        assert_eq!(steps_from_str(&all).ok(), Some(Onboarding::STEPS.to_vec()));
        assert_eq!(steps_from_str("").ok(), Some(vec![]));
        assert!(steps_from_str("placement,nope").is_err());
        assert_eq!(
            "failed".parse::<OnboardingState>().ok(),
            Some(OnboardingState::Failed)
        );
    }
}
