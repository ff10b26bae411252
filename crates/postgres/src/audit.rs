//! The append-only audit log.

use async_trait::async_trait;
use coffer_ports::{
    AuditEntry, AuditLog, AuditQuery, Journal, MetadataError, NewAudit, Page, TenantScope,
    fetch_size,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::journal::JournalRows;
use crate::listing::keyset;
use crate::rows::AuditRow;
use crate::schema::audit_events;
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

#[async_trait]
impl AuditLog for PgMetadataStore {
    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let rows = &JournalRows::new(tenant, Journal::audit(entry));
        // One round trip inside the transaction: the tenant setting and the
        // insert pipelined (a download URL is audited on the hot path).
        transaction!(self, |conn| Ok(
            scoped(conn, tenant, rows.insert(conn)).await?
        ))?;
        Ok(())
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
