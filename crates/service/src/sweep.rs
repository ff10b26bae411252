//! The sweep: pending uploads whose window has passed are reaped, files in
//! the trash past the tenant's retention are purged, and permanent deletes
//! that a crash interrupted are finished — each as every erase is: the row
//! marked, the object deleted, the row removed. Safe to run on several
//! instances at once (`coffer serve` runs it under a job lock anyway): an
//! erase that finds the row already gone counts as done.

use std::sync::Arc;

use coffer_domain::{FileRecord, FileStatus, PageCursor, Principal, Subject, Tenant};
use coffer_ports::{Clock, FileQuery, ReadFilter, TenantDataResolver, TenantRegistry, TenantScope};
use serde_json::json;
use time::OffsetDateTime;

use crate::erase::Eraser;
use crate::purge::{Purge, purge_due};
use crate::recorder::Recorder;
use crate::{
    Caller, EffectiveConfigs, ErrorKind, RequestMeta, ServiceConfig, ServiceError, Stores,
};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub tenants: u64,
    /// Expired pending uploads removed, objects included.
    pub reaped: u64,
    /// Trashed files past retention erased.
    pub purged: u64,
    /// Permanent deletes interrupted (older than the erase grace) finished.
    pub erases_finished: u64,
    /// Cancelled tenants past their retention erased, objects and rows.
    pub tenants_purged: u64,
    /// Files (or tenants) that could not be erased this time (left for the
    /// next sweep).
    pub failed: u64,
}

/// The actor the audit log shows for the sweep.
const SYSTEM_ACTOR: &str = "system:coffer";

/// The sweep of every tenant: expired uploads and trash, interrupted
/// erases, and cancelled tenants past their retention.
#[derive(Clone)]
pub struct Sweeper {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    purge: Purge,
    configs: EffectiveConfigs,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
    eraser: Eraser,
}

impl Sweeper {
    /// The object stores are where erased files' objects go from; `purge`
    /// erases the tenants due.
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        stores: Arc<Stores>,
        purge: Purge,
        configs: EffectiveConfigs,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            tenant_data,
            purge,
            configs,
            recorder: Recorder::new(clock.clone()),
            eraser: Eraser::new(stores, clock.clone()),
            clock,
            config,
        }
    }

    /// Reap expired uploads and purge expired trash in every tenant, and
    /// erase cancelled tenants past their retention.
    ///
    /// # Errors
    /// Only when the tenants or files cannot be listed (a store down); a
    /// file that cannot be erased is counted in `failed` and left for later.
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        let now = self.clock.now();
        let mut report = SweepReport::default();
        let mut after = None;
        loop {
            let page = self.registry.list_tenants(after, 100).await?;
            for tenant in &page.items {
                report.tenants += 1;
                if purge_due(tenant, now) {
                    match self.purge.purge_tenant(tenant).await {
                        Ok(_) => report.tenants_purged += 1,
                        Err(err) => {
                            report.failed += 1;
                            tracing::warn!(tenant = %tenant.slug, error = %err, "could not purge a cancelled tenant; left for the next sweep");
                        }
                    }
                    continue;
                }
                self.sweep_tenant(tenant, now, &mut report).await?;
            }
            match page.next_cursor {
                Some(cursor) => after = Some(PageCursor::decode(&cursor)?),
                None => return Ok(report),
            }
        }
    }

    async fn sweep_tenant(
        &self,
        tenant: &Tenant,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), ServiceError> {
        let scope = TenantScope::new(tenant.id);
        let retention = self.configs.retention(tenant).await?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let system = system_caller(tenant)?;
        for status in [FileStatus::Pending, FileStatus::Deleted] {
            let due = |file: &FileRecord| match status {
                FileStatus::Pending => file.upload_expires_at.is_some_and(|at| at <= now),
                _ => file.deleted_at.is_some_and(|at| at + retention <= now),
            };
            let mut after = None;
            loop {
                let query = FileQuery {
                    filter: ReadFilter::All,
                    status,
                    category: None,
                    path: None,
                    prefix: None,
                    name_contains: None,
                    metadata: None,
                    owner: None,
                    after,
                    limit: 1000,
                };
                let page = data.files.list_files(&scope, &query).await?;
                for file in page.items.iter().filter(|f| due(f)) {
                    let detail = json!({ "size": file.size_bytes });
                    // A reaped upload was never available: nobody hears of
                    // it. A purged file is announced like any erase.
                    let journal = if status == FileStatus::Pending {
                        self.recorder
                            .journal(&system, "file.reaped", Some(file.id), detail)
                    } else {
                        self.recorder.announce(&system, "file.purged", file, detail)
                    };
                    match self.eraser.erase(tenant, &data, file, journal).await {
                        Ok(()) => {}
                        Err(err) if err.kind == ErrorKind::NotFound => continue,
                        Err(err) => {
                            report.failed += 1;
                            tracing::warn!(tenant = %tenant.slug, file = %file.id, error = %err, "sweep could not erase a file");
                            continue;
                        }
                    }
                    if status == FileStatus::Pending {
                        report.reaped += 1;
                    } else {
                        report.purged += 1;
                    }
                }
                match (page.next_cursor, page.items.last()) {
                    (Some(_), Some(last)) => after = Some(last.page_cursor()),
                    _ => break,
                }
            }
        }
        let finished = self
            .eraser
            .finish_erases(tenant, &data, now - self.config.erase_grace_span())
            .await?;
        report.erases_finished += finished.finished;
        report.failed += finished.failed;
        Ok(())
    }
}

pub(crate) fn system_caller(tenant: &Tenant) -> Result<Caller, ServiceError> {
    let subject = Subject::new(SYSTEM_ACTOR)?;
    Ok(Caller {
        principal: Principal {
            subject,
            tenant: Some(tenant.id),
            user_id: None,
            roles: Vec::new(),
        },
        tenant: Some(tenant.clone()),
        request: RequestMeta::default(),
    })
}
