//! coffer-clamav against a real clamd (`scripts/services/clamd.sh start`,
//! then `source .test-services/clamd.env`), over TCP and the Unix socket,
//! plus clamds of the tests' own (`clamd.sh run`: a small stream limit, a
//! clamd to kill) and fake ones on local sockets for answers a real clamd
//! does not give on demand (silence, nonsense).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod faults;
mod limits;
mod scan;
mod support;
