//! The record of a change — its audit entry and its outbox event — written
//! inside the change's own transaction, so a change is on record exactly
//! when it committed.

use coffer_domain::TenantId;
use coffer_ports::{Journal, NewAudit};
use std::future::Future;

use diesel::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::rows::{AuditRow, OutboxRow};
use crate::schema::{audit_events, outbox};

impl AuditRow {
    pub(crate) fn new(tenant: TenantId, entry: NewAudit) -> Self {
        Self {
            // Time-ordered ids keep the (at, id) keyset close to insertion order.
            id: Uuid::now_v7(),
            tenant_id: *tenant.as_uuid(),
            actor: entry.actor.as_str().to_owned(),
            action: entry.action,
            file_id: entry.file_id.map(|f| *f.as_uuid()),
            detail: entry.detail,
            request_id: entry.request_id,
            client_addr: entry.client_addr,
            at: entry.at,
        }
    }
}

/// The rows a journal adds.
pub(crate) struct JournalRows {
    audit: AuditRow,
    event: Option<OutboxRow>,
}

impl JournalRows {
    pub(crate) fn new(tenant: TenantId, journal: Journal) -> Self {
        let at = journal.audit.at;
        Self {
            audit: AuditRow::new(tenant, journal.audit),
            event: journal.event.map(|e| OutboxRow {
                id: e.id,
                tenant_id: *tenant.as_uuid(),
                topic: e.kind,
                payload: e.data,
                created_at: at,
                next_attempt_at: at,
            }),
        }
    }

    /// Both inserts, pipelined into one round trip.
    pub(crate) fn insert<'a>(
        &'a self,
        conn: &'a AsyncPgConnection,
    ) -> impl Future<Output = QueryResult<()>> + Send + 'a {
        let audit = diesel::insert_into(audit_events::table)
            .values(&self.audit)
            .execute(&mut &*conn);
        let event = self.event.as_ref().map(|row| {
            diesel::insert_into(outbox::table)
                .values(row)
                .execute(&mut &*conn)
        });
        async move {
            match event {
                Some(event) => futures::future::try_join(audit, event).await.map(|_| ()),
                None => audit.await.map(|_| ()),
            }
        }
    }
}
