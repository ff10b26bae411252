use time::OffsetDateTime;

/// The current time, injectable so that expiry, retention and reaping can be
/// tested without sleeping.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
