//! The append-only audit log (triggers refuse UPDATE and DELETE).

use coffer_ports::{AuditEntry, AuditQuery, NewAudit, Page, TenantScope, fetch_size};
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::rows::{AuditRow, id, ns};
use crate::schema::audit_events;
use crate::store::SqliteMetadataStore;

impl SqliteMetadataStore {
    pub(crate) async fn append_audit_impl(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), SqliteError> {
        let row = AuditRow {
            // Time-ordered ids keep the (at, id) keyset close to insertion order.
            id: id(&Uuid::now_v7()),
            tenant_id: id(scope.tenant_id().as_uuid()),
            actor: entry.actor.as_str().to_owned(),
            action: entry.action,
            file_id: entry.file_id.map(|f| id(f.as_uuid())),
            detail: entry.detail.to_string(),
            request_id: entry.request_id,
            client_addr: entry.client_addr,
            at: ns(entry.at)?,
        };
        self.write(move |conn| {
            diesel::insert_into(audit_events::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn list_audit_impl(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, SqliteError> {
        use audit_events::dsl as a;
        let mut q = a::audit_events
            .select(AuditRow::as_select())
            .filter(a::tenant_id.eq(id(scope.tenant_id().as_uuid())))
            .order((a::at.desc(), a::id.desc()))
            .limit(i64::from(fetch_size(query.limit)))
            .into_boxed();
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
            q = q.filter(a::at.lt(at).or(a::at.eq(at).and(a::id.lt(id(&c.id)))));
        }
        let rows: Vec<AuditRow> = self.read(move |conn| Ok(q.load(conn)?)).await?;
        Page::try_from_overfetch(rows, query.limit, AuditEntry::page_cursor)
    }
}
