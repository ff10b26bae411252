//! The reconciler: compares a tenant's objects with its rows and repairs
//! the drift a crash or an outside hand can leave (docs/integrity.md).
//!
//! - An object under exactly `t/{tenant}/` with no row, older than the
//!   grace, is an orphan: deleted on repair. The grace covers the moment of
//!   a streamed upload between its object and its row; direct uploads have
//!   a (pending) row before their object, so they are never orphans.
//! - A row (available or in the trash; pending rows have no object yet)
//!   whose object is missing is reported and, on repair, marked
//!   (`object_missing_at`). It is not removed: lost bytes are an operator's
//!   call, and the row says what was lost.
//! - A row marked for erase longer than the erase grace is finished, on
//!   repair.
//!
//! Rows are read before objects are listed, so a file created meanwhile has
//! an object younger than the grace and is not taken for an orphan.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use coffer_domain::{BucketName, FileId, FileStatus, ObjectKey, PageCursor, Tenant, TenantId};
use coffer_ports::{
    Clock, FileObject, FileObjectQuery, MetadataErrorKind, ObjectLocation, TenantData,
    TenantDataResolver, TenantRegistry, TenantScope,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::erase::Eraser;
use crate::recorder::Recorder;
use crate::{ServiceConfig, ServiceError, Stores};

/// What one reconciliation found and did, over every tenant it covered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    pub tenants: u64,
    pub objects_scanned: u64,
    pub rows_scanned: u64,
    /// Objects without a row, older than the grace.
    pub orphans_found: u64,
    pub orphans_deleted: u64,
    /// Available or trashed rows whose object is not in the store.
    pub missing_found: u64,
    /// Of those, marked by this run (the others were marked before).
    pub missing_marked: u64,
    /// Rows marked for erase longer than the erase grace.
    pub erases_found: u64,
    pub erases_finished: u64,
    /// Repairs that failed (left for the next run).
    pub failed: u64,
}

/// How many objects or rows one listing call asks for.
const PAGE: u32 = 1000;

/// The reconciler of tenants' rows and objects.
#[derive(Clone)]
pub struct Reconciler {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    stores: Arc<Stores>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
    eraser: Eraser,
}

impl Reconciler {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        stores: Arc<Stores>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            tenant_data,
            recorder: Recorder::new(clock.clone()),
            eraser: Eraser::new(stores.clone(), clock.clone()),
            stores,
            clock,
            config,
        }
    }

    /// Reconcile one tenant, or every tenant. With `repair` false it only
    /// reports; with `repair` it deletes orphans older than `grace`, marks
    /// rows without objects and finishes interrupted erases.
    ///
    /// # Errors
    /// `NotFound` for an unknown tenant; a store or database that cannot
    /// list (nothing of that tenant is repaired then: an incomplete listing
    /// must not pass for missing objects).
    pub async fn reconcile(
        &self,
        tenant: Option<TenantId>,
        repair: bool,
        grace: std::time::Duration,
    ) -> Result<ReconcileReport, ServiceError> {
        let grace = time::Duration::try_from(grace).unwrap_or(time::Duration::MAX);
        let mut report = ReconcileReport::default();
        if let Some(id) = tenant {
            let tenant = self.registry.get_tenant(id).await?;
            self.reconcile_tenant(&tenant, repair, grace, &mut report)
                .await?;
            return Ok(report);
        }
        let mut after = None;
        loop {
            let page = self.registry.list_tenants(after, 100).await?;
            for tenant in &page.items {
                self.reconcile_tenant(tenant, repair, grace, &mut report)
                    .await?;
            }
            match page.next_cursor {
                Some(cursor) => after = Some(PageCursor::decode(&cursor)?),
                None => return Ok(report),
            }
        }
    }

    async fn reconcile_tenant(
        &self,
        tenant: &Tenant,
        repair: bool,
        grace: time::Duration,
        report: &mut ReconcileReport,
    ) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let scope = TenantScope::new(tenant.id);
        report.tenants += 1;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let mut rows = self.rows_of(&data, &scope).await?;
        report.rows_scanned += rows.len() as u64;

        let erase_due = now - self.config.erase_grace_span();
        // One per file, whichever of its versions' objects the map holds.
        let erases: Vec<FileObject> = rows
            .values()
            .filter(|r| r.erase_started_at.is_some_and(|at| at < erase_due))
            .map(|r| (r.id, r))
            .collect::<HashMap<_, _>>()
            .into_values()
            .cloned()
            .collect();

        let buckets: BTreeSet<BucketName> = self
            .stores
            .buckets_of(&self.config.placement, tenant)
            .into_iter()
            .chain(rows.keys().map(|(bucket, _)| bucket.clone()))
            .collect();
        let mut orphans = Vec::new();
        for bucket in &buckets {
            self.scan_bucket(tenant, bucket, now - grace, &mut rows, &mut orphans, report)
                .await?;
        }
        // What is left of `rows` had no object in any bucket.
        let missing: Vec<&FileObject> = rows
            .values()
            .filter(|r| r.status != FileStatus::Pending && r.erase_started_at.is_none())
            .collect();

        report.erases_found += erases.len() as u64;
        report.orphans_found += orphans.len() as u64;
        report.missing_found += missing.len() as u64;
        if !repair {
            return Ok(());
        }
        let system = crate::sweep::system_caller(tenant)?;
        for row in &erases {
            match self.eraser.finish_row(tenant, &data, row).await {
                Ok(()) => report.erases_finished += 1,
                Err(err) if err.kind == crate::ErrorKind::NotFound => {}
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(tenant = %tenant.slug, file = %row.id, error = %err, "reconcile could not finish an erase");
                }
            }
        }
        for location in &orphans {
            match self.stores.for_tenant(tenant).delete(location).await {
                Ok(()) => {
                    report.orphans_deleted += 1;
                    tracing::info!(tenant = %tenant.slug, bucket = %location.bucket(), key = %location.key(), "deleted an orphan object");
                    // No row changed, so there is no transaction to record
                    // it in: the record follows the delete.
                    let detail = json!({ "bucket": location.bucket(), "key": location.key() });
                    if let Err(err) = self
                        .recorder
                        .record(
                            &data,
                            &system,
                            &scope,
                            "object.orphan_deleted",
                            None,
                            detail,
                        )
                        .await
                    {
                        tracing::error!(key = %location.key(), error = %err, "audit record of an orphan delete lost");
                    }
                }
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(tenant = %tenant.slug, key = %location.key(), error = %err, "reconcile could not delete an orphan object");
                }
            }
        }
        for row in missing
            .into_iter()
            .filter(|r| r.object_missing_at.is_none())
        {
            let journal = self.recorder.journal(
                &system,
                "file.object_missing",
                Some(row.id),
                json!({ "bucket": row.bucket, "key": row.key }),
            );
            match data
                .integrity
                .mark_object_missing(&scope, row.id, now, journal)
                .await
            {
                Ok(()) => {
                    report.missing_marked += 1;
                    tracing::warn!(tenant = %tenant.slug, file = %row.id, key = %row.key, "a file's object is missing");
                }
                // Removed since the rows were read: nothing is missing any more.
                Err(err) if err.is(MetadataErrorKind::NotFound) => report.missing_found -= 1,
                Err(err) => {
                    report.failed += 1;
                    tracing::warn!(tenant = %tenant.slug, file = %row.id, error = %err, "reconcile could not mark a missing object");
                }
            }
        }
        Ok(())
    }

    /// Every row of the tenant, erasing ones included, by where its object is.
    async fn rows_of(
        &self,
        data: &TenantData,
        scope: &TenantScope,
    ) -> Result<HashMap<(BucketName, ObjectKey), FileObject>, ServiceError> {
        let mut rows = HashMap::new();
        let mut after = None;
        loop {
            let query = FileObjectQuery {
                erase_started_before: None,
                after,
                limit: PAGE,
            };
            let page = data.integrity.list_file_objects(scope, &query).await?;
            let full = page.len() >= PAGE as usize;
            after = page.last().map(|r| r.id);
            rows.extend(
                page.into_iter()
                    .map(|r| ((r.bucket.clone(), r.key.clone()), r)),
            );
            if !full {
                break;
            }
        }
        // Earlier versions' objects are a file's too: not orphans, and
        // missing when gone.
        let by_id: HashMap<FileId, FileObject> = rows.values().map(|r| (r.id, r.clone())).collect();
        let mut after = None;
        loop {
            let page = data.versions.list_all_versions(scope, after, PAGE).await?;
            let full = page.len() >= PAGE as usize;
            after = page.last().map(|v| (v.file_id, v.version));
            for version in page {
                if let Some(file) = by_id.get(&version.file_id) {
                    rows.entry((version.bucket.clone(), version.key.clone()))
                        .or_insert_with(|| FileObject {
                            bucket: version.bucket,
                            key: version.key,
                            multipart_upload_id: None,
                            ..file.clone()
                        });
                }
            }
            if !full {
                return Ok(rows);
            }
        }
    }

    /// List the tenant's objects in `bucket`, taking each one that has a row
    /// out of `rows` and collecting those without one, older than `cutoff`.
    async fn scan_bucket(
        &self,
        tenant: &Tenant,
        bucket: &BucketName,
        cutoff: OffsetDateTime,
        rows: &mut HashMap<(BucketName, ObjectKey), FileObject>,
        orphans: &mut Vec<ObjectLocation>,
        report: &mut ReconcileReport,
    ) -> Result<(), ServiceError> {
        let store = self.stores.for_tenant(tenant);
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
                // A bucket that does not exist holds no object.
                Err(err) if err.is(coffer_ports::StoreErrorKind::NotFound) => return Ok(()),
                Err(err) => return Err(err.into()),
            };
            for object in page.objects {
                report.objects_scanned += 1;
                // An upload session's objects are the sweep's to remove
                // (when its registration window closes), not orphans.
                if object.key.upload_session().is_some() {
                    continue;
                }
                if rows.remove(&(bucket.clone(), object.key.clone())).is_some() {
                    continue;
                }
                // An object of unknown age might be a streamed upload about
                // to get its row: only a known old one is an orphan.
                if object.last_modified.is_some_and(|at| at <= cutoff) {
                    orphans.push(ObjectLocation::new(tenant.id, bucket.clone(), object.key)?);
                }
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => return Ok(()),
            }
        }
    }
}
