//! The second half of a permanent delete, shared by the delete itself and
//! by the jobs that finish erases a crash interrupted: abort a multipart
//! upload, delete the object, remove the row. Every step is idempotent, so
//! finishing twice (two instances, or a job racing the request) is harmless.

use std::sync::Arc;

use coffer_domain::{FileId, FileRecord, Tenant};
use coffer_ports::{
    Clock, FileObject, FileObjectQuery, Journal, ObjectLocation, TenantData, TenantScope,
};
use time::OffsetDateTime;

use crate::{ServiceError, Stores};

/// Unfinished erases found and finished in one tenant.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub found: u64,
    pub finished: u64,
    pub failed: u64,
}

/// Erases files: of a user's permanent delete, of the sweep, and of the
/// jobs that finish what a crash interrupted.
#[derive(Clone)]
pub(crate) struct Eraser {
    stores: Arc<Stores>,
    clock: Arc<dyn Clock>,
}

impl Eraser {
    pub(crate) fn new(stores: Arc<Stores>, clock: Arc<dyn Clock>) -> Self {
        Self { stores, clock }
    }

    /// Mark the row, remove the object, then the row. Once marked, the file
    /// is gone for users (not found, not listed, not restorable); a crash
    /// after the mark leaves a marked row, with or without its object, which
    /// the sweep finishes after `erase_grace` (docs/integrity.md). Never an
    /// object nobody knows of, never a visible row without its object.
    pub(crate) async fn erase(
        &self,
        tenant: &Tenant,
        data: &TenantData,
        file: &FileRecord,
        journal: Journal,
    ) -> Result<(), ServiceError> {
        let scope = TenantScope::new(tenant.id);
        // The marked row is the fresher word on a multipart upload id.
        let marked = data
            .integrity
            .begin_erase(&scope, file.id, self.clock.now(), journal)
            .await
            .map_err(|err| {
                if err.is(coffer_ports::MetadataErrorKind::InvalidState) {
                    // A hold or retention placed since the caller looked.
                    ServiceError::conflict(coffer_domain::ErrorCode::FileRetained, err.to_string())
                } else {
                    ServiceError::from_file_lookup(err)
                }
            })?;
        self.finish_erase(
            tenant,
            data,
            marked.id,
            &crate::files::location(&marked)?,
            marked.multipart_upload_id.as_deref(),
        )
        .await
    }

    /// Delete the object of a row marked for erase, then the row.
    ///
    /// # Errors
    /// The store or the database failing; `NotFound` when the row is gone
    /// already (another runner finished it).
    async fn finish_erase(
        &self,
        tenant: &Tenant,
        data: &TenantData,
        id: FileId,
        location: &ObjectLocation,
        multipart_upload_id: Option<&str>,
    ) -> Result<(), ServiceError> {
        let store = self.stores.for_tenant(tenant);
        if let Some(upload_id) = multipart_upload_id {
            store.abort_multipart(location, upload_id).await?;
        }
        // Every version's object goes with the file, before the rows that
        // name them.
        let scope = TenantScope::new(tenant.id);
        for version in data.versions.list_versions(&scope, id).await? {
            if &version.key != location.key() {
                let at = ObjectLocation::new(tenant.id, version.bucket, version.key)?;
                store.delete(&at).await?;
            }
        }
        store.delete(location).await?;
        data.files
            // The erase went on record when it began.
            .remove_file(&scope, id, None)
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
