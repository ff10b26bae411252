//! The end of a cancelled tenant: once its retention has passed, every
//! object under its prefix (and its dedicated bucket), then its dedicated
//! database, and then every row of it are erased, and the
//! platform audit log — which outlives the tenant — says so. Idempotent:
//! a crash midway leaves the tenant cancelled with fewer objects, and the
//! next sweep finishes the job.

use std::sync::Arc;

use coffer_domain::{ErrorCode, Subject, Tenant, TenantStatus};
use coffer_ports::{
    Clock, FileObjectQuery, MetadataError, MetadataErrorKind, ObjectLocation, ObjectStore,
    PlatformRecord, TenantData, TenantDataResolver, TenantDatabases, TenantRegistry, TenantScope,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::dedicated::drop_database;
use crate::{ServiceConfig, ServiceError, Stores, TenantCaches};

const PAGE: u32 = 1000;

/// Whether `tenant` is cancelled and past its retention at `now`.
pub(crate) fn purge_due(tenant: &Tenant, now: OffsetDateTime) -> bool {
    tenant.status == TenantStatus::Cancelled && tenant.purge_after.is_some_and(|at| at <= now)
}

/// The purge of cancelled tenants, which the [`crate::Sweeper`] runs for
/// each one due.
#[derive(Clone)]
pub struct Purge {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    databases: Option<Arc<dyn TenantDatabases>>,
    stores: Arc<Stores>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
}

impl Purge {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        databases: Option<Arc<dyn TenantDatabases>>,
        stores: Arc<Stores>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            tenant_data,
            databases,
            stores,
            caches,
            clock,
            config,
        }
    }

    /// Erase a cancelled tenant past its retention: multipart uploads in
    /// progress are aborted, every object under `t/{tenant}/` in every
    /// bucket it can have objects in (on its region's store) is deleted,
    /// then its dedicated database, then its rows go in one
    /// transaction. Returns the number of objects deleted.
    ///
    /// # Errors
    /// The stores failing (the tenant stays, for the next sweep);
    /// `Conflict` when the tenant was reactivated meanwhile, or
    /// (`records_held`) when a records retention or legal hold binds one of
    /// its files — then nothing is deleted.
    pub(crate) async fn purge_tenant(&self, tenant: &Tenant) -> Result<u64, ServiceError> {
        let scope = TenantScope::new(tenant.id);
        let store = self.stores.for_tenant(tenant).as_ref();
        let data = self.tenant_data.tenant_data(tenant).await?;
        // Records a retention or hold binds outlive their tenant: nothing
        // is deleted while one is left (docs/records.md).
        let binding = data
            .records
            .binding_records(&scope, self.clock.now(), 10)
            .await?;
        if !binding.is_empty() {
            let files: Vec<String> = binding.iter().map(|b| b.file_id.to_string()).collect();
            return Err(ServiceError::conflict(
                ErrorCode::RecordsHeld,
                format!(
                    "retained or held records stop the purge of {}: {}{}",
                    tenant.slug,
                    files.join(", "),
                    if binding.len() >= 10 { ", …" } else { "" }
                ),
            ));
        }
        self.abort_uploads(store, &data, &scope).await?;
        let mut deleted = 0;
        for bucket in self.stores.buckets_of(&self.config.placement, tenant) {
            let mut continuation = None;
            loop {
                let page = match store
                    .list(
                        &coffer_ports::ObjectPrefix::tenant(tenant.id, bucket.clone()),
                        continuation,
                        PAGE,
                    )
                    .await
                {
                    Ok(page) => page,
                    Err(err) if err.is(coffer_ports::StoreErrorKind::NotFound) => break,
                    Err(err) => return Err(err.into()),
                };
                for object in page.objects {
                    let location = ObjectLocation::new(tenant.id, bucket.clone(), object.key)?;
                    store.delete(&location).await?;
                    deleted += 1;
                }
                match page.next {
                    Some(next) => continuation = Some(next),
                    None => break,
                }
            }
        }
        // A dedicated bucket held only this tenant's objects: now empty, it
        // goes too (a bucket some other tenant shares is never one).
        let dedicated = tenant
            .dedicated_bucket
            .as_ref()
            .and_then(|b| coffer_domain::BucketName::new(b.clone()).ok());
        if let Some(bucket) = &dedicated {
            store.remove_bucket(bucket).await?;
        }
        let record = PlatformRecord {
            actor: Subject::system(),
            action: "tenant.purged".to_owned(),
            detail: json!({
                "slug": tenant.slug,
                "cancelled_at": tenant.cancelled_at.map(|t| t.unix_timestamp()),
                "objects_deleted": deleted,
                "bucket_removed": dedicated.map(|b| b.to_string()),
            }),
            at: self.clock.now(),
        };
        self.purge_rows(tenant, record).await.map_err(|err| {
            if err.is(MetadataErrorKind::InvalidState) {
                ServiceError::conflict(ErrorCode::TenantNotCancelled, err.to_string())
            } else {
                err.into()
            }
        })?;
        self.caches.forget_tenant(tenant);
        Ok(deleted)
    }

    /// Drop the tenant's dedicated database or schema, if it has one, then
    /// its rows in the registry. The database goes first: were the registry row gone
    /// first, nothing would name the database any more.
    ///
    /// # Errors
    /// `InvalidState` when the tenant is no longer cancelled (reactivated
    /// while its objects were deleted), or has a dedicated database and the
    /// deployment has none; `NotFound`.
    async fn purge_rows(
        &self,
        tenant: &Tenant,
        record: PlatformRecord,
    ) -> Result<(), MetadataError> {
        if tenant.keeps_data_apart() {
            // Asked afresh: a database dropped cannot be undone, so a
            // reactivation meanwhile must stop it here (the registry checks
            // again when it purges the rows).
            let current = self.registry.get_tenant(tenant.id).await?;
            if current.status != TenantStatus::Cancelled {
                return Err(MetadataError::new(
                    MetadataErrorKind::InvalidState,
                    format!(
                        "tenant {} is {}, not cancelled",
                        current.slug, current.status
                    ),
                ));
            }
            drop_database(self.databases.as_deref(), &current).await?;
        }
        self.registry.purge_tenant(tenant.id, record).await
    }

    /// Abort the tenant's multipart uploads in progress: their parts are
    /// not objects yet, so listing the prefix would not find them.
    async fn abort_uploads(
        &self,
        store: &dyn ObjectStore,
        data: &TenantData,
        scope: &TenantScope,
    ) -> Result<(), ServiceError> {
        let mut after = None;
        loop {
            let query = FileObjectQuery {
                erase_started_before: None,
                after,
                limit: PAGE,
            };
            let rows = data.integrity.list_file_objects(scope, &query).await?;
            for row in &rows {
                if let Some(upload_id) = &row.multipart_upload_id {
                    let location = ObjectLocation::new(
                        scope.tenant_id(),
                        row.bucket.clone(),
                        row.key.clone(),
                    )?;
                    store.abort_multipart(&location, upload_id).await?;
                }
            }
            match rows.last() {
                Some(last) if rows.len() >= PAGE as usize => after = Some(last.id),
                _ => return Ok(()),
            }
        }
    }
}
