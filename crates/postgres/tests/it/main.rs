//! Integration tests against a real PostgreSQL (see `coffer_postgres::testing`
//! for how the server is found or started).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_chain;
mod changes;
mod completions;
mod contract;
mod dispatch;
mod file_cache;
mod foreign_keys;
mod jobs;
mod members;
mod migrations;
mod moves;
mod regions;
mod reservations;
mod rls;
mod router;
mod scale;
mod schemas;
mod support;
mod terms;
mod transactions;
