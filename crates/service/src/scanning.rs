//! Malware scanning (docs/scanning.md): which uploads wait for a scan, and
//! the worker that scans them. A verified upload of a tenant that is
//! scanned becomes `scanning` with a job in the [`ScanQueue`]; the worker
//! claims jobs under a lease, streams the file's verified object to the
//! [`Scanner`] and records the verdict — `available` when clean,
//! `quarantined` otherwise. Scanning fails closed: while the scanner cannot
//! be reached, files stay `scanning` and their jobs are retried; a job
//! whose worker died is claimed again when its lease ends.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{
    EffectiveConfig, FeatureKey, FileRecord, FileStatus, ScanVerdict, Source, Tenant,
};
use coffer_ports::{
    Clock, MetadataErrorKind, NewVersion, ScanErrorKind, ScanJob, ScanQueue, Scanner,
    TenantDataResolver, TenantRegistry, TenantScope,
};
use serde_json::json;

use crate::files::location;
use crate::recorder::Recorder;
use crate::sweep::system_caller;
use crate::{ServiceConfig, ServiceError, Stores};

/// Whether `tenant`'s uploads wait for a scan: its `malware_scanning` flag
/// where a platform admin set one, its plan's rule otherwise.
pub(crate) fn scans_uploads(
    config: &ServiceConfig,
    tenant: &Tenant,
    eff: &EffectiveConfig,
) -> bool {
    match eff.features.get(FeatureKey::MalwareScanning.as_str()) {
        Some(flag) if flag.source == Source::Feature => flag.enabled,
        _ => config.scanning.plans.contains(&tenant.plan),
    }
}

/// What one round of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub clean: u64,
    pub quarantined: u64,
    /// Given back to the queue for later (scanner unreachable, failing).
    pub deferred: u64,
    /// Jobs with nothing left to scan (file deleted, already scanned).
    pub dropped: u64,
}

enum Outcome {
    Recorded(ScanVerdict),
    Deferred,
    Dropped,
}

/// The scan worker: the queue, the files it names, their objects and the
/// scanner.
#[derive(Clone)]
pub struct Scanning {
    registry: Arc<dyn TenantRegistry>,
    tenant_data: Arc<dyn TenantDataResolver>,
    scans: Arc<dyn ScanQueue>,
    stores: Arc<Stores>,
    scanner: Arc<dyn Scanner>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl Scanning {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        tenant_data: Arc<dyn TenantDataResolver>,
        scans: Arc<dyn ScanQueue>,
        stores: Arc<Stores>,
        scanner: Arc<dyn Scanner>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            recorder: Recorder::new(clock.clone()),
            registry,
            tenant_data,
            scans,
            stores,
            scanner,
            clock,
            config,
        }
    }

    /// Whether the scanner answers, for `/readyz`.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    pub async fn check_ready(&self) -> Result<(), ServiceError> {
        Ok(self.scanner.check_ready().await?)
    }

    /// How many scans are queued (due or not, claimed or not): the queue's
    /// depth, for the operator's metrics.
    ///
    /// # Errors
    /// `Unavailable` when the queue cannot be read.
    pub async fn queued_scans(&self) -> Result<u64, ServiceError> {
        Ok(self.scans.queued_scans().await?)
    }

    /// Claim the scans that are due (at most the policy's concurrency) and
    /// run them at once.
    ///
    /// # Errors
    /// `Unavailable` when the queue cannot be read; a failing scan is given
    /// back to the queue, not returned.
    pub async fn scan_pending(&self) -> Result<ScanReport, ServiceError> {
        let policy = &self.config.scanning;
        let lease = time::Duration::try_from(policy.lease).unwrap_or(time::Duration::MINUTE);
        let jobs = self
            .scans
            .claim_scans(self.clock.now(), lease, policy.concurrency.max(1))
            .await?;
        let outcomes = futures::future::join_all(jobs.iter().map(|job| self.scan(job))).await;
        let mut report = ScanReport::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Recorded(verdict) if verdict.is_clean() => report.clean += 1,
                Outcome::Recorded(_) => report.quarantined += 1,
                Outcome::Deferred => report.deferred += 1,
                Outcome::Dropped => report.dropped += 1,
            }
        }
        Ok(report)
    }

    async fn scan(&self, job: &ScanJob) -> Outcome {
        match self.try_scan(job).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(tenant = %job.tenant_id, file = %job.file_id, error = %err, "scan failed; retrying");
                self.defer(job, &err.to_string()).await
            }
        }
    }

    async fn try_scan(&self, job: &ScanJob) -> Result<Outcome, ServiceError> {
        let tenant = match self.registry.get_tenant(job.tenant_id).await {
            Ok(tenant) => tenant,
            Err(err) if err.is(MetadataErrorKind::NotFound) => return self.drop_job(job).await,
            Err(err) => return Err(err.into()),
        };
        let scope = TenantScope::new(tenant.id);
        let data = self.tenant_data.tenant_data(&tenant).await?;
        let file = match data.files.get_file(&scope, job.file_id).await {
            Ok(stored) => stored.file,
            Err(err) if err.is(MetadataErrorKind::NotFound) => return self.drop_job(job).await,
            Err(err) => return Err(err.into()),
        };
        match file.status {
            FileStatus::Scanning => {}
            // Queued just before its complete made it `scanning`.
            FileStatus::Pending => {
                return Ok(self.defer(job, "the upload is not complete yet").await);
            }
            _ => return self.drop_job(job).await,
        }
        let store = self.stores.for_tenant(&tenant);
        let object = store.get_stream(&location(&file)?, None).await?;
        let verdict = match self.scanner.scan(object.body).await {
            Ok(verdict) => verdict,
            Err(err) if err.is(ScanErrorKind::TooLarge) => ScanVerdict::Unscannable {
                reason: "larger than the scanner accepts".to_owned(),
            },
            Err(err)
                if err.is(ScanErrorKind::Internal)
                    && job.attempts >= self.config.scanning.max_failures =>
            {
                ScanVerdict::Unscannable {
                    reason: format!("the scanner failed {} times: {err}", job.attempts),
                }
            }
            Err(err) => return Ok(self.defer(job, &err.to_string()).await),
        };
        let system = system_caller(&tenant)?;
        let action = if verdict.is_clean() {
            "file.scanned"
        } else {
            "file.quarantined"
        };
        let recorded = match (file.version_of, verdict.is_clean()) {
            // A clean new version becomes its file's current one; an
            // infected one stays a quarantined upload, the file unchanged.
            (Some(target), true) => {
                let version = NewVersion {
                    upload: Some(file.id),
                    bucket: file.bucket.clone(),
                    key: file.key.clone(),
                    size_bytes: file.size_bytes,
                    checksum_sha256: file.checksum_sha256.ok_or_else(|| {
                        ServiceError::internal("a scanned upload has no checksum")
                    })?,
                    content_type: file.content_type.clone(),
                    uploaded_by: file.owner.clone(),
                    at: self.clock.now(),
                    scan_verdict: Some(verdict.clone()),
                };
                let journal = self.recorder.announce(
                    &system,
                    "file.version_added",
                    &FileRecord {
                        id: target,
                        ..file.clone()
                    },
                    json!({ "upload": file.id, "scan": verdict }),
                );
                data.versions
                    .add_version(&scope, target, version, journal)
                    .await
            }
            _ => {
                let journal =
                    self.recorder
                        .announce(&system, action, &file, json!({ "scan": verdict }));
                data.files
                    .record_scan(&scope, file.id, verdict.clone(), self.clock.now(), journal)
                    .await
            }
        };
        match recorded {
            Ok(_) => {}
            // Deleted or already scanned meanwhile: nothing to record.
            Err(err)
                if err.is(MetadataErrorKind::NotFound)
                    || err.is(MetadataErrorKind::InvalidState) =>
            {
                return self.drop_job(job).await;
            }
            Err(err) => return Err(err.into()),
        }
        if !verdict.is_clean() {
            tracing::warn!(tenant = %tenant.slug, file = %file.id, %verdict, "file quarantined");
        }
        self.scans.finish_scan(job.tenant_id, job.file_id).await?;
        Ok(Outcome::Recorded(verdict))
    }

    async fn drop_job(&self, job: &ScanJob) -> Result<Outcome, ServiceError> {
        self.scans.finish_scan(job.tenant_id, job.file_id).await?;
        Ok(Outcome::Dropped)
    }

    /// Give the job back, due again after a wait that doubles per attempt.
    /// If even that fails, its lease runs out and it is claimed again.
    async fn defer(&self, job: &ScanJob, why: &str) -> Outcome {
        let policy = &self.config.scanning;
        let factor = 2_u32.saturating_pow(job.attempts.saturating_sub(1));
        let wait: Duration = policy
            .retry_base
            .saturating_mul(factor)
            .min(policy.retry_max);
        let due =
            self.clock.now() + time::Duration::try_from(wait).unwrap_or(time::Duration::MINUTE);
        if let Err(err) = self
            .scans
            .retry_scan(job.tenant_id, job.file_id, due, why)
            .await
        {
            tracing::warn!(file = %job.file_id, error = %err, "could not give a scan back; its lease will end");
        }
        Outcome::Deferred
    }
}
