//! Job locks across instances: two stores on one database stand for two
//! `coffer serve` processes, each with its own pool.

use coffer_domain::TenantId;
use coffer_ports::{FileCatalog, JobLocks, TenantScope};
use coffer_postgres::testing::TestDb;

use crate::support::lock_soon;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_one_instance_at_a_time() {
    let db = TestDb::new().await;
    let one = db.store(2).unwrap();
    let two = db.store(2).unwrap();

    let held = one.try_lock_job("sweep").await.unwrap();
    assert!(held.is_some());
    // The lock is not on a pooled connection: work on the holder's pool
    // (every connection of it) neither releases it nor takes it along.
    for _ in 0..4 {
        one.usage(&TenantScope::new(TenantId::new_random()))
            .await
            .unwrap();
    }
    assert!(
        two.try_lock_job("sweep").await.unwrap().is_none(),
        "held by the other instance"
    );
    assert!(
        one.try_lock_job("sweep").await.unwrap().is_none(),
        "nor twice in one instance"
    );
    let other_job = two.try_lock_job("reconcile").await.unwrap();
    assert!(other_job.is_some(), "another job is free");

    drop(held);
    let taken_over = lock_soon(&two, "sweep").await;
    assert!(taken_over.is_some(), "released when the guard is dropped");
    assert!(one.try_lock_job("sweep").await.unwrap().is_none());
    assert!(one.try_lock_job("reconcile").await.unwrap().is_none());
}
