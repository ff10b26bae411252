//! Tenant changes across instances: a trigger on `tenants`,
//! `tenant_settings` and `tenant_features` runs `pg_notify` for every row
//! changed, whoever changes it (migration `2026-12-11-000001`; PostgreSQL
//! delivers it only on commit, and not at all on rollback); a tenant move,
//! whose progress lives elsewhere, notifies with [`notify`]. And
//! [`TenantChanges::subscribe`] `LISTEN`s on a dedicated connection,
//! reconnecting when it drops.

use std::future::Future;
use std::time::Duration;

use coffer_domain::TenantId;
use coffer_ports::{TenantChange, TenantChanges};
use diesel::QueryResult;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use crate::store::PgMetadataStore;

/// The channel, its payload the tenant id (the triggers name it too).
pub const CHANNEL: &str = "coffer_tenant_changed";

/// How often an idle listener checks that its connection still answers.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);
/// The longest wait between two reconnection attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `pg_notify(CHANNEL, tenant)`, to run inside the change's transaction.
pub(crate) fn notify<'a>(
    conn: &'a AsyncPgConnection,
    tenant: TenantId,
) -> impl Future<Output = QueryResult<usize>> + Send + 'a {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(tenant.to_string())
        .execute(&mut &*conn)
}

impl TenantChanges for PgMetadataStore {
    fn subscribe(&self) -> BoxStream<'static, TenantChange> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(listen(self.app_url.clone(), tx));
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|change| (change, rx))
        }))
    }
}

/// Keeps a `LISTEN` connection up until the subscriber goes away.
async fn listen(url: std::sync::Arc<str>, tx: mpsc::UnboundedSender<TenantChange>) {
    let mut backoff = Duration::from_millis(100);
    while !tx.is_closed() {
        match connect(&url, &format!("LISTEN {CHANNEL}")).await {
            Ok(mut conn) => {
                backoff = Duration::from_millis(100);
                // Whatever happened while not listening is unknown.
                if tx.send(TenantChange::All).is_err() {
                    return;
                }
                tracing::debug!("listening for tenant changes");
                match follow(&mut conn, &tx).await {
                    None => return,
                    Some(lost) => {
                        tracing::warn!(error = %lost, "tenant change listener lost its connection; reconnecting");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "tenant change listener cannot connect; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A connection of its own that has run `listen` (its `LISTEN` statements).
pub(crate) async fn connect(url: &str, listen: &str) -> Result<AsyncPgConnection, String> {
    let mut conn = tokio::time::timeout(MAX_BACKOFF * 2, AsyncPgConnection::establish(url))
        .await
        .map_err(|_| "connecting timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    conn.batch_execute(listen)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Forwards notifications until the connection fails (`Some(why)`) or the
/// subscriber is gone (`None`).
async fn follow(
    conn: &mut AsyncPgConnection,
    tx: &mpsc::UnboundedSender<TenantChange>,
) -> Option<String> {
    loop {
        let next = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            tokio::select! {
                next = stream.next() => Some(next),
                () = tokio::time::sleep(HEARTBEAT) => None,
                () = tx.closed() => return None,
            }
        };
        match next {
            Some(Some(Ok(notification))) => {
                let change = uuid::Uuid::parse_str(&notification.payload)
                    .map_or(TenantChange::All, |id| {
                        TenantChange::Tenant(TenantId::from_uuid(id))
                    });
                if tx.send(change).is_err() {
                    return None;
                }
            }
            Some(Some(Err(err))) => return Some(err.to_string()),
            Some(None) => return Some("the connection closed".to_owned()),
            None => {
                let ping = tokio::time::timeout(HEARTBEAT, conn.batch_execute("SELECT 1")).await;
                match ping {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return Some(err.to_string()),
                    Err(_) => return Some("the heartbeat timed out".to_owned()),
                }
            }
        }
    }
}
