//! Batching of concurrent calls into one unit of work: what arrives while
//! a batch is being written goes into the next one, so a hot lock (a chain
//! head, a counter row) and a commit (a WAL flush) are paid once per batch
//! rather than once per call.
//!
//! No task is spawned: whoever takes the writer lock writes everything
//! pending and answers each caller before releasing it; the others are
//! woken by their answer. A writer dropped mid-write (its request
//! cancelled) drops the senders of its batch, whose callers then get
//! `None` rather than wait forever.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use futures::channel::oneshot;
use futures::future::{BoxFuture, Either, select};
use futures::lock::OwnedMutexGuard;

type Queue<T, O> = Vec<(T, oneshot::Sender<O>)>;

/// One queue of calls, written a batch at a time.
pub struct Batcher<T, O> {
    pending: Arc<Mutex<Queue<T, O>>>,
    writer: Arc<futures::lock::Mutex<()>>,
}

impl<T, O> Default for Batcher<T, O> {
    fn default() -> Self {
        Self {
            pending: Arc::default(),
            writer: Arc::default(),
        }
    }
}

impl<T, O> Clone for Batcher<T, O> {
    fn clone(&self) -> Self {
        Self {
            pending: self.pending.clone(),
            writer: self.writer.clone(),
        }
    }
}

impl<T, O> std::fmt::Debug for Batcher<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

/// What a caller of [`Batcher`] finds once it queued its item: its
/// answer (another writer took the item), or the writer lock with the
/// batch to write, its own item included.
enum Turn<T, O> {
    Answered(Option<O>),
    Write(Writing<T, O>),
}

struct Writing<T, O> {
    guard: OwnedMutexGuard<()>,
    items: Vec<T>,
    waiters: Vec<oneshot::Sender<O>>,
    answer: oneshot::Receiver<O>,
}

/// Answers each waiter with its outcome, then releases the writer lock.
fn answer_all<O>(waiters: Vec<oneshot::Sender<O>>, outcomes: Vec<O>, guard: OwnedMutexGuard<()>) {
    for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
        // A waiter that went away needs no answer.
        let _ = waiter.send(outcome);
    }
    drop(guard);
}

impl<T, O> Batcher<T, O> {
    async fn take_turn(&self, item: T) -> Turn<T, O> {
        let (done, mut answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((item, done));
        // Another writer may take our item while we wait for the lock.
        let guard = match select(&mut answer, self.writer.clone().lock_owned()).await {
            Either::Left((outcome, _)) => return Turn::Answered(outcome.ok()),
            Either::Right((guard, _)) => guard,
        };
        // Every writer answers before it releases the lock: unless we are
        // answered now, our item is still pending and goes into our batch.
        match answer.try_recv() {
            Ok(Some(outcome)) => return Turn::Answered(Some(outcome)),
            Ok(None) => {}
            Err(_) => return Turn::Answered(None),
        }
        let batch =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let (items, waiters) = batch.into_iter().unzip();
        Turn::Write(Writing {
            guard,
            items,
            waiters,
            answer,
        })
    }

    /// Queues `item` and returns its outcome once the batch holding it was
    /// written, by this caller or another. `write` gets the batch in order
    /// of arrival and returns one outcome per item, in the same order.
    /// `None` when the batch's writer was cancelled before it answered.
    pub async fn submit<F, Fut>(&self, item: T, write: F) -> Option<O>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let mut turn = match self.take_turn(item).await {
            Turn::Answered(outcome) => return outcome,
            Turn::Write(turn) => turn,
        };
        let outcomes = write(turn.items).await;
        answer_all(turn.waiters, outcomes, turn.guard);
        turn.answer.try_recv().ok().flatten()
    }
}

impl<T: Send + 'static, O: Send + 'static> Batcher<T, O> {
    /// [`Batcher::submit`], with the batch written and answered by a task
    /// of its own (`spawn` runs it): a writer whose caller goes away (a
    /// request cancelled mid-write) no longer takes the batch's other
    /// callers down with it, nor leaves a batch committed whose callers
    /// were told it failed. `None` only when the task itself was dropped
    /// (the runtime shutting down).
    pub async fn submit_detached<F, Fut>(
        &self,
        item: T,
        write: F,
        spawn: impl FnOnce(BoxFuture<'static, ()>),
    ) -> Option<O>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        let turn = match self.take_turn(item).await {
            Turn::Answered(outcome) => return outcome,
            Turn::Write(turn) => turn,
        };
        let work = write(turn.items);
        let (waiters, guard) = (turn.waiters, turn.guard);
        spawn(Box::pin(async move {
            let outcomes = work.await;
            answer_all(waiters, outcomes, guard);
        }));
        turn.answer.await.ok()
    }
}

/// A [`Batcher`] per key (a tenant): batches never mix keys, and keys
/// never wait on each other.
pub struct KeyedBatcher<K, T, O> {
    lanes: Arc<Mutex<HashMap<K, Batcher<T, O>>>>,
}

impl<K, T, O> Default for KeyedBatcher<K, T, O> {
    fn default() -> Self {
        Self {
            lanes: Arc::default(),
        }
    }
}

impl<K, T, O> Clone for KeyedBatcher<K, T, O> {
    fn clone(&self) -> Self {
        Self {
            lanes: self.lanes.clone(),
        }
    }
}

impl<K, T, O> std::fmt::Debug for KeyedBatcher<K, T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBatcher").finish_non_exhaustive()
    }
}

impl<K: Eq + Hash, T, O> KeyedBatcher<K, T, O> {
    /// [`Batcher::submit`] in `key`'s lane.
    pub async fn submit<F, Fut>(&self, key: K, item: T, write: F) -> Option<O>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        self.lane(key).submit(item, write).await
    }

    /// [`Batcher::submit_detached`] in `key`'s lane.
    pub async fn submit_detached<F, Fut>(
        &self,
        key: K,
        item: T,
        write: F,
        spawn: impl FnOnce(BoxFuture<'static, ()>),
    ) -> Option<O>
    where
        T: Send + 'static,
        O: Send + 'static,
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        self.lane(key).submit_detached(item, write, spawn).await
    }

    fn lane(&self, key: K) -> Batcher<T, O> {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// Pending once, so that the other futures of a `join_all` run.
    pub(crate) struct YieldOnce(pub(crate) bool);

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

    /// Doubles each item; records each batch.
    async fn double(batches: &Mutex<Vec<Vec<u32>>>, items: Vec<u32>) -> Vec<u32> {
        YieldOnce(false).await;
        let out = items.iter().map(|i| i * 2).collect();
        batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(items);
        out
    }

    #[test]
    fn calls_arriving_during_a_batch_go_together_into_the_next_each_with_its_answer() {
        let batcher = Batcher::default();
        let batches = Mutex::new(Vec::new());
        let calls = (0..10).map(|i| batcher.submit(i, |items| double(&batches, items)));
        let answers = futures::executor::block_on(futures::future::join_all(calls));
        let expected: Vec<Option<u32>> = (0..10).map(|i| Some(i * 2)).collect();
        assert_eq!(answers, expected);
        let batches = batches.into_inner().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(batches, vec![vec![0], (1..10).collect::<Vec<_>>()]);
    }

    #[test]
    fn keys_are_batched_apart() {
        let batcher = KeyedBatcher::default();
        let batches = Mutex::new(Vec::new());
        let calls = (0..6).map(|i| batcher.submit(i % 2, i, |items| double(&batches, items)));
        let answers = futures::executor::block_on(futures::future::join_all(calls));
        assert!(answers.iter().zip(0..).all(|(a, i)| *a == Some(i * 2)));
        let mut batches = batches.into_inner().unwrap_or_else(PoisonError::into_inner);
        batches.sort();
        assert_eq!(batches, vec![vec![0], vec![1], vec![2, 4], vec![3, 5]]);
    }

    #[test]
    fn a_detached_batch_answers_everyone_though_its_writer_went_away() {
        let mut pool = futures::executor::LocalPool::new();
        let spawner = pool.spawner();
        let batcher: Batcher<u32, u32> = Batcher::default();
        let spawn = |task: BoxFuture<'static, ()>| {
            use futures::task::LocalSpawnExt as _;
            spawner.spawn_local(task).unwrap_or_else(|_| unreachable!());
        };
        let written = Arc::new(Mutex::new(Vec::<u32>::new()));
        let write = |items: Vec<u32>| {
            let written = written.clone();
            async move {
                YieldOnce(false).await;
                written
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(&items);
                items.iter().map(|i| i * 2).collect::<Vec<_>>()
            }
        };
        // The first caller takes the writer lock and spawns its batch, then
        // is dropped (its request cancelled); the second queues meanwhile.
        let mut first = Box::pin(batcher.submit_detached(1, write, spawn));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        drop(first);
        let second = batcher.submit_detached(2, write, spawn);
        assert_eq!(pool.run_until(second), Some(4));
        // The first's batch was written all the same, and its lock released.
        let third = batcher.submit_detached(3, write, spawn);
        assert_eq!(pool.run_until(third), Some(6));
        let written = written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(written, [1, 2, 3]);
    }

    #[test]
    fn a_writer_answering_short_leaves_the_rest_with_none() {
        let batcher = Batcher::default();
        let calls = (0..3).map(|i| {
            batcher.submit(i, |items: Vec<u32>| async move {
                YieldOnce(false).await;
                // Answers only the first item of each batch.
                items.into_iter().take(1).collect::<Vec<_>>()
            })
        });
        let answers = futures::executor::block_on(futures::future::join_all(calls));
        assert_eq!(answers, vec![Some(0), Some(1), None]);
    }
}
