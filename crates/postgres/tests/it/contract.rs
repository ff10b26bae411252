//! The MetadataStore contract suite, against PostgreSQL as `coffer_app`
//! (a pool of 8, so the concurrent-reservation case really races).

use std::sync::Arc;

use coffer_ports::MetadataStore;
use coffer_postgres::testing::TestDb;

coffer_contract::metadata_store_contract!(async {
    let db = TestDb::new().await;
    let store: Arc<dyn MetadataStore> = Arc::new(db.store(8).unwrap());
    (store, db)
});
