//! What an operator or a scheduler asks of this instance: whether it can
//! serve, and whether it may run a background job now.

use std::sync::Arc;

use coffer_ports::{JobLock, JobLocks, MetadataReadiness, Scanner};

use crate::{ServiceError, Stores};

/// Readiness and job locks.
#[derive(Clone)]
pub struct Operations {
    jobs: Arc<dyn JobLocks>,
    readiness: Arc<dyn MetadataReadiness>,
    stores: Arc<Stores>,
    scanner: Option<Arc<dyn Scanner>>,
}

impl Operations {
    pub fn new(
        jobs: Arc<dyn JobLocks>,
        readiness: Arc<dyn MetadataReadiness>,
        stores: Arc<Stores>,
        scanner: Option<Arc<dyn Scanner>>,
    ) -> Self {
        Self {
            jobs,
            readiness,
            stores,
            scanner,
        }
    }

    /// Whether the metadata store, every object store and the malware
    /// scanner (where there is one) answer. Uploads wait for the scanner
    /// while it is down, so an instance without it is not ready to serve.
    ///
    /// # Errors
    /// The first dependency that does not answer, as `Unavailable`.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        self.readiness.check_ready().await?;
        self.stores.check_ready().await?;
        if let Some(scanner) = &self.scanner {
            scanner.check_ready().await?;
        }
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
