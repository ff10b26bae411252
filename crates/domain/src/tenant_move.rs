//! Moving a tenant to another placement (docs/tenants-placement.md): its
//! rows to a database or schema of its own, its objects to a bucket of its
//! own, as a job of idempotent steps that a worker resumes after a crash.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tenant::snake_case_names;
use crate::{Tenant, TenantId, ValidationError};

/// One step of a move, in the order they run. Each is safe to run again:
/// a worker that died inside one runs it anew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveStep {
    /// The target database or schema made and migrated, the target bucket
    /// made.
    Provision,
    /// Writes of the tenant answer `503` from here to the switch; reads
    /// go on from the source.
    Freeze,
    /// The tenant's rows copied to the target (what an earlier attempt
    /// copied is removed first).
    CopyRows,
    /// Its objects copied to the target bucket, when the bucket changes.
    CopyObjects,
    /// Rows compared table by table, objects by size and SHA-256.
    Verify,
    /// The registry row points at the target, and writes open again.
    Switch,
    /// The source's copy removed.
    RemoveSource,
}

snake_case_names!(MoveStep {
    Provision => "provision",
    Freeze => "freeze",
    CopyRows => "copy_rows",
    CopyObjects => "copy_objects",
    Verify => "verify",
    Switch => "switch",
    RemoveSource => "remove_source",
}, "step");

/// Where a move stands in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveState {
    Queued,
    Running,
    Done,
    /// Stopped after a step failed too often; the tenant stays where it
    /// was (writes open again) until a platform administrator retries.
    Failed,
}

snake_case_names!(MoveState {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Failed => "failed",
}, "move state");

/// Where a tenant's data lives: the placement fields of its row.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TenantPlacement {
    pub dedicated_database: Option<String>,
    pub dedicated_schema: Option<String>,
    pub dedicated_bucket: Option<String>,
    /// The region whose shared database holds it, when it has no database
    /// of its own and the deployment has regional databases.
    #[serde(default)]
    pub metadata_region: Option<crate::Region>,
    /// The tenant's region (where its objects are kept); `None` leaves it
    /// as it is.
    #[serde(default)]
    pub region: Option<crate::Region>,
}

impl TenantPlacement {
    /// Where `tenant` is now.
    pub fn of(tenant: &Tenant) -> Self {
        Self {
            dedicated_database: tenant.dedicated_database.clone(),
            dedicated_schema: tenant.dedicated_schema.clone(),
            dedicated_bucket: tenant.dedicated_bucket.clone(),
            metadata_region: tenant.metadata_region.clone(),
            region: Some(tenant.region.clone()),
        }
    }

    /// `tenant` as it is once placed here.
    pub fn apply_to(&self, tenant: &Tenant) -> Tenant {
        Tenant {
            dedicated_database: self.dedicated_database.clone(),
            dedicated_schema: self.dedicated_schema.clone(),
            dedicated_bucket: self.dedicated_bucket.clone(),
            metadata_region: self.metadata_region.clone(),
            region: self.region.clone().unwrap_or_else(|| tenant.region.clone()),
            ..tenant.clone()
        }
    }

    /// Whether the rows live in the registry's own tables (no database or
    /// schema of its own).
    pub fn in_shared_tables(&self) -> bool {
        self.dedicated_database.is_none() && self.dedicated_schema.is_none()
    }

    /// How far apart it keeps the tenant's rows: 0 in shared tables, 1 in
    /// a schema of its own, 2 in a database of its own. A plan change only
    /// ever moves a tenant further apart.
    pub fn isolation(&self) -> u8 {
        match (&self.dedicated_database, &self.dedicated_schema) {
            (Some(_), _) => 2,
            (None, Some(_)) => 1,
            (None, None) => 0,
        }
    }

    /// Whether the tenant's audit chain is in the registry's own tables
    /// here (shared tables, no metadata region). Anywhere else the chain
    /// is the home's and moves with it.
    /// Whether `other` keeps the rows in the same tables as this (only
    /// its bucket or region differs): then a move leaves the rows where
    /// they are, and only the bucket they name changes.
    pub fn same_home(&self, other: &Self) -> bool {
        self.dedicated_database == other.dedicated_database
            && self.dedicated_schema == other.dedicated_schema
            && self.metadata_region == other.metadata_region
    }

    /// Whether the move to `other` changes the tenant's region.
    pub fn changes_region(&self, other: &Self) -> bool {
        other.region.is_some() && self.region.is_some() && self.region != other.region
    }

    pub fn chain_in_registry(&self) -> bool {
        self.in_shared_tables() && self.metadata_region.is_none()
    }
}

/// One tenant's move: from where, to where, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMove {
    pub tenant_id: TenantId,
    pub source: TenantPlacement,
    pub target: TenantPlacement,
    pub state: MoveState,
    /// Steps done, in order.
    pub steps_done: Vec<MoveStep>,
    /// The step running now, or the one that failed last.
    pub current_step: Option<MoveStep>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub queued_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TenantMove {
    /// The steps in the order they run.
    pub const STEPS: &'static [MoveStep] = MoveStep::ALL;

    pub fn is_done(&self, step: MoveStep) -> bool {
        self.steps_done.contains(&step)
    }

    /// The first step not done yet; `None` once every one is.
    pub fn next_step(&self) -> Option<MoveStep> {
        Self::STEPS.iter().copied().find(|s| !self.is_done(*s))
    }

    /// Whether the tenant's registry row already points at the target.
    pub fn switched(&self) -> bool {
        self.is_done(MoveStep::Switch)
    }

    /// What the tenant view shows: `placed`, `moving:<step>` or
    /// `move_failed:<step>`.
    pub fn placement_status(&self) -> String {
        match self.state {
            MoveState::Done => "placed".to_owned(),
            MoveState::Failed => format!(
                "move_failed:{}",
                self.current_step.map_or("queued", |s| s.as_str())
            ),
            MoveState::Queued | MoveState::Running => {
                format!("moving:{}", self.next_step().map_or("done", |s| s.as_str()))
            }
        }
    }
}

/// Steps as stored: comma-separated names in order.
pub fn move_steps_to_string(steps: &[MoveStep]) -> String {
    steps
        .iter()
        .map(MoveStep::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// # Errors
/// An unknown step name.
pub fn move_steps_from_str(raw: &str) -> Result<Vec<MoveStep>, ValidationError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(MoveStep::from_str)
        .collect()
}

impl fmt::Display for TenantMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "move of {} {} ({})",
            self.tenant_id,
            self.state,
            move_steps_to_string(&self.steps_done)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(done: &[MoveStep]) -> TenantMove {
        TenantMove {
            tenant_id: TenantId::new_random(),
            source: TenantPlacement::default(),
            target: TenantPlacement {
                dedicated_database: Some("coffer_t_x".into()),
                ..TenantPlacement::default()
            },
            state: MoveState::Running,
            steps_done: done.to_vec(),
            current_step: None,
            attempts: 1,
            last_error: None,
            lease_until: None,
            queued_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn steps_run_in_order_and_round_trip() {
        let all = move_steps_to_string(TenantMove::STEPS);
        assert_eq!(
            all,
            "provision,freeze,copy_rows,copy_objects,verify,switch,remove_source"
        );
        assert_eq!(
            move_steps_from_str(&all).ok(),
            Some(TenantMove::STEPS.to_vec())
        );
        assert!(move_steps_from_str("provision,nope").is_err());
    }

    #[test]
    fn the_status_names_the_next_step() {
        let job = queued(&[MoveStep::Provision, MoveStep::Freeze]);
        assert_eq!(job.next_step(), Some(MoveStep::CopyRows));
        assert_eq!(job.placement_status(), "moving:copy_rows");
        assert!(!job.switched());
        let mut done = queued(TenantMove::STEPS);
        assert_eq!(done.next_step(), None);
        assert!(done.switched());
        done.state = MoveState::Done;
        assert_eq!(done.placement_status(), "placed");
        let mut failed = queued(&[MoveStep::Provision]);
        failed.state = MoveState::Failed;
        failed.current_step = Some(MoveStep::Freeze);
        assert_eq!(failed.placement_status(), "move_failed:freeze");
    }

    #[test]
    fn a_placement_applies_to_the_tenant_row() {
        let target = TenantPlacement {
            dedicated_database: Some("coffer_t_1".into()),
            dedicated_schema: None,
            dedicated_bucket: Some("own".into()),
            metadata_region: None,
            region: None,
        };
        assert!(!target.in_shared_tables());
        assert!(TenantPlacement::default().in_shared_tables());
        let json = serde_json::to_string(&target).unwrap_or_default();
        assert!(json.contains("coffer_t_1"), "{json}");
    }

    #[test]
    fn isolation_ranks_placements_and_the_chain_follows_the_home() {
        let at = |database: Option<&str>, schema: Option<&str>| TenantPlacement {
            dedicated_database: database.map(Into::into),
            dedicated_schema: schema.map(Into::into),
            dedicated_bucket: None,
            metadata_region: None,
            region: None,
        };
        let shared = at(None, None);
        let schema = at(None, Some("tenant_x"));
        let database = at(Some("coffer_t_x"), None);
        assert!(shared.isolation() < schema.isolation());
        assert!(schema.isolation() < database.isolation());
        assert!(shared.chain_in_registry());
        assert!(!schema.chain_in_registry());
        let regional = TenantPlacement {
            metadata_region: Some(crate::Region::new("eu-west").unwrap_or_else(|_| unreachable!())),
            ..shared
        };
        assert!(
            !regional.chain_in_registry(),
            "a region's shared tables are a home"
        );
    }
}
