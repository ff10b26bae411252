//! The readiness probe: `SELECT 1` on a pooled connection.

use async_trait::async_trait;
use coffer_ports::{MetadataError, MetadataReadiness};
use diesel_async::RunQueryDsl;

use crate::error::PgError;
use crate::store::PgMetadataStore;

#[async_trait]
impl MetadataReadiness for PgMetadataStore {
    async fn check_ready(&self) -> Result<(), MetadataError> {
        let probe = async {
            let mut conn = self.pool.get().await?;
            diesel::sql_query("SELECT 1").execute(&mut conn).await?;
            Ok::<_, PgError>(())
        };
        // Bounded on the client side too: a server that stopped answering
        // (not just a slow statement) never sends the cancellation
        // `statement_timeout` would.
        match self.ready_timeout {
            Some(limit) => tokio::time::timeout(limit, probe)
                .await
                .map_err(|_| PgError::Timeout(limit))??,
            None => probe.await?,
        }
        Ok(())
    }
}
