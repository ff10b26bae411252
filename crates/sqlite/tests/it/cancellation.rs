//! A caller that gives up mid-operation (a cancelled HTTP request) must
//! neither panic the runtime nor leave the store unusable — on the
//! current-thread runtime every actix worker runs.

use std::time::Duration;

use coffer_ports::MetadataStore;

use crate::support::{fresh, tenant};

#[tokio::test(flavor = "current_thread")]
async fn dropping_an_operation_midway_is_harmless() {
    let (store, _dir) = fresh().await;
    let (t, _) = tenant(&store, "cancelled").await;
    for _ in 0..20 {
        // Polled once or a few times, then dropped while its blocking part runs.
        let _ = tokio::time::timeout(Duration::from_micros(50), store.get_tenant(t.id)).await;
    }
    assert_eq!(store.get_tenant(t.id).await.unwrap().id, t.id);
}
