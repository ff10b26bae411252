//! The record of a change — its audit entry and its outbox event — written
//! inside the change's own transaction (see coffer-postgres' twin).

use coffer_domain::TenantId;
use coffer_ports::{Journal, NewAudit};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::rows::{AuditRow, OutboxRow, id, ns};
use crate::schema::{audit_events, outbox};

impl AuditRow {
    pub(crate) fn new(tenant: TenantId, entry: NewAudit) -> Result<Self, SqliteError> {
        Ok(Self {
            // Time-ordered ids keep the (at, id) keyset close to insertion order.
            id: id(&Uuid::now_v7()),
            tenant_id: id(tenant.as_uuid()),
            actor: entry.actor.as_str().to_owned(),
            action: entry.action,
            file_id: entry.file_id.map(|f| id(f.as_uuid())),
            detail: entry.detail.to_string(),
            request_id: entry.request_id,
            client_addr: entry.client_addr,
            at: ns(entry.at)?,
        })
    }
}

/// The rows a journal adds, prepared outside the unit of work.
#[derive(Debug)]
pub(crate) struct JournalRows {
    audit: AuditRow,
    event: Option<OutboxRow>,
}

impl JournalRows {
    pub(crate) fn new(tenant: TenantId, journal: Journal) -> Result<Self, SqliteError> {
        let at = ns(journal.audit.at)?;
        Ok(Self {
            audit: AuditRow::new(tenant, journal.audit)?,
            event: journal.event.map(|e| OutboxRow {
                id: id(&e.id),
                tenant_id: id(tenant.as_uuid()),
                topic: e.kind,
                payload: e.data.to_string(),
                created_at: at,
                next_attempt_at: at,
            }),
        })
    }

    pub(crate) fn insert(&self, conn: &mut SqliteConnection) -> Result<(), SqliteError> {
        diesel::insert_into(audit_events::table)
            .values(&self.audit)
            .execute(conn)?;
        if let Some(event) = &self.event {
            diesel::insert_into(outbox::table)
                .values(event)
                .execute(conn)?;
        }
        Ok(())
    }
}
