//! The background jobs of `coffer serve`, started by [`spawn`] for the
//! binary and the end-to-end tests alike. The sweep and the reconciler each
//! run under their job lock, so that of several instances on one database
//! only one runs a job at a time (the others skip that round); `coffer
//! reap` and `coffer reconcile` take the same locks. The event dispatcher
//! needs none: its claims are leased row by row, and so does the onboarding
//! worker (docs/tenants-onboarding.md). See docs/integrity.md.

use std::future::Future;
use std::time::Duration;

use coffer_domain::TenantId;
use coffer_service::{ReconcileReport, ServiceError, SweepReport};

use crate::config::Config;
use crate::http::{Job, JobOutcome, Metrics};
use crate::wiring::Wiring;

/// The lock names, shared by every instance and the CLI.
pub const SWEEP: &str = "sweep";
pub const RECONCILE: &str = "reconcile";

/// One sweep under the sweep lock; `None` when another runner holds it.
///
/// # Errors
/// The lock or the sweep failing.
pub async fn sweep_once(wiring: &Wiring) -> Result<Option<SweepReport>, ServiceError> {
    let Some(_lock) = wiring.coffer.operations().try_lock_job(SWEEP).await? else {
        return Ok(None);
    };
    wiring.coffer.sweeper().sweep().await.map(Some)
}

/// What one reconciliation covers and may do.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileRun {
    /// One tenant, or all of them.
    pub tenant: Option<TenantId>,
    pub repair: bool,
    pub grace: Duration,
}

/// One reconciliation under the reconcile lock; `None` when another runner
/// holds it. A run over every tenant is published to `metrics`.
///
/// # Errors
/// The lock or the reconciliation failing.
pub async fn reconcile_once(
    wiring: &Wiring,
    run: ReconcileRun,
    metrics: Option<&Metrics>,
) -> Result<Option<ReconcileReport>, ServiceError> {
    let Some(_lock) = wiring.coffer.operations().try_lock_job(RECONCILE).await? else {
        return Ok(None);
    };
    let report = wiring
        .coffer
        .reconciler()
        .reconcile(run.tenant, run.repair, run.grace)
        .await?;
    if let (None, Some(metrics)) = (run.tenant, metrics) {
        metrics.reconciled(&report, time::OffsetDateTime::now_utc());
    }
    Ok(Some(report))
}

/// The running jobs; dropping it stops them (at their next await).
#[derive(Debug, Default)]
pub struct Jobs {
    running: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.running {
            job.abort();
        }
    }
}

/// Start the periodic jobs of `coffer serve` on the current (actix)
/// runtime; an interval of 0 turns one off.
pub fn spawn(config: &Config, wiring: &Wiring, metrics: &Metrics) -> Jobs {
    let mut jobs = Jobs::default();
    // Cached tenants are dropped as soon as any instance changes them.
    let caches = wiring.coffer.tenant_caches().clone();
    let changes = wiring.changes.clone();
    jobs.running.push(actix_web::rt::spawn(async move {
        caches.follow_changes(changes).await;
    }));
    let (events, scanning_config, config) = (&config.events, &config.scanning, &config.jobs);
    if events.dispatch_interval_ms > 0 {
        jobs.running.push(actix_web::rt::spawn(dispatching(
            Duration::from_millis(events.dispatch_interval_ms),
            wiring.coffer.clone(),
            metrics.clone(),
        )));
    }
    if let Some(scanning) = wiring.coffer.scanning()
        && scanning_config.interval_ms > 0
    {
        let (scanning, metrics) = (scanning.clone(), metrics.clone());
        jobs.running.push(actix_web::rt::spawn(periodically(
            Duration::from_millis(scanning_config.interval_ms),
            move || {
                let (scanning, metrics) = (scanning.clone(), metrics.clone());
                async move {
                    log_scans(scanning.scan_pending().await, &metrics);
                    // The queue's depth for the operator; a failed count
                    // leaves the last one.
                    if let Ok(queued) = scanning.queued_scans().await {
                        metrics.scan_queue_depth(queued);
                    }
                }
            },
        )));
    }
    if config.onboarding_interval_ms > 0 {
        let moves_metrics = metrics.clone();
        let (coffer, metrics) = (wiring.coffer.clone(), metrics.clone());
        jobs.running.push(actix_web::rt::spawn(periodically(
            Duration::from_millis(config.onboarding_interval_ms),
            move || {
                let (coffer, metrics) = (coffer.clone(), metrics.clone());
                async move {
                    log_onboarding(coffer.onboarder().onboard_pending().await, &metrics);
                }
            },
        )));
        // Moves on a loop of their own: a long copy never holds up onboarding.
        let coffer = wiring.coffer.clone();
        jobs.running.push(actix_web::rt::spawn(periodically(
            Duration::from_millis(config.onboarding_interval_ms),
            move || {
                let (coffer, metrics) = (coffer.clone(), moves_metrics.clone());
                async move {
                    log_moves(coffer.mover().move_pending().await, &metrics);
                }
            },
        )));
    }
    if config.sweep_interval_secs > 0 {
        let (wiring, metrics) = (wiring.clone(), metrics.clone());
        jobs.running.push(actix_web::rt::spawn(periodically(
            Duration::from_secs(config.sweep_interval_secs),
            move || {
                let (wiring, metrics) = (wiring.clone(), metrics.clone());
                async move { log_sweep(sweep_once(&wiring).await, &metrics) }
            },
        )));
    }
    if config.reconcile_interval_secs > 0 {
        let (wiring, metrics) = (wiring.clone(), metrics.clone());
        let run = ReconcileRun {
            tenant: None,
            repair: true,
            grace: Duration::from_secs(config.reconcile_grace_secs),
        };
        jobs.running.push(actix_web::rt::spawn(periodically(
            Duration::from_secs(config.reconcile_interval_secs),
            move || {
                let (wiring, metrics) = (wiring.clone(), metrics.clone());
                async move {
                    log_reconcile(reconcile_once(&wiring, run, Some(&metrics)).await, &metrics);
                }
            },
        )));
    }
    jobs
}

/// Starts a dispatch round every `every` without waiting for the earlier
/// ones: a round lasts as long as its slowest tenant's turn, and a tenant
/// whose receiver is slow must not keep the next round from serving the
/// others (a tenant has one turn at a time, so rounds never overlap on it).
/// The rounds run inside this task, so stopping the job stops them.
async fn dispatching(every: Duration, coffer: coffer_service::Coffer, metrics: Metrics) {
    use futures::StreamExt;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut rounds = futures::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let (coffer, metrics) = (coffer.clone(), metrics.clone());
                rounds.push(async move {
                    log_dispatch(coffer.events().dispatch_events().await, &metrics);
                });
            }
            Some(()) = rounds.next(), if !rounds.is_empty() => {}
        }
    }
}

/// Claims are leased in the database, so several instances dispatching at
/// once never send an event twice at the same time; a round that fails
/// (database down) is retried at the next tick.
fn log_dispatch(outcome: Result<coffer_service::DispatchReport, ServiceError>, metrics: &Metrics) {
    let ran = match &outcome {
        Ok(report) => {
            metrics.dispatched(report);
            JobOutcome::Ok
        }
        Err(_) => JobOutcome::Failed,
    };
    metrics.job_ran(Job::Dispatch, ran);
    match outcome {
        Ok(r) if r.delivered + r.retried + r.dead + r.failed > 0 => tracing::debug!(
            delivered = r.delivered,
            retried = r.retried,
            dead = r.dead,
            failed = r.failed,
            "events dispatched"
        ),
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(error = %err, "event dispatch failed; retrying at the next tick")
        }
    }
}

/// Claims come from a queue (`FOR UPDATE SKIP LOCKED`), so several
/// instances never run the same onboarding; a failed round is retried at the
/// next tick, and what it left running is taken over when its lease ends.
fn log_onboarding(outcome: Result<usize, ServiceError>, metrics: &Metrics) {
    metrics.job_ran(Job::Onboarding, ok_or_failed(&outcome));
    match outcome {
        Ok(0) => {}
        Ok(ran) => tracing::debug!(ran, "onboardings run"),
        Err(err) => {
            tracing::warn!(error = %err, "onboarding round failed; retrying at the next tick");
        }
    }
}

fn log_moves(outcome: Result<usize, ServiceError>, metrics: &Metrics) {
    metrics.job_ran(Job::Move, ok_or_failed(&outcome));
    match outcome {
        Ok(0) => {}
        Ok(ran) => tracing::info!(ran, "tenant moves run"),
        Err(err) => {
            tracing::warn!(error = %err, "tenant move round failed; retrying at the next tick");
        }
    }
}

/// Scans are claimed from a queue under a lease, so instances share the
/// work; a scan that cannot run (scanner down) goes back to the queue for
/// later, and the files wait.
fn log_scans(outcome: Result<coffer_service::ScanReport, ServiceError>, metrics: &Metrics) {
    if let Ok(report) = &outcome {
        metrics.scanned(report);
    }
    metrics.job_ran(Job::Scan, ok_or_failed(&outcome));
    match outcome {
        Ok(r) if r.clean + r.quarantined + r.deferred + r.dropped > 0 => tracing::debug!(
            clean = r.clean,
            quarantined = r.quarantined,
            deferred = r.deferred,
            dropped = r.dropped,
            "scans run"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "scan round failed; retrying at the next tick"),
    }
}

/// Runs `job` every `every`, the first time one period after start (an
/// instance that restarts in a loop must not hammer the stores).
async fn periodically<F, Fut>(every: Duration, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        job().await;
    }
}

/// `ok` or `failed`, for a job without a lock.
fn ok_or_failed<T>(outcome: &Result<T, ServiceError>) -> JobOutcome {
    if outcome.is_ok() {
        JobOutcome::Ok
    } else {
        JobOutcome::Failed
    }
}

/// `ok`, `skipped` (another instance holds the lock) or `failed`.
fn locked_outcome<T>(outcome: &Result<Option<T>, ServiceError>) -> JobOutcome {
    match outcome {
        Ok(Some(_)) => JobOutcome::Ok,
        Ok(None) => JobOutcome::Skipped,
        Err(_) => JobOutcome::Failed,
    }
}

fn log_sweep(outcome: Result<Option<SweepReport>, ServiceError>, metrics: &Metrics) {
    metrics.job_ran(Job::Sweep, locked_outcome(&outcome));
    match outcome {
        Ok(Some(r))
            if r.reaped + r.purged + r.erases_finished + r.tenants_purged + r.failed > 0 =>
        {
            tracing::info!(
                reaped = r.reaped,
                purged = r.purged,
                erases_finished = r.erases_finished,
                tenants_purged = r.tenants_purged,
                failed = r.failed,
                "sweep done"
            );
        }
        Ok(Some(_)) => {}
        Ok(None) => tracing::debug!("sweep running elsewhere; skipped"),
        Err(err) => tracing::warn!(error = %err, "sweep failed; retrying at the next interval"),
    }
}

fn log_reconcile(outcome: Result<Option<ReconcileReport>, ServiceError>, metrics: &Metrics) {
    metrics.job_ran(Job::Reconcile, locked_outcome(&outcome));
    match outcome {
        Ok(Some(r)) => tracing::info!(
            objects = r.objects_scanned,
            rows = r.rows_scanned,
            orphans_found = r.orphans_found,
            orphans_deleted = r.orphans_deleted,
            missing_found = r.missing_found,
            missing_marked = r.missing_marked,
            erases_finished = r.erases_finished,
            failed = r.failed,
            "reconciliation done"
        ),
        Ok(None) => tracing::debug!("reconciliation running elsewhere; skipped"),
        Err(err) => {
            tracing::warn!(error = %err, "reconciliation failed; retrying at the next interval");
        }
    }
}
