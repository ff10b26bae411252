//! The record of a change — its audit entry and its outbox event — written
//! inside the change's own transaction, linked into the tenant's hash chain
//! (see coffer-postgres' twin). Writes are serialised (`BEGIN IMMEDIATE`),
//! so reading the chain head in the write transaction is its lock.

use coffer_domain::{ChainHash, TenantId, chain_time};
use coffer_ports::{AuditEntry, Journal, NewAudit};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::rows::{AuditRow, OutboxRow, corrupt, id, ns};
use crate::schema::{audit_chain_heads, audit_events, outbox};

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
            // Stored (and hashed) with microseconds, as in PostgreSQL.
            at: ns(chain_time(entry.at))?,
            seq: None,
            hash: None,
        })
    }

    /// This row as the link after `prev` at `seq`, and its hash.
    fn linked(&self, seq: i64, prev: &ChainHash) -> Result<(Self, ChainHash), SqliteError> {
        let mut entry = AuditEntry::try_from(self.clone())?;
        entry.seq = Some(u64::try_from(seq).map_err(|e| corrupt("audit seq", e))?);
        let hash = entry
            .chained_fields()
            .map(|fields| fields.hash(prev))
            .ok_or_else(|| corrupt("audit seq", "missing"))?;
        let row = Self {
            seq: Some(seq),
            hash: Some(hash.as_bytes().to_vec()),
            ..self.clone()
        };
        Ok((row, hash))
    }
}

/// Links `rows` after the tenant's chain head and inserts them, and the new
/// head. Run inside a write transaction.
pub(crate) fn append_linked(
    conn: &mut SqliteConnection,
    tenant: &str,
    rows: &[AuditRow],
) -> Result<(), SqliteError> {
    link(conn, tenant, rows, |conn, row| {
        diesel::insert_into(audit_events::table)
            .values(row)
            .execute(conn)
    })
}

/// Links `rows` after the tenant's chain head, `write`s each, and moves the
/// head.
fn link(
    conn: &mut SqliteConnection,
    tenant: &str,
    rows: &[AuditRow],
    mut write: impl FnMut(&mut SqliteConnection, &AuditRow) -> QueryResult<usize>,
) -> Result<(), SqliteError> {
    use audit_chain_heads::dsl as h;
    let head: Option<(i64, Vec<u8>)> = h::audit_chain_heads
        .find(tenant)
        .select((h::seq, h::hash))
        .first(conn)
        .optional()?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => (
            seq,
            ChainHash::from_slice(&hash)
                .ok_or_else(|| corrupt("chain head hash", "not 32 bytes"))?,
        ),
        None => (0, ChainHash::GENESIS),
    };
    for row in rows {
        seq += 1;
        let (linked, hash) = row.linked(seq, &prev)?;
        write(conn, &linked)?;
        prev = hash;
    }
    diesel::insert_into(h::audit_chain_heads)
        .values((
            h::tenant_id.eq(tenant),
            h::seq.eq(seq),
            h::hash.eq(prev.as_bytes().to_vec()),
        ))
        .on_conflict(h::tenant_id)
        .do_update()
        .set((h::seq.eq(excluded(h::seq)), h::hash.eq(excluded(h::hash))))
        .execute(conn)?;
    Ok(())
}

/// Links the rows written before the chain existed, per tenant in `(at,
/// id)` order, after whatever the tenant's chain holds (nothing, when this
/// runs right after the migration that added it).
pub(crate) fn chain_unchained(conn: &mut SqliteConnection) -> Result<usize, SqliteError> {
    use audit_events::dsl as a;
    let rows: Vec<AuditRow> = a::audit_events
        .select(AuditRow::as_select())
        .filter(a::seq.is_null())
        .order((a::tenant_id, a::at, a::id))
        .load(conn)?;
    let mut done = 0;
    for tenant_rows in rows.chunk_by(|x, y| x.tenant_id == y.tenant_id) {
        let Some(first) = tenant_rows.first() else {
            continue;
        };
        let tenant = first.tenant_id.clone();
        // The append-only trigger lets exactly this through: an unchained
        // row getting its link, nothing else changed.
        link(conn, &tenant, tenant_rows, |conn, row| {
            diesel::update(a::audit_events.find(&row.id))
                .set((a::seq.eq(row.seq), a::hash.eq(&row.hash)))
                .execute(conn)
        })?;
        done += tenant_rows.len();
    }
    Ok(done)
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
        if let Some(event) = &self.event {
            diesel::insert_into(outbox::table)
                .values(event)
                .execute(conn)?;
        }
        // The chain head last: it serialises nothing here, but keeps the
        // order of the PostgreSQL twin.
        append_linked(
            conn,
            &self.audit.tenant_id,
            std::slice::from_ref(&self.audit),
        )
    }
}
