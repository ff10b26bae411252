//! What an operator or a scheduler asks of this instance: whether it can
//! serve, and whether it may run a background job now.

use std::sync::Arc;

use coffer_ports::{JobLock, JobLocks, MetadataReadiness};

use crate::{ServiceError, Stores};

/// Readiness and job locks.
#[derive(Clone)]
pub struct Operations {
    jobs: Arc<dyn JobLocks>,
    readiness: Arc<dyn MetadataReadiness>,
    stores: Arc<Stores>,
}

impl Operations {
    pub fn new(
        jobs: Arc<dyn JobLocks>,
        readiness: Arc<dyn MetadataReadiness>,
        stores: Arc<Stores>,
    ) -> Self {
        Self {
            jobs,
            readiness,
            stores,
        }
    }

    /// Whether the metadata store and every object store answer.
    ///
    /// # Errors
    /// The first dependency that does not answer, as `Unavailable`.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        self.readiness.check_ready().await?;
        self.stores.check_ready().await?;
        Ok(())
    }

    /// Claim the background job `job` (the sweep, the reconciler) for this
    /// process, so that one instance runs it at a time: `None` while
    /// another holder has it; the claim lasts until the guard is dropped.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    pub async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, ServiceError> {
        Ok(self.jobs.try_lock_job(job).await?)
    }
}
