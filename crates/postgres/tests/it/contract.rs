//! The metadata contract suite, against PostgreSQL as `coffer_app`
//! (a pool of 8, so the concurrent-reservation case really races).

use std::sync::Arc;

use coffer_ports::MetadataPorts;
use coffer_postgres::testing::TestDb;

coffer_contract::metadata_contract!(async {
    let db = TestDb::new().await;
    let ports = MetadataPorts::in_one(Arc::new(db.store(8).unwrap()));
    (ports, db)
});

/// The same suite through the ports `coffer serve` uses, with every tenant
/// in a database of its own: the registry in the test database, each
/// tenant's data in `<prefix><id>` on the same server (dropped with it).
mod dedicated {
    use coffer_postgres::testing::TestDb;
    use coffer_postgres::{DatabaseRouter, DatabaseServer, DedicatedDatabases, PoolOptions};

    coffer_contract::metadata_contract!(async {
        let db = TestDb::new().await;
        coffer_contract::metadata::dedicate_tenants(&db.dedicated_prefix());
        let dedicated = DedicatedDatabases {
            default: DatabaseServer {
                admin_url: db.owner_url_template(),
                app_url: db.app_url_template(),
            },
            regions: Default::default(),
            pool: PoolOptions::new(8),
            app_password: None,
        };
        let router = DatabaseRouter::new(db.store(8).unwrap(), Some(dedicated));
        (router.ports(), db)
    });
}

/// The same suite with every tenant in a schema of its own in the test
/// database (schema per tenant): the registry in `public`, each tenant's
/// data in `<prefix><id>`, reached through the shared pool with the search
/// path set in every transaction.
mod schemas {
    use coffer_postgres::testing::TestDb;
    use coffer_postgres::{DatabaseRouter, DedicatedSchemas};

    coffer_contract::metadata_contract!(async {
        let db = TestDb::new().await;
        coffer_contract::metadata::schema_per_tenant("coffer_s_");
        let schemas = DedicatedSchemas {
            owner_url: db.owner_url(),
        };
        let router = DatabaseRouter::new(db.store(8).unwrap(), None).with_schemas(Some(schemas));
        (router.ports(), db)
    });
}
