use std::time::Duration;

use crate::ClamdAddress;

/// How to reach clamd, and how long to wait for it. Every wait is bounded,
/// so a clamd that hangs fails a scan as `Unavailable` rather than holding
/// an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClamdConfig {
    pub address: ClamdAddress,
    /// Bound on opening a connection (TCP handshake or Unix socket).
    pub connect_timeout: Duration,
    /// Bound on each wait for clamd during a scan: for it to take the next
    /// piece of the body and, once the body is sent, for its answer, which
    /// includes the scan itself. Waiting for the body stream is not
    /// bounded here: a slow client is its producer's business (and clamd
    /// drops a stream idle for its own `ReadTimeout`, 120 s by default).
    pub read_timeout: Duration,
    /// Bound on `check_ready` as a whole (connect, `PING`, `PONG`), so a
    /// readiness probe answers quickly when clamd hangs.
    pub ready_timeout: Duration,
}

impl ClamdConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(5);

    /// `address` with the default timeouts: 5 s to connect, 60 s for each
    /// wait during a scan, 5 s for a readiness check.
    pub fn new(address: ClamdAddress) -> Self {
        Self {
            address,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            ready_timeout: Self::DEFAULT_READY_TIMEOUT,
        }
    }
}
