//! Coffer's server: configuration, wiring of adapters, the actix-web HTTP
//! API and the `coffer` CLI. Kept thin: every rule lives in
//! `coffer-service` and below.

pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod server;
pub mod telemetry;
pub mod timed_store;
pub mod webhooks;
pub mod wiring;
