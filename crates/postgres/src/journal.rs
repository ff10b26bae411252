//! The record of a change — its audit entry and its outbox event — written
//! inside the change's own transaction, so a change is on record exactly
//! when it committed; and the linking of audit rows into the tenant's hash
//! chain, under the lock of its head row, taken last in the transaction.

use coffer_domain::{ChainHash, ChainedFields, TenantId, chain_time};
use coffer_ports::{Journal, NewAudit};
use std::future::Future;

use futures::future::Either;

use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::rows::{AuditRow, OutboxRow};
use crate::schema::{audit_chain_heads, audit_events, outbox};

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
            // Stored (and hashed) with the microseconds PostgreSQL keeps.
            at: chain_time(entry.at),
            seq: None,
            hash: None,
        }
    }

    /// This row as the link after `prev` at `seq`.
    pub(crate) fn linked(&self, seq: i64, prev: &ChainHash) -> QueryResult<Self> {
        let hash = ChainedFields {
            seq: u64::try_from(seq).map_err(|e| chain_error(e.to_string()))?,
            id: self.id,
            tenant_id: self.tenant_id,
            actor: &self.actor,
            action: &self.action,
            file_id: self.file_id,
            detail: &self.detail,
            request_id: self.request_id.as_deref(),
            client_addr: self.client_addr.as_deref(),
            at: self.at,
        }
        .hash(prev);
        Ok(Self {
            seq: Some(seq),
            hash: Some(hash.as_bytes().to_vec()),
            ..self.clone()
        })
    }
}

pub(crate) fn chain_error(message: String) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(message.into())
}

/// Locks the tenant's chain head (creating it at the genesis when the
/// tenant has none yet) and returns it. Every append takes this lock, so
/// appends of one tenant line up here and the chain never forks; take it as
/// late in the transaction as possible.
pub(crate) fn lock_head(
    conn: &AsyncPgConnection,
    tenant: TenantId,
) -> impl Future<Output = QueryResult<(i64, Vec<u8>)>> + Send + '_ {
    use audit_chain_heads::dsl as h;
    diesel::insert_into(h::audit_chain_heads)
        .values((
            h::tenant_id.eq(*tenant.as_uuid()),
            h::seq.eq(0_i64),
            h::hash.eq(ChainHash::GENESIS.as_bytes().to_vec()),
        ))
        .on_conflict(h::tenant_id)
        .do_update()
        .set(h::seq.eq(h::seq))
        .returning((h::seq, h::hash))
        .get_result(&mut &*conn)
}

/// `rows` linked after `head`, and the new head.
pub(crate) fn link<'r>(
    head: (i64, Vec<u8>),
    rows: impl IntoIterator<Item = &'r AuditRow>,
) -> QueryResult<(Vec<AuditRow>, i64, ChainHash)> {
    let (mut seq, prev) = head;
    let mut prev = ChainHash::from_slice(&prev)
        .ok_or_else(|| chain_error("the audit chain head is not 32 bytes".into()))?;
    let mut linked = Vec::new();
    for row in rows {
        seq += 1;
        let row = row.linked(seq, &prev)?;
        prev = row
            .hash
            .as_deref()
            .and_then(ChainHash::from_slice)
            .unwrap_or(prev);
        linked.push(row);
    }
    Ok((linked, seq, prev))
}

/// Writes `linked` rows and the new head `(seq, hash)`, pipelined.
async fn write_linked(
    conn: &AsyncPgConnection,
    tenant: TenantId,
    (linked, seq, hash): (Vec<AuditRow>, i64, ChainHash),
) -> QueryResult<()> {
    use audit_chain_heads::dsl as h;
    // A single-row insert has a fixed text, so it is prepared once per
    // connection; a multi-row insert's text depends on its row count, and
    // PostgreSQL parses and plans it every time. With many tenants a batch
    // holds one row per tenant, and that parsing showed in the profile
    // (docs/benchmarks.md).
    let insert = match linked.as_slice() {
        [row] => Either::Left(
            diesel::insert_into(audit_events::table)
                .values(row)
                .execute(&mut &*conn),
        ),
        rows => Either::Right(
            diesel::insert_into(audit_events::table)
                .values(rows)
                .execute(&mut &*conn),
        ),
    };
    let head = diesel::update(h::audit_chain_heads.find(tenant.as_uuid()))
        .set((h::seq.eq(seq), h::hash.eq(hash.as_bytes().to_vec())))
        .execute(&mut &*conn);
    futures::future::try_join(insert, head).await.map(|_| ())
}

/// Links `rows` after `head` and writes them and the new head, pipelined
/// into one round trip.
pub(crate) async fn append_linked<'r>(
    conn: &AsyncPgConnection,
    tenant: TenantId,
    head: (i64, Vec<u8>),
    rows: impl IntoIterator<Item = &'r AuditRow>,
) -> QueryResult<()> {
    write_linked(conn, tenant, link(head, rows)?).await
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

    /// The event insert pipelined with the lock of the chain head, then the
    /// linked audit row with the new head: two round trips, the head held
    /// only for the last one and the commit.
    pub(crate) async fn insert(&self, conn: &AsyncPgConnection) -> QueryResult<()> {
        insert_journals(conn, &[self]).await
    }
}

/// [`JournalRows::insert`] for several journals of one tenant (a batch of
/// changes): every event in one insert, every audit row in one link.
pub(crate) async fn insert_journals(
    conn: &AsyncPgConnection,
    journals: &[&JournalRows],
) -> QueryResult<()> {
    let Some(first) = journals.first() else {
        return Ok(());
    };
    let tenant = TenantId::from_uuid(first.audit.tenant_id);
    let events: Vec<&OutboxRow> = journals.iter().filter_map(|j| j.event.as_ref()).collect();
    let event = match events.as_slice() {
        [] => None,
        // Prepared once, as above.
        [row] => Some(Either::Left(
            diesel::insert_into(outbox::table)
                .values(*row)
                .execute(&mut &*conn),
        )),
        _ => Some(Either::Right(
            diesel::insert_into(outbox::table)
                .values(events)
                .execute(&mut &*conn),
        )),
    };
    let head = lock_head(conn, tenant);
    let head = match event {
        Some(event) => futures::future::try_join(event, head).await?.1,
        None => head.await?,
    };
    append_linked(conn, tenant, head, journals.iter().map(|j| &j.audit)).await
}
