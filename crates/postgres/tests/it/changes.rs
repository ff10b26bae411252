//! Tenant changes reach the listeners whoever makes them: a trigger on
//! `tenants`, `tenant_settings` and `tenant_features` notifies on commit,
//! so an operator's SQL is heard like the service's own writes, and a
//! rolled-back change is not heard at all.

use std::time::Duration;

use coffer_ports::{TenantChange, TenantChanges as _};
use coffer_postgres::testing::TestDb;
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::support::tenant;

async fn next(feed: &mut BoxStream<'static, TenantChange>) -> TenantChange {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("a change within 10 s")
        .expect("the feed stays open")
}

#[tokio::test]
async fn changes_made_in_sql_reach_the_listeners_on_commit() {
    let db = TestDb::new().await;
    let store = db.store(2).unwrap();
    let (acme, _) = tenant(&store, "acme").await;
    let (globex, _) = tenant(&store, "globex").await;
    let mut feed = store.subscribe();
    assert_eq!(next(&mut feed).await, TenantChange::All, "on connecting");

    let id = acme.id.as_uuid();
    let scope = format!("SET coffer.platform = 'on'; SET coffer.tenant_id = '{id}';");
    for change in [
        format!("UPDATE tenants SET status = 'suspended' WHERE id = '{id}'"),
        format!(
            "INSERT INTO tenant_settings (tenant_id, key, value) VALUES ('{id}', 'max_file_size', '10')"
        ),
        format!("UPDATE tenant_settings SET value = '20' WHERE tenant_id = '{id}'"),
        format!("DELETE FROM tenant_settings WHERE tenant_id = '{id}'"),
        format!(
            "INSERT INTO tenant_features (tenant_id, key, enabled) VALUES ('{id}', 'streamed_uploads', false)"
        ),
        format!("DELETE FROM tenant_features WHERE tenant_id = '{id}'"),
    ] {
        db.execute_in(db.name(), &format!("{scope} {change}"))
            .await
            .unwrap();
        assert_eq!(
            next(&mut feed).await,
            TenantChange::Tenant(acme.id),
            "{change}"
        );
    }

    // Rolled back: nothing is sent, so the next change heard is globex's.
    db.execute_in(
        db.name(),
        &format!("BEGIN; {scope} UPDATE tenants SET status = 'active' WHERE id = '{id}'; ROLLBACK"),
    )
    .await
    .unwrap();
    let other = globex.id.as_uuid();
    db.execute_in(
        db.name(),
        &format!("SET coffer.platform = 'on'; UPDATE tenants SET status = 'suspended' WHERE id = '{other}'"),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut feed).await, TenantChange::Tenant(globex.id));
}
