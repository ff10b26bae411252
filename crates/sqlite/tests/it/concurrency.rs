//! Quota reservations under concurrency: SQLite has one writer at a time,
//! and `BEGIN IMMEDIATE` makes each check-and-reserve one step, so of N
//! parallel reservations exactly as many as fit succeed.

use std::sync::Arc;

use coffer_contract::metadata::limits;
use coffer_domain::PlanLimits;
use coffer_ports::{MetadataErrorKind, MetadataStore, TenantScope};

use crate::support::{fresh, new_file, tenant};

async fn race(
    limits: PlanLimits,
    attempts: usize,
    size: u64,
) -> (usize, usize, coffer_domain::Usage) {
    let (store, _dir) = fresh().await;
    let store: Arc<dyn MetadataStore> = Arc::new(store);
    let (t, owner) = tenant(store.as_ref(), "racer").await;
    let limits = Arc::new(limits);
    let tasks: Vec<_> = (0..attempts)
        .map(|i| {
            let (store, limits) = (store.clone(), limits.clone());
            let f = new_file(&t, owner, &format!("f{i}"), size);
            tokio::spawn(async move {
                store
                    .reserve_upload(&TenantScope::new(t.id), f, &limits)
                    .await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) if e.is(MetadataErrorKind::QuotaExceeded) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let usage = store.usage(&TenantScope::new(t.id)).await.unwrap();
    (ok, refused, usage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_reservations_admit_exactly_what_fits_in_bytes() {
    let (ok, refused, usage) = race(
        PlanLimits {
            max_total_bytes: 1000,
            ..limits()
        },
        24,
        100,
    )
    .await;
    assert_eq!((ok, refused), (10, 14));
    assert_eq!(usage.reserved_bytes, 1000);
    assert_eq!(usage.reserved_files, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_reservations_admit_exactly_what_fits_in_file_count() {
    let (ok, refused, usage) = race(
        PlanLimits {
            max_files: 7,
            ..limits()
        },
        20,
        1,
    )
    .await;
    assert_eq!((ok, refused), (7, 13));
    assert_eq!(usage.reserved_files, 7);
}
