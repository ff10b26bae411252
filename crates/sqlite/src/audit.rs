//! The append-only audit log (triggers refuse UPDATE and DELETE).

use async_trait::async_trait;
use coffer_domain::ChainHash;
use coffer_ports::{
    AuditChain, AuditEntry, AuditLog, AuditQuery, ChainHead, MAX_PAGE_SIZE, MetadataError,
    NewAudit, Page, TenantAudits, TenantScope, fetch_size,
};
use diesel::prelude::*;

use crate::error::SqliteError;
use crate::journal::append_linked;
use crate::rows::{AuditRow, corrupt, id, ns, to_i64};
use crate::schema::{audit_chain_heads, audit_events};
use crate::store::SqliteMetadataStore;

#[async_trait]
impl AuditLog for SqliteMetadataStore {
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
        let tenants = TenantAudits::rows(batch, |tenant, e| AuditRow::new(tenant, e.clone()))?;
        if tenants.is_empty() {
            return Ok(());
        }
        // One write transaction for the batch (SQLite has one writer).
        Ok(self
            .write(move |conn| {
                tenants
                    .iter()
                    .try_for_each(|(tenant, rows)| append_linked(conn, &id(tenant.as_uuid()), rows))
            })
            .await?)
    }

    async fn chain_heads(&self, scope: &TenantScope) -> Result<Vec<ChainHead>, MetadataError> {
        use audit_chain_heads::dsl as h;
        let tenant = id(scope.tenant_id().as_uuid());
        let heads: Vec<(i64, Vec<u8>)> = self
            .read(move |conn| {
                Ok(h::audit_chain_heads
                    .filter(h::tenant_id.eq(tenant))
                    .select((h::seq, h::hash))
                    .load(conn)?)
            })
            .await?;
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
            .collect::<Result<_, SqliteError>>()
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
        if chain != AuditChain::Main {
            return Ok(Vec::new());
        }
        let tenant = id(scope.tenant_id().as_uuid());
        let after = to_i64(after_seq, "seq")?;
        let rows: Vec<AuditRow> = self
            .read(move |conn| {
                Ok(a::audit_events
                    .select(AuditRow::as_select())
                    .filter(a::tenant_id.eq(tenant))
                    .filter(a::seq.gt(after))
                    .order(a::seq.asc())
                    .limit(i64::from(limit.clamp(1, MAX_PAGE_SIZE)))
                    .load(conn)?)
            })
            .await?;
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
        let mut q = a::audit_events
            .select(AuditRow::as_select())
            .filter(a::tenant_id.eq(id(scope.tenant_id().as_uuid())))
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
            q = q.filter(a::file_id.eq(id(file.as_uuid())));
        }
        if let Some(since) = query.since {
            q = q.filter(a::at.ge(ns(since)?));
        }
        if let Some(until) = query.until {
            q = q.filter(a::at.le(ns(until)?));
        }
        if let Some(c) = query.after {
            let at = ns(c.created_at)?;
            let last = id(&c.id);
            q = if query.oldest_first {
                q.filter(a::at.gt(at).or(a::at.eq(at).and(a::id.gt(last))))
            } else {
                q.filter(a::at.lt(at).or(a::at.eq(at).and(a::id.lt(last))))
            };
        }
        let rows: Vec<AuditRow> = self.read(move |conn| Ok(q.load(conn)?)).await?;
        Ok(Page::try_from_overfetch(
            rows,
            query.limit,
            AuditEntry::page_cursor,
        )?)
    }
}
