//! A caller that gives up mid-operation (a cancelled HTTP request) must
//! neither panic the runtime nor leave the store unusable — on the
//! current-thread runtime every actix worker runs.

use coffer_contract::metadata::record;
use std::time::Duration;

use coffer_contract::metadata::new_tenant;
use coffer_ports::TenantRegistry;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, SqliteConnection};

use crate::support::{fresh, tenant};

#[tokio::test(flavor = "current_thread")]
async fn dropping_an_operation_midway_is_harmless() {
    let (store, dir) = fresh().await;
    let (t, _) = tenant(&store, "cancelled").await;
    // Another writer holds the lock, so the next write waits inside SQLite
    // (busy timeout) while its caller gives up on it.
    let path = dir.path().join("coffer.db");
    let mut blocker = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    blocker.batch_execute("BEGIN IMMEDIATE").unwrap();
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        store.create_tenant(new_tenant("late", 1), record()),
    )
    .await;
    assert!(
        gave_up.is_err(),
        "the write should still be waiting for the lock"
    );
    blocker.batch_execute("COMMIT").unwrap();
    assert_eq!(store.get_tenant(t.id).await.unwrap().id, t.id);
}
