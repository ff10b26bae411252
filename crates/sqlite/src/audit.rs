//! The append-only audit log (triggers refuse UPDATE and DELETE).

use async_trait::async_trait;
use coffer_ports::{
    AuditEntry, AuditLog, AuditQuery, Journal, MetadataError, NewAudit, Page, TenantScope,
    fetch_size,
};
use diesel::prelude::*;

use crate::journal::JournalRows;
use crate::rows::{AuditRow, id, ns};
use crate::schema::audit_events;
use crate::store::SqliteMetadataStore;

#[async_trait]
impl AuditLog for SqliteMetadataStore {
    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        let rows = JournalRows::new(scope.tenant_id(), Journal::audit(entry))?;
        Ok(self.write(move |conn| rows.insert(conn)).await?)
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
