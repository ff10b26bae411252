//! Integration tests of the SQLite metadata store: the port's contract
//! suite, and what is specific to a file database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cancellation;
mod contract;
mod isolation;
mod listing;
mod reopen;
mod support;
