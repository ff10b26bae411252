//! Outside `/api/v1`: liveness, readiness, metrics and the API reference.

use actix_web::{HttpResponse, web};
use coffer_service::ReconcileReport;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::AppState;
use super::error::ApiError;

/// Counters beyond the per-route request metrics.
#[derive(Clone, Debug)]
pub struct Metrics {
    uploads_started: IntCounter,
    uploads_completed: IntCounter,
    upload_bytes: IntCounter,
    /// The last reconciliation's counts, by `what` (docs/integrity.md).
    reconcile: IntGaugeVec,
    reconcile_finished_at: IntGauge,
    /// Rounds of the background jobs, by `job` and `outcome`.
    job_runs: IntCounterVec,
    /// Webhook deliveries, by `outcome` (`delivered`, `retried`, `dead`).
    deliveries: IntCounterVec,
    /// Malware scans, by `outcome` (`clean`, `quarantined`, `deferred`, `dropped`).
    scans: IntCounterVec,
    /// Scans queued, as the scan worker last counted them.
    scan_queue: IntGauge,
    /// Events awaiting webhook delivery and dead-lettered, by `state`.
    outbox: IntGaugeVec,
}

/// The background jobs, as `coffer_job_runs_total` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Dispatch,
    Scan,
    Onboarding,
    Move,
    Sweep,
    Reconcile,
}

/// How a job's round ended: `ok`, `failed`, or `skipped` (another
/// instance held its lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Ok,
    Failed,
    Skipped,
}

impl Metrics {
    /// # Errors
    /// A name clash in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let counters = |name: &str, help: &str, label: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), label)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        Ok(Self {
            job_runs: counters(
                "coffer_job_runs_total",
                "Rounds of the background jobs, by job and outcome",
                &["job", "outcome"],
            )?,
            deliveries: counters(
                "coffer_webhook_deliveries_total",
                "Webhook delivery attempts, by outcome (dead: dead-lettered)",
                &["outcome"],
            )?,
            scans: counters(
                "coffer_scans_total",
                "Malware scans run, by outcome",
                &["outcome"],
            )?,
            scan_queue: {
                let g = IntGauge::new(
                    "coffer_scan_queue_depth",
                    "Scans queued (due or not), counted after each round of the scan worker",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            outbox: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "coffer_outbox_events",
                        "Events of tenants with a webhook, by state (awaiting delivery, dead-lettered), as the dispatcher last counted them",
                    ),
                    &["state"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            uploads_started: counter("coffer_uploads_started_total", "Direct uploads initiated")?,
            uploads_completed: counter(
                "coffer_uploads_completed_total",
                "Uploads verified and available",
            )?,
            upload_bytes: counter("coffer_upload_bytes_total", "Bytes of completed uploads")?,
            reconcile: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "coffer_reconcile_last",
                        "Counts of the last reconciliation of objects with rows",
                    ),
                    &["what"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            reconcile_finished_at: {
                let g = IntGauge::new(
                    "coffer_reconcile_last_finished_timestamp_seconds",
                    "When the last reconciliation finished (Unix time)",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
        })
    }

    /// Publish a finished reconciliation's counts.
    pub fn reconciled(&self, report: &ReconcileReport, at: time::OffsetDateTime) {
        for (what, n) in [
            ("tenants", report.tenants),
            ("objects_scanned", report.objects_scanned),
            ("rows_scanned", report.rows_scanned),
            ("orphan_objects_found", report.orphans_found),
            ("orphan_objects_deleted", report.orphans_deleted),
            ("rows_missing_object_found", report.missing_found),
            ("rows_missing_object_marked", report.missing_marked),
            ("erases_found", report.erases_found),
            ("erases_finished", report.erases_finished),
            ("failed", report.failed),
        ] {
            self.reconcile
                .with_label_values(&[what])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.reconcile_finished_at.set(at.unix_timestamp());
    }

    /// A round of `job` ended with `outcome`.
    pub fn job_ran(&self, job: Job, outcome: JobOutcome) {
        let job = match job {
            Job::Dispatch => "dispatch",
            Job::Scan => "scan",
            Job::Onboarding => "onboarding",
            Job::Move => "move",
            Job::Sweep => "sweep",
            Job::Reconcile => "reconcile",
        };
        let outcome = match outcome {
            JobOutcome::Ok => "ok",
            JobOutcome::Failed => "failed",
            JobOutcome::Skipped => "skipped",
        };
        self.job_runs.with_label_values(&[job, outcome]).inc();
    }

    /// A dispatch round's deliveries.
    pub fn dispatched(&self, report: &coffer_service::DispatchReport) {
        for (outcome, n) in [
            ("delivered", report.delivered),
            ("retried", report.retried),
            ("dead", report.dead),
        ] {
            self.deliveries.with_label_values(&[outcome]).inc_by(n);
        }
        for (state, n) in [
            ("awaiting", report.backlog.awaiting),
            ("dead", report.backlog.dead),
        ] {
            self.outbox
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The scan queue's depth, just counted.
    pub fn scan_queue_depth(&self, queued: u64) {
        self.scan_queue
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }

    /// A scan round's verdicts.
    pub fn scanned(&self, report: &coffer_service::ScanReport) {
        for (outcome, n) in [
            ("clean", report.clean),
            ("quarantined", report.quarantined),
            ("deferred", report.deferred),
            ("dropped", report.dropped),
        ] {
            self.scans.with_label_values(&[outcome]).inc_by(n);
        }
    }

    pub fn upload_started(&self) {
        self.uploads_started.inc();
    }

    pub fn upload_completed(&self, bytes: u64) {
        self.uploads_completed.inc();
        self.upload_bytes.inc_by(bytes);
    }
}

/// The PostgreSQL pools' connections, read when metrics are gathered: the
/// shared pool's `coffer_db_pool_connections{state="in_use"|"idle"}`,
/// `coffer_db_pool_max_connections`, `coffer_db_pool_waiting`, and the
/// dedicated databases' pools open in this process, summed (a label per
/// database would grow with the tenants): `coffer_db_dedicated_pools`,
/// `coffer_db_dedicated_pool_connections{state}`,
/// `coffer_db_dedicated_pool_waiting`.
pub struct PoolGauges {
    pools: crate::wiring::Pools,
    connections: IntGaugeVec,
    max: IntGauge,
    waiting: IntGauge,
    dedicated: IntGauge,
    dedicated_connections: IntGaugeVec,
    dedicated_waiting: IntGauge,
}

impl std::fmt::Debug for PoolGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolGauges").finish_non_exhaustive()
    }
}

impl PoolGauges {
    /// # Errors
    /// Invalid options (a bug).
    pub fn new(pools: crate::wiring::Pools) -> Result<Self, prometheus::Error> {
        let by_state = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["state"]);
        Ok(Self {
            pools,
            connections: by_state(
                "coffer_db_pool_connections",
                "Connections of the shared PostgreSQL pool, in use or idle",
            )?,
            max: IntGauge::new(
                "coffer_db_pool_max_connections",
                "Most connections the shared PostgreSQL pool opens",
            )?,
            waiting: IntGauge::new(
                "coffer_db_pool_waiting",
                "Checkouts waiting for a connection of the shared PostgreSQL pool",
            )?,
            dedicated: IntGauge::new(
                "coffer_db_dedicated_pools",
                "Pools of dedicated tenant databases this process has open",
            )?,
            dedicated_connections: by_state(
                "coffer_db_dedicated_pool_connections",
                "Connections of the dedicated databases' pools, in use or idle, summed",
            )?,
            dedicated_waiting: IntGauge::new(
                "coffer_db_dedicated_pool_waiting",
                "Checkouts waiting for a connection of a dedicated database's pool, summed",
            )?,
        })
    }
}

/// Sets `connections{state}` from `stats`.
fn set_connections(connections: &IntGaugeVec, stats: &coffer_postgres::PoolStats) {
    connections
        .with_label_values(&["in_use"])
        .set(gauge(stats.open.saturating_sub(stats.idle)));
    connections
        .with_label_values(&["idle"])
        .set(gauge(stats.idle));
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for PoolGauges {
    fn desc(&self) -> Vec<&Desc> {
        let mut desc = self.connections.desc();
        desc.extend(self.max.desc());
        desc.extend(self.waiting.desc());
        desc.extend(self.dedicated.desc());
        desc.extend(self.dedicated_connections.desc());
        desc.extend(self.dedicated_waiting.desc());
        desc
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let stats = self.pools.shared.pool_stats();
        set_connections(&self.connections, &stats);
        self.max.set(gauge(stats.max_size));
        self.waiting.set(gauge(stats.waiting));
        let (open, dedicated) = self.pools.dedicated.stats();
        self.dedicated.set(gauge(open));
        set_connections(&self.dedicated_connections, &dedicated);
        self.dedicated_waiting.set(gauge(dedicated.waiting));
        let mut families = self.connections.collect();
        for collector in [
            &self.max,
            &self.waiting,
            &self.dedicated,
            &self.dedicated_waiting,
        ] {
            families.extend(collector.collect());
        }
        families.extend(self.dedicated_connections.collect());
        families
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.coffer.operations().check_ready().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

/// The reference lives under `/docs/`; the bare path is a common first try.
pub async fn docs_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("location", "/docs/"))
        .finish()
}
