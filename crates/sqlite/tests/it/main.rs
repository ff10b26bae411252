//! Integration tests of the SQLite metadata store: the ports' contract
//! suites, the store as a bundle of ports, and what is specific to a file
//! database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cancellation;
mod contract;
mod isolation;
mod listing;
mod ports;
mod rebuild;
mod reopen;
mod support;
