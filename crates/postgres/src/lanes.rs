//! What the per-tenant batches of writes (reservations, completions)
//! share: how an entry joins its tenant's lane, and how a batch falls back
//! to writing entry by entry.

use std::future::Future;

use coffer_domain::TenantId;
use coffer_ports::{KeyedBatcher, MetadataError, MetadataErrorKind};

use crate::error::PgError;

/// A batch's answer for each of its entries.
pub(crate) type Outcome<R> = Result<R, MetadataError>;

/// Queues `entry` in `tenant`'s lane and returns its outcome once the
/// batch holding it was written by `write`. The batch is written by a
/// spawned task: it outlives its writer's request, so cancelling one
/// request must not fail (or hide the commit of) the others.
pub(crate) async fn submit<T, R, F, Fut>(
    lanes: &KeyedBatcher<TenantId, T, Outcome<R>>,
    tenant: TenantId,
    entry: T,
    what: &str,
    write: F,
) -> Outcome<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(Vec<T>) -> Fut,
    Fut: Future<Output = Vec<Outcome<R>>> + Send + 'static,
{
    lanes
        .submit_detached(tenant, entry, write, |task| drop(tokio::spawn(task)))
        .await
        .unwrap_or_else(|| {
            Err(MetadataError::new(
                MetadataErrorKind::Unavailable,
                format!("the {what} batch holding this entry was dropped before it answered"),
            ))
        })
}

/// Writes `batch` with `together`, or — one entry, or a batch that failed
/// as a whole for a reason other than the database being unavailable —
/// entry by entry with `alone`, so one entry's fault is its own.
pub(crate) async fn together_or_alone<'a, T, R, Fut, AloneFut>(
    batch: &'a [T],
    together: Fut,
    alone: impl Fn(&'a T) -> AloneFut,
) -> Vec<Outcome<R>>
where
    Fut: Future<Output = Result<Vec<Outcome<R>>, PgError>>,
    AloneFut: Future<Output = Result<R, PgError>>,
{
    if let [one] = batch {
        return vec![alone(one).await.map_err(Into::into)];
    }
    match together.await {
        Ok(outcomes) => outcomes,
        Err(e) if e.kind() == MetadataErrorKind::Unavailable => {
            let e = MetadataError::from(e);
            batch
                .iter()
                .map(|_| Err(MetadataError::new(e.kind(), e.message())))
                .collect()
        }
        Err(_) => {
            let mut outcomes = Vec::with_capacity(batch.len());
            for entry in batch {
                outcomes.push(alone(entry).await.map_err(Into::into));
            }
            outcomes
        }
    }
}
