//! Outside `/api/v1`: liveness, readiness, metrics and the API reference.

use actix_web::{HttpResponse, web};
use coffer_service::ReconcileReport;
use prometheus::{IntCounter, IntGauge, IntGaugeVec, Opts, Registry};

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
        Ok(Self {
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

    pub fn upload_started(&self) {
        self.uploads_started.inc();
    }

    pub fn upload_completed(&self, bytes: u64) {
        self.uploads_completed.inc();
        self.upload_bytes.inc_by(bytes);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
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
