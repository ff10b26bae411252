//! The second half of a permanent delete, shared by the delete itself and
//! by the jobs that finish erases a crash interrupted: abort a multipart
//! upload, delete the object, remove the row. Every step is idempotent, so
//! finishing twice (two instances, or a job racing the request) is harmless.

use coffer_domain::{FileId, Tenant};
use coffer_ports::{FileObject, FileObjectQuery, ObjectLocation, TenantData, TenantScope};
use time::OffsetDateTime;

use crate::{Coffer, ServiceError};

/// Unfinished erases found and finished in one tenant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub found: u64,
    pub finished: u64,
    pub failed: u64,
}

impl Coffer {
    /// Delete the object of a row marked for erase, then the row.
    ///
    /// # Errors
    /// The store or the database failing; `NotFound` when the row is gone
    /// already (another runner finished it).
    pub(crate) async fn finish_erase(
        &self,
        tenant: &Tenant,
        data: &TenantData,
        id: FileId,
        location: &ObjectLocation,
        multipart_upload_id: Option<&str>,
    ) -> Result<(), ServiceError> {
        let store = self.store_of(tenant);
        if let Some(upload_id) = multipart_upload_id {
            store.abort_multipart(location, upload_id).await?;
        }
        store.delete(location).await?;
        data.files
            // The erase went on record when it began.
            .remove_file(&TenantScope::new(tenant.id), id, None)
            .await
            .map_err(ServiceError::from_file_lookup)?;
        Ok(())
    }

    /// Finish every erase of the tenant that began before `started_before`
    /// (older than the grace that lets a running delete end by itself).
    ///
    /// # Errors
    /// Only when the rows cannot be listed; an erase that cannot be
    /// finished is counted in `failed` and left for the next run.
    pub(crate) async fn finish_erases(
        &self,
        tenant: &Tenant,
        data: &TenantData,
        started_before: OffsetDateTime,
    ) -> Result<Finished, ServiceError> {
        let scope = &TenantScope::new(tenant.id);
        let mut done = Finished::default();
        let mut after = None;
        loop {
            let query = FileObjectQuery {
                erase_started_before: Some(started_before),
                after,
                limit: 1000,
            };
            let page = data.integrity.list_file_objects(scope, &query).await?;
            for row in &page {
                done.found += 1;
                match self.finish_row(tenant, data, row).await {
                    Ok(()) => done.finished += 1,
                    Err(err) if err.kind == crate::ErrorKind::NotFound => {}
                    Err(err) => {
                        done.failed += 1;
                        tracing::warn!(file = %row.id, error = %err, "could not finish an erase; left for the next run");
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() >= 1000 => after = Some(last.id),
                _ => return Ok(done),
            }
        }
    }

    pub(crate) async fn finish_row(
        &self,
        tenant: &Tenant,
        data: &TenantData,
        row: &FileObject,
    ) -> Result<(), ServiceError> {
        let location = ObjectLocation::new(tenant.id, row.bucket.clone(), row.key.clone())?;
        self.finish_erase(
            tenant,
            data,
            row.id,
            &location,
            row.multipart_upload_id.as_deref(),
        )
        .await
    }
}
