//! End to end: the `coffer` server on a random port, driven over HTTP
//! exactly as a client would, on real peers — PostgreSQL, SeaweedFS and the
//! test OIDC issuer (production wiring) or the embedded defaults.
//! Run through `scripts/test.sh`, which starts the peers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod audit_chain;
mod bad_input;
mod billing;
mod browser;
mod client_cli;
mod client_library;
mod cors;
mod credentials;
mod dedicated_databases;
mod events;
mod faults;
mod faulty;
mod fuzz;
mod integrity;
mod isolation;
mod journey;
mod lifecycle;
mod limits;
mod logs;
mod metrics;
mod onboarding;
mod ops;
mod outage;
mod outbound;
mod rate_limits;
mod records;
mod regional_databases;
mod regions;
mod restart;
mod scanning;
mod settings;
mod share_links;
mod support;
mod sweep;
mod tenant_moves;
mod tenant_schemas;
mod tokens;
mod tracing_export;
mod upload_requests;
mod verified_bytes;
mod versions;
mod web_app;
mod web_session;
mod weed;
