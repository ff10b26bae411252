//! The MetadataStore contract suite — the same cases PostgreSQL passes — on
//! a temp-file SQLite database per case.

use std::sync::Arc;

use coffer_ports::MetadataStore;

use crate::support::fresh;

coffer_contract::metadata_store_contract!(async {
    let (store, dir) = fresh().await;
    let store: Arc<dyn MetadataStore> = Arc::new(store);
    (store, dir)
});
