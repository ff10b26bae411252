//! Background work of `coffer serve`, started by [`spawn`] for the binary
//! and the end-to-end tests alike.

use std::time::Duration;

use coffer_service::Coffer;

use crate::config::Config;

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

/// Start the periodic jobs the configuration asks for, on the current
/// (actix) runtime.
pub fn spawn(config: &Config, coffer: &Coffer) -> Jobs {
    let mut jobs = Jobs::default();
    if config.events.dispatch_interval_ms > 0 {
        jobs.running
            .push(actix_web::rt::spawn(dispatch_periodically(
                coffer.clone(),
                Duration::from_millis(config.events.dispatch_interval_ms),
            )));
    }
    jobs
}

/// Delivers due events every `every`. Claims are leased in the database,
/// so several instances dispatching at once never send an event twice at
/// the same time; a round that fails (database down) is retried at the
/// next tick.
async fn dispatch_periodically(coffer: Coffer, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match coffer.dispatch_events().await {
            Ok(r) if r.delivered + r.retried + r.dead > 0 => {
                tracing::debug!(
                    delivered = r.delivered,
                    retried = r.retried,
                    dead = r.dead,
                    "events dispatched"
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "event dispatch failed; retrying at the next tick");
            }
        }
    }
}
