//! What one round of the event dispatcher costs when nothing is due, as
//! the number of tenants with a webhook grows: PostgreSQL as `coffer serve`
//! uses it (the database router over a test database cloned from the
//! migrated template, as `coffer_app`), N tenants with a webhook seeded by
//! SQL in bulk, no event due for any of them; each round is one
//! `Events::dispatch_events`, timed after warm-up rounds.
//!
//! `cargo bench -p coffer-server --bench dispatch_round` prints one line on
//! stdout, `dispatch_round_ms <median for 10> <median for 10000>`, and
//! everything else on stderr. `DISPATCH_BENCH_ROUNDS` (default 20) sets
//! the timed rounds. Needs a PostgreSQL (see `coffer_postgres::testing`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_domain::BucketName;
use coffer_ports::{
    IdentityError, IdentityErrorKind, IdentityProvider, SystemClock, VerifiedIdentity,
};
use coffer_postgres::DatabaseRouter;
use coffer_postgres::testing::TestDb;
use coffer_service::{Coffer, ServiceConfig};

const WARM_UP: usize = 3;

/// Nobody signs in during a dispatch round.
struct NoIdentity;

#[async_trait::async_trait]
impl IdentityProvider for NoIdentity {
    async fn verify(&self, _: &str, _: Option<String>) -> Result<VerifiedIdentity, IdentityError> {
        Err(IdentityError::new(IdentityErrorKind::Invalid, "benchmark"))
    }
}

/// `n` active tenants, each with a webhook set in 2020 and no event.
async fn seed(db: &TestDb, n: usize) {
    db.seed_webhook_tenants("bench", n).await.unwrap();
    db.execute_in(db.name(), "ANALYZE").await.unwrap();
}

/// The median round, in milliseconds, over `rounds` after the warm-up.
async fn median_round(n: usize, rounds: usize) -> f64 {
    let db = TestDb::new().await;
    seed(&db, n).await;
    let ports = DatabaseRouter::new(db.store(16).unwrap(), None).ports();
    let dir = tempfile::tempdir().unwrap();
    let store = coffer_fs::FsStore::open(coffer_fs::FsConfig {
        data_dir: dir.path().to_owned(),
        public_url: "http://127.0.0.1:1".to_owned(),
    })
    .unwrap();
    let coffer = Coffer::new(
        ports,
        Arc::new(store),
        Arc::new(NoIdentity),
        Arc::new(SystemClock),
        ServiceConfig::new(BucketName::new("coffer-bench").unwrap()),
    );
    let events = coffer.events();
    let mut times = Vec::with_capacity(rounds);
    for round in 0..WARM_UP + rounds {
        let started = Instant::now();
        let report = events.dispatch_events().await.unwrap();
        let took = started.elapsed();
        assert_eq!(
            report.delivered + report.retried + report.dead,
            0,
            "nothing is due"
        );
        assert_eq!(report.failed, 0);
        eprintln!("n={n} round {round}: {:.2} ms", ms(took));
        if round >= WARM_UP {
            times.push(took);
        }
    }
    times.sort();
    ms(times[times.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rounds = std::env::var("DISPATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (small, large) = runtime.block_on(async {
        let small = median_round(10, rounds).await;
        let large = median_round(10_000, rounds).await;
        (small, large)
    });
    println!("dispatch_round_ms {small:.2} {large:.2}");
}
