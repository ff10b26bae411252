//! Group commit of audit appends: what arrives for a tenant while its
//! previous batch is being written goes into the next batch, one
//! transaction (and one lock of the tenant's chain head) for all of them.
//!
//! Every append waits until the batch holding its entry committed, so an
//! access is on record before the caller grants it. No task is spawned:
//! whoever takes a tenant's writer lock writes everything pending, and the
//! others are woken by their batch's outcome. A writer that is dropped
//! mid-write (its request cancelled) drops the senders of its batch, whose
//! callers then fail with `Unavailable` rather than wait forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use coffer_domain::TenantId;
use futures::channel::oneshot;
use futures::future::{Either, select};

use crate::{AuditLog, MetadataError, MetadataErrorKind, NewAudit, TenantScope};

type Outcome = Result<(), MetadataError>;

/// One tenant's queue: entries waiting for a batch, and the lock its one
/// batch in flight holds.
#[derive(Default)]
struct Lane {
    pending: Mutex<Vec<(NewAudit, oneshot::Sender<Outcome>)>>,
    writer: futures::lock::Mutex<()>,
}

/// Batches [`AuditLog::append_audit`] into [`AuditLog::append_audits`],
/// per tenant. One per store (database), shared by its clones.
#[derive(Default, Clone)]
pub struct GroupCommit {
    lanes: Arc<Mutex<HashMap<TenantId, Arc<Lane>>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub fn new() -> Self {
        Self::default()
    }

    fn lane(&self, tenant: TenantId) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        lanes.entry(tenant).or_default().clone()
    }

    /// Appends `entry` through `log`'s batch method, together with whatever
    /// else is pending for the tenant, and returns once it is committed.
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
        let lane = self.lane(scope.tenant_id());
        let (tx, mut rx) = oneshot::channel();
        lane.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((entry, tx));
        loop {
            // Our batch may be written by someone else while we wait for
            // the writer lock; whichever comes first.
            let guard = match select(&mut rx, lane.writer.lock()).await {
                Either::Left((outcome, _)) => return outcome.unwrap_or_else(|_| abandoned()),
                Either::Right((guard, _)) => guard,
            };
            let batch =
                std::mem::take(&mut *lane.pending.lock().unwrap_or_else(PoisonError::into_inner));
            if batch.is_empty() {
                // Our entry was in a batch that finished before we got the
                // lock: its outcome is waiting for us.
                drop(guard);
                return (&mut rx).await.unwrap_or_else(|_| abandoned());
            }
            let (entries, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let outcome = log.append_audits(scope, entries).await;
            drop(guard);
            for waiter in waiters {
                let copy = match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(MetadataError::new(e.kind(), e.message())),
                };
                // A waiter that went away needs no answer.
                let _ = waiter.send(copy);
            }
            // Our entry was in this batch (it was pending until now).
            if let Ok(Some(outcome)) = rx.try_recv() {
                return outcome;
            }
        }
    }
}

fn abandoned() -> Outcome {
    Err(MetadataError::new(
        MetadataErrorKind::Unavailable,
        "the audit batch holding this entry was abandoned before it committed",
    ))
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a failed append should fail the test loudly"
)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use async_trait::async_trait;
    use coffer_domain::Subject;

    use super::*;
    use crate::{AuditChain, AuditEntry, AuditQuery, ChainHead, Page};

    /// Pending once, so that the other futures of a `join_all` run.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// Keeps what each batch wrote; fails batches while `fail` is set.
    #[derive(Default)]
    struct Log {
        batches: Mutex<Vec<Vec<String>>>,
        fail: bool,
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
        async fn append_audits(
            &self,
            _: &TenantScope,
            entries: Vec<NewAudit>,
        ) -> Result<(), MetadataError> {
            YieldOnce(false).await;
            if self.fail {
                return Err(MetadataError::new(MetadataErrorKind::Unavailable, "down"));
            }
            let actions = entries.into_iter().map(|e| e.action).collect();
            self.batches.lock().unwrap().push(actions);
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

    fn scope(n: u128) -> TenantScope {
        TenantScope::new(TenantId::from_uuid(uuid::Uuid::from_u128(n)))
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
                assert!(log.written().iter().flatten().any(|a| *a == action));
            }
        });
        futures::executor::block_on(futures::future::join_all(appends));
        let sizes: Vec<usize> = log.written().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 9], "10 entries in 2 transactions");
    }

    #[test]
    fn tenants_have_lanes_of_their_own() {
        let log = Log::default();
        let commit = GroupCommit::new();
        let appends = (0..4).map(|i| {
            let (log, commit) = (&log, &commit);
            async move {
                commit
                    .append(log, &scope(i % 2), entry(format!("t{}", i % 2)))
                    .await
                    .unwrap();
            }
        });
        futures::executor::block_on(futures::future::join_all(appends));
        let mut batches = log.written();
        batches.sort();
        let expected: Vec<Vec<String>> = ["t0", "t0", "t1", "t1"]
            .iter()
            .map(|t| vec![(*t).to_owned()])
            .collect();
        assert_eq!(batches, expected);
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
