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
use futures::future::{Either, select};

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

impl<T, O> Batcher<T, O> {
    /// Queues `item` and returns its outcome once the batch holding it was
    /// written, by this caller or another. `write` gets the batch in order
    /// of arrival and returns one outcome per item, in the same order.
    /// `None` when the batch's writer was cancelled before it answered.
    pub async fn submit<F, Fut>(&self, item: T, write: F) -> Option<O>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (done, mut answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((item, done));
        // Another writer may take our item while we wait for the lock.
        let guard = match select(&mut answer, self.writer.lock()).await {
            Either::Left((outcome, _)) => return outcome.ok(),
            Either::Right((guard, _)) => guard,
        };
        // Every writer answers before it releases the lock: unless we are
        // answered now, our item is still pending and goes into our batch.
        match answer.try_recv() {
            Ok(Some(outcome)) => return Some(outcome),
            Ok(None) => {}
            Err(_) => return None,
        }
        let batch =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let (items, waiters): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
        let outcomes = write(items).await;
        for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
            // A waiter that went away needs no answer.
            let _ = waiter.send(outcome);
        }
        drop(guard);
        answer.try_recv().ok().flatten()
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
        let lane = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        lane.submit(item, write).await
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
