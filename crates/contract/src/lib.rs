//! Port contract suites: one behaviour suite per port, written against the
//! port trait only, and run against every adapter of that port (PostgreSQL,
//! PostgreSQL with a database per tenant, and SQLite for the metadata ports
//! in [`coffer_ports::MetadataPorts`]; S3 and the local disk for
//! [`coffer_ports::ObjectStore`]), the way OpenDAL runs one behaviour suite
//! against every backend.

pub mod metadata;
pub mod object_store;
