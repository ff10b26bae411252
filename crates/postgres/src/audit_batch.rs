//! The group commit's write (`AuditLog::append_audits`): the audit rows of
//! many tenants linked into their chains in one transaction of four
//! prepared statements whatever the number of tenants, in three round
//! trips (`BEGIN` pipelined with the first statements, as on the read
//! path, then the writes, then `COMMIT`). The batch names its tenants
//! in `coffer.audit_batch`, which row-level security on the two chain
//! tables honours (migration `2026-12-09-000001_audit_batches`), instead of
//! a `SET LOCAL coffer.tenant_id` and a statement of each kind per tenant.

use std::collections::BTreeMap;
use std::future::Future;

use coffer_domain::{ChainHash, TenantId};
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, BigInt, Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::journal::{chain_error, link};
use crate::rows::AuditRow;
use crate::schema::audit_chain_heads;
use crate::store::set_config;

/// Heads missing (a tenant's first entry) start at the genesis. Rare, so
/// not prepared.
const ENSURE_HEADS: &str = "INSERT INTO audit_chain_heads (tenant_id, seq, hash) \
     SELECT t, 0, $2 FROM unnest($1::uuid[]) AS t ON CONFLICT (tenant_id) DO NOTHING";

/// Appends each tenant's rows after its chain head in two round trips:
/// the batch's tenants set and every head locked (in tenant id order, so
/// two batches never each hold a head the other waits for); then every
/// row inserted and every head moved. `tenants` sorted by id. A head
/// that is sealed (its tenant moving) refuses to move, and the whole batch
/// with it; the group commit then writes each tenant's share on its own.
pub(crate) async fn append_batch(
    conn: &AsyncPgConnection,
    begin: &str,
    tenants: &[(TenantId, Vec<AuditRow>)],
) -> QueryResult<()> {
    let ids: Vec<Uuid> = tenants.iter().map(|(t, _)| *t.as_uuid()).collect();
    let mut heads = lock_heads(conn, begin, &ids).await?;
    let mut rows = Columns::default();
    let mut moved = Heads::default();
    for (tenant, audits) in tenants {
        let head = heads
            .remove(tenant.as_uuid())
            .ok_or_else(|| chain_error(format!("no chain head was locked for tenant {tenant}")))?;
        let (linked, seq, hash) = link(head, audits)?;
        moved.push(*tenant.as_uuid(), seq, hash);
        for row in linked {
            rows.push(row);
        }
    }
    let expected = moved.tenant.len();
    let insert = InsertRows(&rows).execute(&mut &*conn);
    let heads_moved = MoveHeads(&moved).execute(&mut &*conn);
    let (_, heads_moved) = futures::future::try_join(insert, heads_moved).await?;
    if heads_moved != expected {
        return Err(chain_error(format!(
            "{heads_moved} of {expected} audit chain heads moved"
        )));
    }
    Ok(())
}

/// Opens the transaction (`begin`), sets the batch's tenants and locks
/// every head, in one round trip; a tenant without a head yet (its first
/// entry) gets one at the genesis, and the heads are locked again. `ids`
/// sorted.
async fn lock_heads(
    conn: &AsyncPgConnection,
    begin: &str,
    ids: &[Uuid],
) -> QueryResult<BTreeMap<Uuid, (i64, Vec<u8>)>> {
    let listed = ids
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // `BEGIN` is a simple-protocol message sent when first polled, before
    // the other two, which keep their order (as in `store::pipelined_read`).
    let mut begin_conn = conn;
    let begin = begin_conn.batch_execute(begin);
    let scope = diesel::select(set_config("coffer.audit_batch", listed, true)).execute(&mut &*conn);
    let (_, _, mut locked) = futures::future::try_join3(begin, scope, lock(conn, ids)).await?;
    if locked.len() < ids.len() {
        diesel::sql_query(ENSURE_HEADS)
            .bind::<Array<SqlUuid>, _>(ids)
            .bind::<Bytea, _>(ChainHash::GENESIS.as_bytes().as_slice())
            .execute(&mut &*conn)
            .await?;
        locked = lock(conn, ids).await?;
    }
    Ok(locked
        .into_iter()
        .map(|(tenant, seq, hash)| (tenant, (seq, hash)))
        .collect())
}

/// `SELECT … FOR UPDATE` of the heads in tenant id order.
fn lock<'a>(
    conn: &'a AsyncPgConnection,
    ids: &'a [Uuid],
) -> impl Future<Output = QueryResult<Vec<(Uuid, i64, Vec<u8>)>>> + Send + 'a {
    use audit_chain_heads::dsl as h;
    h::audit_chain_heads
        .filter(h::tenant_id.eq_any(ids))
        .order(h::tenant_id.asc())
        .select((h::tenant_id, h::seq, h::hash))
        .for_update()
        .load(&mut &*conn)
}

/// `INSERT … SELECT FROM unnest(…)` of every row: one array per column,
/// so the text is the same whatever the number of rows and the statement
/// is prepared once per connection (diesel caches it by type).
struct InsertRows<'a>(&'a Columns);

impl QueryId for InsertRows<'_> {
    type QueryId = InsertRows<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for InsertRows<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = self.0;
        out.push_sql(
            "INSERT INTO audit_events (id, tenant_id, actor, action, file_id, detail, \
             request_id, client_addr, at, seq, hash) SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&c.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<SqlUuid>, _>(&c.tenant_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&c.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&c.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.file_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Jsonb>, _>(&c.detail)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.request_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.client_addr)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&c.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&c.seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bytea>, _>(&c.hash)?;
        out.push_sql(")");
        Ok(())
    }
}

/// `UPDATE … FROM unnest(…)` of every head, prepared like [`InsertRows`].
struct MoveHeads<'a>(&'a Heads);

impl QueryId for MoveHeads<'_> {
    type QueryId = MoveHeads<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for MoveHeads<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE audit_chain_heads AS h SET seq = u.seq, hash = u.hash FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.0.tenant)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.0.seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bytea>, _>(&self.0.hash)?;
        out.push_sql(") AS u (tenant_id, seq, hash) WHERE h.tenant_id = u.tenant_id");
        Ok(())
    }
}

/// The batch's audit rows, column by column (one array bind each).
#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    tenant_id: Vec<Uuid>,
    actor: Vec<String>,
    action: Vec<String>,
    file_id: Vec<Option<Uuid>>,
    detail: Vec<serde_json::Value>,
    request_id: Vec<Option<String>>,
    client_addr: Vec<Option<String>>,
    at: Vec<OffsetDateTime>,
    seq: Vec<i64>,
    hash: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, row: AuditRow) {
        self.id.push(row.id);
        self.tenant_id.push(row.tenant_id);
        self.actor.push(row.actor);
        self.action.push(row.action);
        self.file_id.push(row.file_id);
        self.detail.push(row.detail);
        self.request_id.push(row.request_id);
        self.client_addr.push(row.client_addr);
        self.at.push(row.at);
        // Linked rows always carry both.
        self.seq.push(row.seq.unwrap_or_default());
        self.hash.push(row.hash.unwrap_or_default());
    }
}

/// Where each tenant's head moves.
#[derive(Default)]
struct Heads {
    tenant: Vec<Uuid>,
    seq: Vec<i64>,
    hash: Vec<Vec<u8>>,
}

impl Heads {
    fn push(&mut self, tenant: Uuid, seq: i64, hash: ChainHash) {
        self.tenant.push(tenant);
        self.seq.push(seq);
        self.hash.push(hash.as_bytes().to_vec());
    }
}
