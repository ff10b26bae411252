//! The sweep: pending uploads whose window has passed are reaped, files in
//! the trash past the tenant's retention are purged, upload sessions whose
//! registration window closed lose what was not registered, and permanent
//! deletes that a crash interrupted are finished — each as every erase is: the row
//! marked, the object deleted, the row removed. Safe to run on several
//! instances at once (`coffer serve` runs it under a job lock anyway): an
//! erase that finds the row already gone counts as done.

use std::sync::Arc;

use coffer_domain::{ErrorCode, FileRecord, FileStatus, PageCursor, Principal, Subject, Tenant};
use coffer_ports::{
    Clock, FileQuery, MetadataErrorKind, ObjectLocation, ObjectPrefix, ReadFilter,
    TenantDataResolver, TenantRegistry, TenantScope, UploadSession, UploadSessions,
};
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
    /// Upload sessions closed: what was left unregistered in them deleted.
    pub sessions_reaped: u64,
    /// Trashed files past the trash retention that a records retention or
    /// legal hold keeps (they stay in the trash, restorable).
    pub kept_by_records: u64,
    /// Cancelled tenants past their retention whose purge a records
    /// retention or legal hold stops (nothing of them deleted).
    pub purges_held: u64,
    /// Files (or tenants) that could not be erased this time (left for the
    /// next sweep).
    pub failed: u64,
}

/// The sweep of every tenant: expired uploads and trash, interrupted
/// erases, and cancelled tenants past their retention.
#[derive(Clone)]
pub struct Sweeper {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    sessions: Arc<dyn UploadSessions>,
    stores: Arc<Stores>,
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
    #[expect(
        clippy::too_many_arguments,
        reason = "the sweep reaches every place leftovers live: tenants, their data, upload sessions, the stores and purges"
    )]
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        sessions: Arc<dyn UploadSessions>,
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
            eraser: Eraser::new(stores.clone(), clock.clone()),
            sessions,
            stores,
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
        self.reap_sessions(now, &mut report).await?;
        let mut after = None;
        loop {
            let page = self.registry.list_tenants(after, 100).await?;
            for tenant in &page.items {
                report.tenants += 1;
                if purge_due(tenant, now) {
                    match self.purge.purge_tenant(tenant).await {
                        Ok(_) => report.tenants_purged += 1,
                        Err(err) if err.code == ErrorCode::RecordsHeld => {
                            report.purges_held += 1;
                            tracing::warn!(tenant = %tenant.slug, error = %err, "a records retention or legal hold stops the purge of a cancelled tenant");
                        }
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
                    filename: None,
                    metadata: None,
                    owner: None,
                    after,
                    limit: 1000,
                };
                let page = data.files.list_files(&scope, &query).await?;
                for file in page.items.iter().filter(|f| due(f)) {
                    if file.removal_block(now).is_some() {
                        // Retention outlives the trash (docs/records.md).
                        report.kept_by_records += 1;
                        continue;
                    }
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

impl Sweeper {
    /// Delete what is left in upload sessions whose registration window
    /// closed, then forget them. A session whose objects cannot all be
    /// deleted stays for the next sweep.
    async fn reap_sessions(
        &self,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), ServiceError> {
        loop {
            let closed = self.sessions.closed_sessions(now, 100).await?;
            let mut progressed = false;
            for session in &closed {
                match self.reap_session(session).await {
                    Ok(()) => {
                        progressed = true;
                        report.sessions_reaped += 1;
                    }
                    Err(err) => {
                        report.failed += 1;
                        tracing::warn!(session = %session.id, error = %err, "could not reap an upload session; left for the next sweep");
                    }
                }
            }
            if closed.len() < 100 || !progressed {
                return Ok(());
            }
        }
    }

    async fn reap_session(&self, session: &UploadSession) -> Result<(), ServiceError> {
        let tenant = match self.registry.get_tenant(session.tenant_id).await {
            Ok(tenant) => tenant,
            // Purged with its tenant (and its objects with the tenant's).
            Err(err) if err.kind() == MetadataErrorKind::NotFound => {
                self.sessions
                    .remove_session(session.tenant_id, session.id)
                    .await?;
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        let store = self.stores.for_tenant(&tenant);
        let prefix = ObjectPrefix::upload_session(tenant.id, session.bucket.clone(), session.id);
        let mut continuation = None;
        loop {
            let page = match store.list(&prefix, continuation, 1000).await {
                Ok(page) => page,
                Err(err) if err.is(coffer_ports::StoreErrorKind::NotFound) => break,
                Err(err) => return Err(err.into()),
            };
            for object in page.objects {
                let location = ObjectLocation::new(tenant.id, session.bucket.clone(), object.key)?;
                store.delete(&location).await?;
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        self.sessions.remove_session(tenant.id, session.id).await?;
        Ok(())
    }
}

pub(crate) fn system_caller(tenant: &Tenant) -> Result<Caller, ServiceError> {
    let subject = Subject::system();
    Ok(Caller {
        principal: Principal {
            subject,
            tenant: Some(tenant.id),
            user_id: None,
            roles: Vec::new(),
        },
        tenant: Some(tenant.clone()),
        request: RequestMeta::default(),
        acting: None,
    })
}
