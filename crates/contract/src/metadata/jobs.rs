//! [`coffer_ports::JobLocks`]: one holder per background job at a time.

use coffer_ports::MetadataPorts;

use super::fixtures::lock_soon;

/// The cases of [`coffer_ports::JobLocks`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! job_locks_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; jobs;
            job_locks_admit_one_holder_per_job,
        );
    };
}

pub async fn job_locks_admit_one_holder_per_job(ports: MetadataPorts) {
    let jobs = ports.jobs.as_ref();
    let sweep = jobs.try_lock_job("sweep").await.unwrap();
    assert_eq!(sweep.as_ref().map(|l| l.job()), Some("sweep"));
    assert!(
        jobs.try_lock_job("sweep").await.unwrap().is_none(),
        "held: no second holder"
    );
    let reconcile = jobs.try_lock_job("reconcile").await.unwrap();
    assert!(reconcile.is_some(), "another job is independent");
    drop(sweep);
    assert!(
        lock_soon(jobs, "sweep").await.is_some(),
        "free again once the guard is dropped"
    );
    drop(reconcile);
}
