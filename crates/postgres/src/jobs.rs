//! One runner per background job across every instance sharing the
//! database: a PostgreSQL session advisory lock, held on a connection of its
//! own. Not a pooled one: a pooled connection goes back to the pool when
//! the job ends, still holding the lock, and the next unit of work on it
//! would hold it too. Closing the dedicated connection releases the lock, so
//! a crashed instance cannot keep a job locked either.

use async_trait::async_trait;
use coffer_ports::{JobLock, JobLocks, MetadataError};
use diesel::sql_types::Integer;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::error::PgError;
use crate::store::PgMetadataStore;

diesel::define_sql_function! {
    /// The two-key form, so Coffer's locks live in a class of their own
    /// and cannot collide with another application's on the same server.
    fn pg_try_advisory_lock(class: Integer, key: Integer) -> Bool;
}

/// The first key of every Coffer job lock: "Coff" in ASCII.
const LOCK_CLASS: i32 = 0x436f_6666;

/// The second key: 32-bit FNV-1a of the job name. Stable across processes,
/// builds and versions, which a `Hash` of the standard library is not.
fn job_key(job: &str) -> i32 {
    let hash = job.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// Keeps the connection, and so the session lock, alive.
struct HeldLock {
    _conn: AsyncPgConnection,
}

#[async_trait]
impl JobLocks for PgMetadataStore {
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError> {
        let mut conn = AsyncPgConnection::establish(&self.app_url)
            .await
            .map_err(PgError::from)?;
        let acquired: bool = diesel::select(pg_try_advisory_lock(LOCK_CLASS, job_key(job)))
            .get_result(&mut conn)
            .await
            .map_err(PgError::from)?;
        // Without the lock, dropping the connection just closes it.
        Ok(acquired.then(|| JobLock::new(job, HeldLock { _conn: conn })))
    }
}

#[cfg(test)]
mod tests {
    use super::job_key;

    #[test]
    fn job_keys_are_fixed_values() {
        // Fixed so that instances of different builds agree on them.
        assert_eq!(
            job_key(""),
            i32::from_ne_bytes(0x811c_9dc5_u32.to_ne_bytes())
        );
        assert_eq!(
            job_key("a"),
            i32::from_ne_bytes(0xe40c_292c_u32.to_ne_bytes())
        );
        assert_ne!(job_key("sweep"), job_key("reconcile"));
    }
}
