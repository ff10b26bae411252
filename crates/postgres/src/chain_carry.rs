//! Carrying a tenant's audit chain and events when it moves from a home
//! of its own (docs/tenants-placement.md): entries are immutable and carry
//! their own `seq` and `hash`, so the target is always a prefix of the
//! source's chain, and a carry copies only what lies after the target's
//! head. At the switch the source's head is sealed (migration
//! `2026-12-08-000001_moves_from_homes`), so the last carry is the whole chain.

use coffer_domain::TenantId;
use coffer_ports::ChainCarried;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use crate::error::PgError;
use crate::journal::lock_head;
use crate::moves::{Counted, PAGE, Table};
use crate::store::{PgMetadataStore, Scope, enter_tenant, read_scoped, transaction};

const AUDIT: Table = Table {
    name: "audit_events",
    order: "seq",
    after: "seq > ($2::json->>'seq')::bigint",
};

const OUTBOX: Table = Table {
    name: "outbox",
    order: "id",
    after: "($2::json->>'id') IS NULL OR id > ($2::json->>'id')::uuid",
};

/// Entries compared per query when a carry is checked.
const CHECKED: i64 = 5_000;

#[derive(diesel::QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

impl PgMetadataStore {
    /// Seal `tenant`'s chain here: from now on no entry is linked after
    /// its head. Appends that hold the head's lock finish first.
    pub(crate) async fn seal_chain(&self, tenant: TenantId) -> Result<(), PgError> {
        transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            lock_head(conn, tenant).await?;
            diesel::sql_query(
                "UPDATE audit_chain_heads SET sealed_at = coalesce(sealed_at, now()) WHERE tenant_id = $1",
            )
            .bind::<SqlUuid, _>(*tenant.as_uuid())
            .execute(&mut &*conn)
            .await?;
            Ok(())
        })
    }

    pub(crate) async fn unseal_chain(&self, tenant: TenantId) -> Result<(), PgError> {
        transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            diesel::sql_query("UPDATE audit_chain_heads SET sealed_at = NULL WHERE tenant_id = $1")
                .bind::<SqlUuid, _>(*tenant.as_uuid())
                .execute(&mut &*conn)
                .await?;
            Ok(())
        })
    }

    /// The place of `tenant`'s last entry here (0 for none).
    async fn head_seq(&self, tenant: TenantId) -> Result<i64, PgError> {
        let heads: Vec<Head> = read_scoped!(self, Scope::Tenant(tenant), |c| {
            diesel::sql_query("SELECT seq FROM audit_chain_heads WHERE tenant_id = $1")
                .bind::<SqlUuid, _>(*tenant.as_uuid())
                .get_results::<Head>(&mut &*c)
        })?;
        Ok(heads.into_iter().next().map_or(0, |h| h.seq))
    }

    /// `tenant`'s entries here with `from <= seq <= to`, counted and
    /// digested (timestamps in UTC whatever the server's zone).
    async fn chain_digest(&self, tenant: TenantId, from: i64, to: i64) -> Result<Counted, PgError> {
        transaction!(self, |conn| {
            let (_, _, counted) = futures::future::try_join3(
                enter_tenant(conn, tenant),
                (&*conn).batch_execute("SET LOCAL TimeZone = 'UTC'"),
                diesel::sql_query(
                    "SELECT count(*)::bigint AS rows, \
                     coalesce(md5(string_agg(to_jsonb(t)::text, '|' ORDER BY seq)), '') AS digest \
                     FROM audit_events t WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3",
                )
                .bind::<SqlUuid, _>(*tenant.as_uuid())
                .bind::<BigInt, _>(from)
                .bind::<BigInt, _>(to)
                .get_result::<Counted>(&mut &*conn),
            )
            .await?;
            Ok(counted)
        })
    }

    /// Write one page of `source`'s entries after the target's head, and
    /// move the head to its last one, in one transaction.
    async fn append_carried(
        &self,
        tenant: TenantId,
        page: &[serde_json::Value],
    ) -> Result<(), PgError> {
        let Some(last) = page.last() else {
            return Ok(());
        };
        let seq = last.get("seq").and_then(serde_json::Value::as_i64);
        let hash = last.get("hash").and_then(serde_json::Value::as_str);
        let (Some(seq), Some(hash)) = (seq, hash) else {
            return Err(PgError::CorruptRow(
                "a carried audit entry has no seq or hash".into(),
            ));
        };
        let rows = serde_json::Value::Array(page.to_vec()).to_string();
        transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            // The head first: the entries reference it. `hash` arrives
            // as PostgreSQL's hex text of the bytea.
            diesel::sql_query(
                "INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, $2, $3::text::bytea) \
                 ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash \
                 WHERE audit_chain_heads.seq < EXCLUDED.seq",
            )
            .bind::<SqlUuid, _>(*tenant.as_uuid())
            .bind::<BigInt, _>(seq)
            .bind::<Text, _>(hash)
            .execute(&mut &*conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO audit_events SELECT * FROM json_populate_recordset(NULL::audit_events, $1::json) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind::<Text, _>(&rows)
            .execute(&mut &*conn)
            .await?;
            Ok(())
        })
    }

    /// Upsert one page of events, their delivery state as given.
    async fn put_events(
        &self,
        tenant: TenantId,
        page: &[serde_json::Value],
    ) -> Result<(), PgError> {
        let rows = serde_json::Value::Array(page.to_vec()).to_string();
        transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            diesel::sql_query(
                "INSERT INTO outbox SELECT * FROM json_populate_recordset(NULL::outbox, $1::json) \
                 ON CONFLICT (id) DO UPDATE SET published_at = EXCLUDED.published_at, \
                 attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at, \
                 last_error = EXCLUDED.last_error, dead_at = EXCLUDED.dead_at, \
                 passed_at = EXCLUDED.passed_at",
            )
            .bind::<Text, _>(&rows)
            .execute(&mut &*conn)
            .await?;
            Ok(())
        })
    }
}

/// Carry `tenant`'s chain and events from `source` to `target` (see
/// [`coffer_ports::TenantRowCopier::carry_chain`]).
pub(crate) async fn carry(
    source: &PgMetadataStore,
    target: &PgMetadataStore,
    tenant: TenantId,
    seal: bool,
) -> Result<ChainCarried, PgError> {
    if seal {
        source.seal_chain(tenant).await?;
    }
    let mut copied = 0_u64;
    let mut after = serde_json::json!({ "seq": target.head_seq(tenant).await? });
    loop {
        let page = source.export_page(tenant, &AUDIT, &after).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        target.append_carried(tenant, &page).await?;
        copied += page.len() as u64;
        if page.len() < PAGE {
            break;
        }
        after = last;
    }
    let mut after = serde_json::json!({});
    loop {
        let page = source.export_page(tenant, &OUTBOX, &after).await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        target.put_events(tenant, &page).await?;
        if page.len() < PAGE {
            break;
        }
        after = last;
    }
    let seq = target.head_seq(tenant).await?;
    check(source, target, tenant, seq).await?;
    Ok(ChainCarried {
        seq: u64::try_from(seq).map_err(|_| PgError::OutOfRange("seq"))?,
        copied,
    })
}

/// The target's entries up to `seq` are the source's, chunk by chunk.
async fn check(
    source: &PgMetadataStore,
    target: &PgMetadataStore,
    tenant: TenantId,
    seq: i64,
) -> Result<(), PgError> {
    let mut from = 1;
    while from <= seq {
        let to = (from + CHECKED - 1).min(seq);
        let (a, b) = futures::future::try_join(
            source.chain_digest(tenant, from, to),
            target.chain_digest(tenant, from, to),
        )
        .await?;
        if a.rows != b.rows || a.digest != b.digest || b.rows != to - from + 1 {
            return Err(PgError::InvalidState(format!(
                "the carried audit entries {from}..={to} differ from the source's ({} there, {} carried)",
                a.rows, b.rows
            )));
        }
        from = to + 1;
    }
    Ok(())
}
