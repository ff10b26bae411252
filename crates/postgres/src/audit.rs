//! The append-only audit log.

use async_trait::async_trait;
use coffer_domain::ChainHash;
use coffer_ports::{
    AuditChain, AuditEntry, AuditLog, AuditQuery, ChainHead, MAX_PAGE_SIZE, MetadataError,
    NewAudit, Page, TenantAudits, TenantScope, fetch_size,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::audit_batch::append_batch;
use crate::error::PgError;
use crate::listing::keyset;
use crate::rows::{AuditRow, corrupt};
use crate::schema::{audit_chain_heads, audit_events};
use crate::store::{HandConn, PgMetadataStore, Scope, read_scoped};

#[async_trait]
impl AuditLog for PgMetadataStore {
    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        self.group_commit
            .append(self, scope, entry, |task| drop(tokio::spawn(task)))
            .await
    }

    async fn append_audits(&self, batch: &[TenantAudits]) -> Result<(), MetadataError> {
        let mut tenants = TenantAudits::rows(batch, |tenant, e| {
            Ok::<_, std::convert::Infallible>(AuditRow::new(tenant, e.clone()))
        })
        .unwrap_or_else(|never| match never {});
        if tenants.is_empty() {
            return Ok(());
        }
        // Heads locked in one order everywhere: two batches (of this or
        // another instance) never each hold a head the other waits for.
        tenants.sort_by_key(|(tenant, _)| *tenant.as_uuid());
        // The transaction by hand, so that `BEGIN` rides the first round
        // trip; the lent connection is discarded unless it ends cleanly.
        let lent = HandConn::get(self).await?;
        let result = match lent.conn() {
            Ok(conn) => append_batch(conn, self.begin_write(), &tenants).await,
            Err(_) => Err(diesel::result::Error::BrokenTransactionManager),
        };
        lent.finish(result).await?;
        Ok(())
    }

    async fn chain_heads(&self, scope: &TenantScope) -> Result<Vec<ChainHead>, MetadataError> {
        use audit_chain_heads::dsl as h;
        let tenant = scope.tenant_id();
        let heads: Vec<(i64, Vec<u8>)> =
            read_scoped!(self, Scope::Tenant(tenant), |c| h::audit_chain_heads
                .filter(h::tenant_id.eq(tenant.as_uuid()))
                .select((h::seq, h::hash))
                .load(&mut &*c))?;
        heads
            .into_iter()
            .filter(|(seq, _)| *seq > 0)
            .map(|(seq, hash)| {
                Ok(ChainHead {
                    chain: AuditChain::Main,
                    seq: u64::try_from(seq).map_err(|e| corrupt("chain head seq", e))?,
                    hash: ChainHash::from_slice(&hash)
                        .ok_or_else(|| corrupt("chain head hash", "not 32 bytes"))?,
                })
            })
            .collect::<Result<_, PgError>>()
            .map_err(Into::into)
    }

    async fn read_chain(
        &self,
        scope: &TenantScope,
        chain: AuditChain,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, MetadataError> {
        use audit_events::dsl as a;
        // This database holds one chain of the tenant's.
        if chain != AuditChain::Main {
            return Ok(Vec::new());
        }
        let tenant = scope.tenant_id();
        let after = i64::try_from(after_seq).map_err(|_| PgError::OutOfRange("seq"))?;
        let rows: Vec<AuditRow> = read_scoped!(self, Scope::Tenant(tenant), |c| a::audit_events
            .select(AuditRow::as_select())
            .filter(a::tenant_id.eq(tenant.as_uuid()))
            .filter(a::seq.gt(after))
            .order(a::seq.asc())
            .limit(i64::from(limit.clamp(1, MAX_PAGE_SIZE)))
            .load(&mut &*c))?;
        rows.into_iter()
            .map(|r| AuditEntry::try_from(r).map_err(Into::into))
            .collect()
    }

    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError> {
        use audit_events::dsl as a;
        let tenant = scope.tenant_id();
        let mut q = a::audit_events
            .select(AuditRow::as_select())
            .filter(a::tenant_id.eq(tenant.as_uuid()))
            .limit(i64::from(fetch_size(query.limit)))
            .into_boxed();
        q = if query.oldest_first {
            q.order((a::at.asc(), a::id.asc()))
        } else {
            q.order((a::at.desc(), a::id.desc()))
        };
        if let Some(actor) = &query.actor {
            q = q.filter(a::actor.eq(actor.as_str().to_owned()));
        }
        if let Some(action) = &query.action {
            q = q.filter(a::action.eq(action.clone()));
        }
        if let Some(file) = query.file_id {
            q = q.filter(a::file_id.eq(*file.as_uuid()));
        }
        if let Some(since) = query.since {
            q = q.filter(a::at.ge(since));
        }
        if let Some(until) = query.until {
            q = q.filter(a::at.le(until));
        }
        if let Some(c) = query.after {
            let direction = if query.oldest_first { ">" } else { "<" };
            q = q.filter(keyset("audit_events.at, audit_events.id", direction, c));
        }
        let rows: Vec<AuditRow> = read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(Page::try_from_overfetch(
            rows,
            query.limit,
            AuditEntry::page_cursor,
        )?)
    }
}
