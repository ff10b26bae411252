//! Coffer's embedded metadata store on one SQLite file (bundled SQLite:
//! nothing to install), for `coffer serve` with no configuration. It
//! implements every metadata port but
//! [`TenantDatabases`](coffer_ports::TenantDatabases): all tenants live in
//! this one file, so [`coffer_ports::MetadataPorts::in_one`] bundles it.
//!
//! It keeps the same tables and rules as the PostgreSQL adapter (its own
//! migrations in `migrations/sqlite/`, applied by [`SqliteMetadataStore::open`])
//! and passes the same contract suite. What it cannot have is row-level
//! security: tenant scoping is done by the adapter, which puts `tenant_id` in
//! every `WHERE` and every `INSERT`. That is weaker isolation than
//! PostgreSQL's (a forgotten filter is not caught by the database) — see
//! `docs/embedded.md`.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions, which take SQLite's single
//! write lock up front, so a quota check and the reservation it allows are
//! atomic against every other writer.

mod audit;
mod billing;
mod error;
mod events;
mod files;
mod functions;
mod grants;
mod integrity;
mod jobs;
mod journal;
mod listing;
mod members;
mod onboarding;
mod records;
mod rows;
mod scans;
mod schema;
mod sessions;
mod settings;
mod share_links;
mod store;
mod tenants;
mod upload_requests;
mod versions;

pub use error::SqliteError;
pub use store::SqliteMetadataStore;
