//! The metadata contract suite — the same cases PostgreSQL passes — on
//! a temp-file SQLite database per case.

use std::sync::Arc;

use coffer_ports::MetadataPorts;

use crate::support::fresh;

coffer_contract::metadata_contract!(async {
    let (store, dir) = fresh().await;
    (MetadataPorts::in_one(Arc::new(store)), dir)
});
