//! Background jobs (the sweep, the reconciler) run on one instance at a
//! time: [`JobLocks::try_lock_job`] hands out a [`JobLock`].

use crate::MetadataError;

use std::fmt;

/// Proof that this process runs a job; dropping it releases the job for
/// the next runner. What it holds is the store's business (PostgreSQL: the
/// dedicated connection that holds a session advisory lock; SQLite: a
/// claim in an in-process table), so the guard is opaque.
pub struct JobLock {
    job: String,
    _held: Box<dyn Send>,
}

impl JobLock {
    /// A guard for `job` that keeps `held` alive until it is dropped.
    pub fn new(job: impl Into<String>, held: impl Send + 'static) -> Self {
        Self {
            job: job.into(),
            _held: Box::new(held),
        }
    }

    /// The job this guard holds.
    pub fn job(&self) -> &str {
        &self.job
    }
}

impl fmt::Debug for JobLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobLock")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

/// Claims of background jobs, so that one instance runs each at a time.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait JobLocks: Send + Sync + 'static {
    /// Claim the background job `job` for this process: `None` while
    /// another holder (in any process sharing the database, where the store
    /// can tell) has it. The claim lasts until the guard is dropped.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError>;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_guard_drops_what_it_holds() {
        let released = Arc::new(AtomicBool::new(false));
        let lock = JobLock::new("sweep", Flag(released.clone()));
        assert_eq!(lock.job(), "sweep");
        assert!(!released.load(Ordering::SeqCst));
        drop(lock);
        assert!(released.load(Ordering::SeqCst));
    }
}
