//! The metadata contract suites: one module per port, each case written
//! against that port (and what it needs of the others to set up and look),
//! run against every adapter of the metadata ports.
//!
//! Every case is a `pub async fn` taking a deployment's fresh, empty
//! [`MetadataPorts`] and panicking when an adapter breaks the contract of
//! its port. A case reaches a tenant's own data the way a use case does,
//! through [`MetadataPorts::tenant_data`]. An adapter runs them all with one
//! line in its integration tests:
//!
//! ```ignore
//! coffer_contract::metadata_contract!(async {
//!     let db = TestDb::new().await;                 // whatever the adapter needs
//!     let ports = MetadataPorts::in_one(Arc::new(db.store(8).unwrap()));
//!     (ports, db)                                   // `db` lives until the case ends
//! });
//! ```
//!
//! or one port's cases with its own macro (`file_catalog_contract!`,
//! `tenant_registry_contract!`, … — each port module names its macro).
//! The factory yields the ports and a guard that is kept alive for the
//! duration of the case (a test database to drop, a temporary directory…).
//! Times are whole seconds, so every store round-trips them exactly.

// The suite is test code compiled as a library: a failed expectation must
// panic, with the case's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;

pub mod audit;
pub mod billing;
pub mod events;
pub mod files;
pub mod grants;
pub mod integrity;
pub mod jobs;
pub mod members;
pub mod onboarding;
pub mod readiness;
pub mod records;
pub mod registry;
pub mod scans;
pub mod sessions;
pub mod settings;
pub mod share_links;
pub mod upload_requests;
pub mod versions;

pub use coffer_ports::MetadataPorts;
pub use fixtures::{
    at, dedicate_tenants, file, limits, lock_soon, new_tenant, query, record, schema_per_tenant,
};

/// Expands to one `#[tokio::test]` per case of every metadata port, each
/// port's cases in a module of its own (`registry::…`, `files::…`).
/// `$factory` is an expression evaluating to a future of
/// `(MetadataPorts, guard)`; it is evaluated afresh for every case.
#[macro_export]
macro_rules! metadata_contract {
    ($factory:expr) => {
        /// The deployment every case of the suite starts from.
        fn __metadata_contract_ports() -> impl ::std::future::Future<
            Output = ($crate::metadata::MetadataPorts, impl ::std::marker::Sized),
        > {
            $factory
        }
        mod registry {
            $crate::tenant_registry_contract!(super::__metadata_contract_ports());
        }
        mod settings {
            $crate::tenant_settings_contract!(super::__metadata_contract_ports());
        }
        mod onboarding {
            $crate::onboarding_queue_contract!(super::__metadata_contract_ports());
        }
        mod scans {
            $crate::scan_queue_contract!(super::__metadata_contract_ports());
        }
        mod sessions {
            $crate::upload_sessions_contract!(super::__metadata_contract_ports());
        }
        mod share_links {
            $crate::share_links_contract!(super::__metadata_contract_ports());
        }
        mod upload_requests {
            $crate::upload_requests_contract!(super::__metadata_contract_ports());
        }
        mod billing {
            $crate::billing_ledger_contract!(super::__metadata_contract_ports());
        }
        mod jobs {
            $crate::job_locks_contract!(super::__metadata_contract_ports());
        }
        mod readiness {
            $crate::metadata_readiness_contract!(super::__metadata_contract_ports());
        }
        mod files {
            $crate::file_catalog_contract!(super::__metadata_contract_ports());
        }
        mod members {
            $crate::members_contract!(super::__metadata_contract_ports());
        }
        mod grants {
            $crate::grants_contract!(super::__metadata_contract_ports());
        }
        mod audit {
            $crate::audit_log_contract!(super::__metadata_contract_ports());
        }
        mod integrity {
            $crate::integrity_contract!(super::__metadata_contract_ports());
        }
        mod events {
            $crate::event_outbox_contract!(super::__metadata_contract_ports());
        }
        mod records {
            $crate::records_contract!(super::__metadata_contract_ports());
        }
        mod versions {
            $crate::file_versions_contract!(super::__metadata_contract_ports());
        }
    };
}

/// One `#[tokio::test]` per case of the port module `$port`: what every
/// port's macro expands to.
#[doc(hidden)]
#[macro_export]
macro_rules! __metadata_cases {
    ($factory:expr; $port:ident; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (ports, _guard) = $factory.await;
                $crate::metadata::$port::$case(ports).await;
            }
        )+
    };
}
