//! Group commit of audit appends: what arrives for any tenant of a
//! database while its previous batch is being written goes into the next
//! batch ([`crate::Batcher`]), one transaction for all of them (each
//! tenant's chain head locked once, in tenant id order). Tenants are spread
//! over a few lanes, each with one batch in flight.
//!
//! Every append waits until the batch holding its entry committed, so an
//! access is on record before the caller grants it. A batch is written by
//! a task of its own: a caller that goes away mid-batch (a cancelled
//! download) neither fails the others' appends nor hides their commit. One batch across
//! tenants rather than one per tenant: with many tenants each asking
//! rarely, per-tenant batches hold one entry each, and every access paid a
//! commit (a WAL flush) of its own (docs/benchmarks.md).

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use uuid::Uuid;

use coffer_domain::TenantId;

use crate::{
    AuditLog, KeyedBatcher, MetadataError, MetadataErrorKind, NewAudit, TenantAudits, TenantScope,
};

type Outcome = Result<(), MetadataError>;

/// Batches [`AuditLog::append_audit`] into [`AuditLog::append_audits`]
/// across tenants, in a few lanes. One per store (database), shared by
/// its clones.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    lanes: KeyedBatcher<usize, (TenantScope, NewAudit), Outcome>,
    count: usize,
}

impl Default for GroupCommit {
    /// One lane.
    fn default() -> Self {
        Self::new(1)
    }
}

impl GroupCommit {
    /// At most `lanes` batches in flight at once (at least one), each over
    /// its own share of the tenants. Each lane keeps a database backend
    /// (a core) busy a batch at a time, and every lane more makes each
    /// batch smaller: a batch's round trips, commit and task cost the same
    /// whatever it holds. On two cores one lane serves 10,000 tenants with
    /// a third less CPU per request than four did (docs/benchmarks.md); a
    /// database with many cores needs more to keep its audit work off a
    /// single backend. Lanes never share a tenant, so their batches never
    /// lock the same chain head; one tenant always has one lane.
    pub fn new(lanes: usize) -> Self {
        Self {
            lanes: KeyedBatcher::default(),
            count: lanes.max(1),
        }
    }

    /// The lane count a deployment gets unless it sets one: half the
    /// cores this process may use, at least one (the database is taken to
    /// be sized like its clients).
    pub fn default_lanes() -> usize {
        std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
    }

    /// How many lanes there are.
    pub fn lane_count(&self) -> usize {
        self.count
    }

    /// The lane of `tenant`'s entries.
    pub fn lane(&self, tenant: TenantId) -> usize {
        // Random bits (UUID v4 and v7 alike end in them): an even spread.
        let lanes = self.count as u128;
        usize::try_from(tenant.as_uuid().as_u128() % lanes).unwrap_or_default()
    }

    /// Appends `entry` through `log`'s batch method, together with whatever
    /// else is pending for any tenant, and returns once it is committed.
    /// The batch is written by a task `spawn` runs, over a clone of `log`
    /// made once per batch by the caller whose turn it is to write.
    ///
    /// # Errors
    /// The batch's error; `Unavailable` when the batch's task was dropped
    /// (the runtime shutting down) before it answered.
    pub async fn append<L: AuditLog + Clone>(
        &self,
        log: &L,
        scope: &TenantScope,
        entry: NewAudit,
        spawn: impl FnOnce(BoxFuture<'static, ()>),
    ) -> Result<(), MetadataError> {
        self.lanes
            .submit_detached(
                self.lane(scope.tenant_id()),
                (*scope, entry),
                |batch| {
                    let log = log.clone();
                    async move { write(&log, batch).await }
                },
                spawn,
            )
            .await
            .unwrap_or_else(|| {
                Err(MetadataError::new(
                    MetadataErrorKind::Unavailable,
                    "the audit batch holding this entry was dropped before it answered",
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
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use coffer_domain::{Subject, TenantId};
    use futures::executor::LocalPool;
    use futures::future::LocalBoxFuture;
    use futures::task::LocalSpawnExt as _;

    use super::*;
    use crate::batch::tests::YieldOnce;
    use crate::{AuditChain, AuditEntry, AuditQuery, ChainHead, Page};

    /// Keeps what each batch wrote, as `tenant/action`; fails batches
    /// while `fail` is set, and any batch holding `refused`'s entries.
    #[derive(Default, Clone)]
    struct Log {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
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

    const LANES: u128 = 4;

    fn four_lanes() -> GroupCommit {
        GroupCommit::new(LANES as usize)
    }

    /// Tenant `n` of lane 0.
    fn scope(n: u128) -> TenantScope {
        TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(n * LANES)))
    }

    fn number(scope: TenantScope) -> u128 {
        scope.tenant_id().as_uuid().as_u128() / LANES
    }

    /// What an append needs besides its entry: the log, owned by the
    /// batch's task, and a spawner of the test's pool for that task.
    #[derive(Clone)]
    struct Writer {
        log: Log,
        spawner: futures::executor::LocalSpawner,
    }

    impl Writer {
        fn spawn(&self, task: BoxFuture<'static, ()>) {
            self.spawner.spawn_local(task).unwrap();
        }
        async fn append(self, commit: &GroupCommit, scope: TenantScope, action: String) -> Outcome {
            commit
                .append(&self.log, &scope, entry(action), |t| self.spawn(t))
                .await
        }
    }

    /// Runs the appends `appends` makes to completion on one thread, the
    /// batches' tasks included.
    fn run<'f, T>(log: &Log, appends: impl FnOnce(Writer) -> Vec<LocalBoxFuture<'f, T>>) -> Vec<T> {
        let mut pool = LocalPool::new();
        let writer = Writer {
            log: log.clone(),
            spawner: pool.spawner(),
        };
        let futures = appends(writer);
        pool.run_until(futures::future::join_all(futures))
    }

    #[test]
    fn tenants_of_different_lanes_are_written_apart() {
        let log = Log::default();
        let commit = four_lanes();
        // Tenant ids 0..8: two tenants in each lane.
        let outcomes = run(&log, |writer| {
            (0..8_u128)
                .map(|raw| {
                    let scope = TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(raw)));
                    assert_eq!(commit.lane(scope.tenant_id()) as u128, raw % LANES);
                    Box::pin(writer.clone().append(&commit, scope, format!("r{raw}")))
                        as LocalBoxFuture<'_, _>
                })
                .collect()
        });
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
    fn one_lane_batches_every_tenant_together() {
        let log = Log::default();
        // No lanes asked for is one lane.
        let commit = GroupCommit::new(0);
        assert_eq!(commit.lane_count(), 1);
        let outcomes = run(&log, |writer| {
            (0..8_u128)
                .map(|raw| {
                    let scope = TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(raw)));
                    assert_eq!(commit.lane(scope.tenant_id()), 0);
                    Box::pin(writer.clone().append(&commit, scope, format!("r{raw}")))
                        as LocalBoxFuture<'_, _>
                })
                .collect()
        });
        assert!(outcomes.iter().all(Result::is_ok));
        // The first alone; the seven that arrived meanwhile, of seven
        // tenants (four lanes wrote eight batches above), in one.
        let sizes: Vec<usize> = log.written().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 7]);
    }

    #[test]
    fn appends_arriving_during_a_batch_go_together_into_the_next() {
        let log = Log::default();
        let commit = four_lanes();
        run(&log, |writer| {
            (0..10)
                .map(|i| {
                    let (log, commit, writer) = (&log, &commit, writer.clone());
                    Box::pin(async move {
                        let action = format!("read.{i}");
                        writer
                            .append(commit, scope(1), action.clone())
                            .await
                            .unwrap();
                        // Returned only once its batch was written.
                        let written = format!("1/{action}");
                        assert!(log.written().iter().flatten().any(|a| *a == written));
                    }) as LocalBoxFuture<'_, _>
                })
                .collect()
        });
        let sizes: Vec<usize> = log.written().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 9], "10 entries in 2 transactions");
    }

    /// Appends of `(tenant, action)`, concurrently, and their outcomes.
    fn append_all(log: &Log, appends: &[(u128, &str)]) -> Vec<Outcome> {
        let commit = four_lanes();
        run(log, |writer| {
            appends
                .iter()
                .map(|(tenant, action)| {
                    Box::pin(
                        writer
                            .clone()
                            .append(&commit, scope(*tenant), (*action).to_owned()),
                    ) as LocalBoxFuture<'_, _>
                })
                .collect()
        })
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
        let commit = four_lanes();
        let s = scope(1);
        let outcomes = run(&log, |writer| {
            (0..5)
                .map(|i| {
                    Box::pin(writer.clone().append(&commit, s, format!("r{i}")))
                        as LocalBoxFuture<'_, _>
                })
                .collect()
        });
        assert!(outcomes.iter().all(|o: &Outcome| {
            o.as_ref()
                .is_err_and(|e| e.is(MetadataErrorKind::Unavailable))
        }));
    }

    #[test]
    fn a_writer_cancelled_mid_batch_neither_fails_nor_hides_the_others() {
        let log = Log::default();
        let commit = four_lanes();
        let mut pool = LocalPool::new();
        let writer = Writer {
            log: log.clone(),
            spawner: pool.spawner(),
        };
        // The first caller takes the writer's turn and spawns its batch,
        // then goes away (its download cancelled); the second queues.
        let mut first = Box::pin(writer.clone().append(&commit, scope(1), "a".into()));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        drop(first);
        let second = writer.append(&commit, scope(2), "b".into());
        assert!(
            pool.run_until(second).is_ok(),
            "the next batch is not failed"
        );
        let written: Vec<String> = log.written().into_iter().flatten().collect();
        assert_eq!(
            written,
            ["1/a", "2/b"],
            "the cancelled caller's entry committed all the same"
        );
    }
}
