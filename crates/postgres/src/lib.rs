//! Coffer's metadata ports on PostgreSQL: [`PgMetadataStore`] implements
//! each of them over one database, and [`DatabaseRouter`] routes a tenant's
//! data to the shared database or to a dedicated one of its own.
//!
//! Tenants are kept apart by the database itself: every tenant table has
//! row-level security (`ENABLE` + `FORCE`) with policies on
//! `current_setting('coffer.tenant_id', true)`, the service connects as
//! `coffer_app` (which owns nothing), and every tenant-scoped unit of work is
//! one transaction that begins with `SET LOCAL coffer.tenant_id`, pipelined
//! with its first query. See `docs/postgres.md`.

mod audit;
mod audit_batch;
mod billing;
mod chain_carry;
mod changes;
mod completions;
mod dedicated;
mod error;
mod events;
mod file_cache;
mod file_read;
mod files;
mod grants;
mod integrity;
mod jobs;
mod journal;
mod lanes;
mod listing;
mod members;
mod merged;
mod migrate;
mod moves;
mod onboarding;
mod prepared;
mod readiness;
mod records;
mod regions;
mod reservations;
mod router;
mod rows;
mod scans;
mod schema;
mod schemas;
mod sessions;
mod settings;
mod share_links;
mod store;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
mod upload_requests;
mod versions;

pub use changes::CHANNEL as TENANT_CHANGES_CHANNEL;
pub use dedicated::{DATABASE_PLACEHOLDER, DatabaseServer, DedicatedDatabases};
pub use error::PgError;
pub use migrate::{APP_ROLE, MigrateOptions, migrate, migrate_with};
pub use regions::RegionalDatabase;
pub use router::{DatabaseRouter, DedicatedPools};
pub use schemas::DedicatedSchemas;
pub use store::{PgMetadataStore, PoolOptions, PoolStats};
