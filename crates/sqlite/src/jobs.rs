//! One runner per background job. The embedded store serves one process,
//! so an in-process claim per job name is enough; two processes on the
//! same file (a `coffer reap` beside `coffer serve`) may both run a job,
//! which only repeats idempotent work.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use coffer_ports::{JobLock, JobLocks, MetadataError};

use crate::store::SqliteMetadataStore;

/// The jobs claimed in this process, shared by the clones of a store.
pub(crate) type Claims = Arc<Mutex<HashSet<String>>>;

/// Gives the claim back when the guard is dropped.
struct Claim {
    claims: Claims,
    job: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // A panic elsewhere while the set was locked leaves it intact: the
        // set is only ever changed by single inserts and removes.
        self.claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.job);
    }
}

#[async_trait]
impl JobLocks for SqliteMetadataStore {
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError> {
        let fresh = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job.to_owned());
        Ok(fresh.then(|| {
            let claim = Claim {
                claims: self.jobs.clone(),
                job: job.to_owned(),
            };
            JobLock::new(job, claim)
        }))
    }
}
