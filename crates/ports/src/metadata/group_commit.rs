//! Group commit of audit appends: what arrives for any tenant of a
//! database while its previous batch is being written goes into the next
//! batch ([`crate::Batcher`]), one transaction for all of them (each
//! tenant's chain head locked once, in tenant id order). Tenants are spread
//! over a few lanes, each with one batch in flight.
//!
//! Every append waits until the batch holding its entry committed, so an
//! access is on record before the caller grants it. One batch across
//! tenants rather than one per tenant: with many tenants each asking
//! rarely, per-tenant batches hold one entry each, and every access paid a
//! commit (a WAL flush) of its own (docs/benchmarks.md).

use std::collections::BTreeMap;

use uuid::Uuid;

use coffer_domain::TenantId;

use crate::{
    AuditLog, KeyedBatcher, MetadataError, MetadataErrorKind, NewAudit, TenantAudits, TenantScope,
};

type Outcome = Result<(), MetadataError>;

/// Batches [`AuditLog::append_audit`] into [`AuditLog::append_audits`]
/// across tenants, in [`GroupCommit::LANES`] lanes. One per store
/// (database), shared by its clones.
#[derive(Debug, Default, Clone)]
pub struct GroupCommit {
    lanes: KeyedBatcher<usize, (TenantScope, NewAudit), Outcome>,
}

impl GroupCommit {
    /// Batches in flight at once per database, each over its own share of
    /// the tenants. One lane would put every tenant's audit work on one
    /// PostgreSQL backend, one core, one batch at a time — with 10,000
    /// tenants that single backend was the limit while the machine idled
    /// (docs/benchmarks.md); a lane per tenant pays a commit per access.
    /// Lanes never share a tenant, so their batches never lock the same
    /// chain head.
    pub const LANES: usize = 4;

    pub fn new() -> Self {
        Self::default()
    }

    /// The lane of `tenant`'s entries.
    pub fn lane(tenant: TenantId) -> usize {
        let lanes = Self::LANES as u128;
        // Random bits (UUID v4 and v7 alike end in them): an even spread.
        usize::try_from(tenant.as_uuid().as_u128() % lanes).unwrap_or_default()
    }

    /// Appends `entry` through `log`'s batch method, together with whatever
    /// else is pending for any tenant, and returns once it is committed.
    ///
    /// # Errors
    /// The batch's error; `Unavailable` when the batch's writer was
    /// cancelled before it finished.
    pub async fn append(
        &self,
        log: &dyn AuditLog,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        self.lanes
            .submit(Self::lane(scope.tenant_id()), (*scope, entry), |batch| {
                write(log, batch)
            })
            .await
            .unwrap_or_else(|| {
                Err(MetadataError::new(
                    MetadataErrorKind::Unavailable,
                    "the audit batch holding this entry was abandoned before it committed",
                ))
            })
    }
}

/// Writes the batch grouped by tenant (in id order) and returns each
/// entry's outcome. When a batch of several tenants fails for a reason
/// other than the database being unavailable, each tenant's share is
/// written on its own, so one tenant's bad entry does not fail another's
/// access.
async fn write(log: &dyn AuditLog, batch: Vec<(TenantScope, NewAudit)>) -> Vec<Outcome> {
    let count = batch.len();
    let mut tenants: BTreeMap<Uuid, (TenantAudits, Vec<usize>)> = BTreeMap::new();
    for (at, (scope, entry)) in batch.into_iter().enumerate() {
        let (audits, positions) =
            tenants
                .entry(*scope.tenant_id().as_uuid())
                .or_insert_with(|| {
                    let audits = TenantAudits {
                        scope,
                        entries: Vec::new(),
                    };
                    (audits, Vec::new())
                });
        audits.entries.push(entry);
        positions.push(at);
    }
    let (audits, positions): (Vec<_>, Vec<_>) = tenants.into_values().unzip();
    let outcome = log.append_audits(&audits).await;
    let alone = audits.len() > 1
        && outcome
            .as_ref()
            .is_err_and(|e| !e.is(MetadataErrorKind::Unavailable));
    let mut outcomes: Vec<Outcome> = (0..count).map(|_| copy(&outcome)).collect();
    if alone {
        for (tenant, positions) in audits.iter().zip(positions) {
            let outcome = log.append_audits(std::slice::from_ref(tenant)).await;
            for at in positions {
                outcomes[at] = copy(&outcome);
            }
        }
    }
    outcomes
}

fn copy(outcome: &Outcome) -> Outcome {
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => Err(MetadataError::new(e.kind(), e.message())),
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a failed append should fail the test loudly"
)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use coffer_domain::{Subject, TenantId};

    use super::*;
    use crate::batch::tests::YieldOnce;
    use crate::{AuditChain, AuditEntry, AuditQuery, ChainHead, Page};

    /// Keeps what each batch wrote, as `tenant/action`; fails batches
    /// while `fail` is set, and any batch holding `refused`'s entries.
    #[derive(Default)]
    struct Log {
        batches: Mutex<Vec<Vec<String>>>,
        fail: bool,
        refused: Option<u128>,
    }

    impl Log {
        fn written(&self) -> Vec<Vec<String>> {
            self.batches.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl AuditLog for Log {
        async fn append_audit(&self, _: &TenantScope, _: NewAudit) -> Result<(), MetadataError> {
            unreachable!("the group commit writes batches")
        }
        async fn append_audits(&self, batch: &[TenantAudits]) -> Result<(), MetadataError> {
            YieldOnce(false).await;
            if self.fail {
                return Err(MetadataError::new(MetadataErrorKind::Unavailable, "down"));
            }
            let tenant = |t: &TenantAudits| number(t.scope);
            if batch.iter().any(|t| Some(tenant(t)) == self.refused) {
                return Err(MetadataError::new(MetadataErrorKind::Internal, "refused"));
            }
            let written = batch
                .iter()
                .flat_map(|t| {
                    t.entries
                        .iter()
                        .map(move |e| format!("{}/{}", tenant(t), e.action))
                })
                .collect();
            self.batches.lock().unwrap().push(written);
            Ok(())
        }
        async fn chain_heads(&self, _: &TenantScope) -> Result<Vec<ChainHead>, MetadataError> {
            unreachable!()
        }
        async fn read_chain(
            &self,
            _: &TenantScope,
            _: AuditChain,
            _: u64,
            _: u32,
        ) -> Result<Vec<AuditEntry>, MetadataError> {
            unreachable!()
        }
        async fn list_audit(
            &self,
            _: &TenantScope,
            _: &AuditQuery,
        ) -> Result<Page<AuditEntry>, MetadataError> {
            unreachable!()
        }
    }

    fn entry(action: String) -> NewAudit {
        NewAudit {
            actor: Subject::new("alice").unwrap(),
            action,
            file_id: None,
            detail: serde_json::Value::Null,
            request_id: None,
            client_addr: None,
            at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    const LANES: u128 = GroupCommit::LANES as u128;

    /// Tenant `n` of lane 0.
    fn scope(n: u128) -> TenantScope {
        TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(n * LANES)))
    }

    fn number(scope: TenantScope) -> u128 {
        scope.tenant_id().as_uuid().as_u128() / LANES
    }

    #[test]
    fn tenants_of_different_lanes_are_written_apart() {
        let log = Log::default();
        let commit = GroupCommit::new();
        // Tenant ids 0..8: two tenants in each lane.
        let appends = (0..8_u128).map(|raw| {
            let (log, commit) = (&log, &commit);
            async move {
                let scope = TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(raw)));
                assert_eq!(GroupCommit::lane(scope.tenant_id()) as u128, raw % LANES);
                commit.append(log, &scope, entry(format!("r{raw}"))).await
            }
        });
        let outcomes = futures::executor::block_on(futures::future::join_all(appends));
        assert!(outcomes.iter().all(Result::is_ok));
        // The first of each lane alone, then the second: no batch mixes lanes.
        let mut batches: Vec<Vec<String>> = log.written();
        batches.sort();
        let mut expected: Vec<Vec<String>> = (0..8_u128)
            .map(|raw| vec![format!("{}/r{raw}", raw / LANES)])
            .collect();
        expected.sort();
        assert_eq!(batches, expected);
    }

    #[test]
    fn appends_arriving_during_a_batch_go_together_into_the_next() {
        let log = Log::default();
        let commit = GroupCommit::new();
        let appends = (0..10).map(|i| {
            let (log, commit) = (&log, &commit);
            async move {
                let action = format!("read.{i}");
                commit
                    .append(log, &scope(1), entry(action.clone()))
                    .await
                    .unwrap();
                // Returned only once its batch was written.
                let written = format!("1/{action}");
                assert!(log.written().iter().flatten().any(|a| *a == written));
            }
        });
        futures::executor::block_on(futures::future::join_all(appends));
        let sizes: Vec<usize> = log.written().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 9], "10 entries in 2 transactions");
    }

    /// Appends of `(tenant, action)`, concurrently, and their outcomes.
    fn append_all(log: &Log, appends: &[(u128, &str)]) -> Vec<Outcome> {
        let commit = GroupCommit::new();
        let appends = appends.iter().map(|(tenant, action)| {
            let (log, commit) = (log, &commit);
            async move {
                commit
                    .append(log, &scope(*tenant), entry((*action).to_owned()))
                    .await
            }
        });
        futures::executor::block_on(futures::future::join_all(appends))
    }

    #[test]
    fn tenants_share_a_batch_each_in_order_and_by_tenant_id() {
        let log = Log::default();
        let appends = [(2, "a"), (3, "b"), (1, "c"), (3, "d"), (1, "e")];
        let outcomes = append_all(&log, &appends);
        assert!(outcomes.iter().all(Result::is_ok));
        // The first writes alone; the rest arrived during its batch.
        let expected: Vec<Vec<String>> = vec![
            vec!["2/a".into()],
            vec!["1/c".into(), "1/e".into(), "3/b".into(), "3/d".into()],
        ];
        assert_eq!(log.written(), expected);
    }

    #[test]
    fn a_tenant_whose_entries_fail_does_not_fail_the_others() {
        let log = Log {
            refused: Some(2),
            ..Log::default()
        };
        let appends = [(1, "a"), (1, "b"), (2, "c"), (3, "d")];
        let outcomes = append_all(&log, &appends);
        let failed: Vec<bool> = outcomes.iter().map(Result::is_err).collect();
        assert_eq!(failed, [false, false, true, false]);
        assert!(
            outcomes[2]
                .as_ref()
                .is_err_and(|e| e.is(MetadataErrorKind::Internal))
        );
        // After the mixed batch failed, each tenant's share alone.
        let expected: Vec<Vec<String>> =
            vec![vec!["1/a".into()], vec!["1/b".into()], vec!["3/d".into()]];
        assert_eq!(log.written(), expected);
    }

    #[test]
    fn every_caller_of_a_failed_batch_gets_its_error() {
        let log = Log {
            fail: true,
            ..Log::default()
        };
        let commit = GroupCommit::new();
        let s = scope(1);
        let appends = (0..5).map(|i| commit.append(&log, &s, entry(format!("r{i}"))));
        let outcomes = futures::executor::block_on(futures::future::join_all(appends));
        assert!(outcomes.iter().all(|o| {
            o.as_ref()
                .is_err_and(|e| e.is(MetadataErrorKind::Unavailable))
        }));
    }
}
