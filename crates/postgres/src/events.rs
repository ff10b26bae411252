//! The events outbox: polling, claiming for delivery, delivery outcomes.

use async_trait::async_trait;
use coffer_domain::PageCursor;
use coffer_domain::TenantId;
use coffer_ports::{
    DeliveryOutcome, Event, EventClaim, EventOutbox, Journal, MetadataError, OutboxBacklog, Page,
    Pending, Subscribed, Subscriber, TenantScope, Undelivered, UndeliveredEvents, fetch_size,
};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::listing::keyset;
use crate::rows::EventRow;
use crate::schema::outbox;
use crate::store::{
    PgMetadataStore, Scope, enter_tenant, read_scoped, scoped, set_config, transaction,
};

/// One tenant's answer to [`UNDELIVERED`].
#[derive(QueryableByName)]
struct UndeliveredRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant: Uuid,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    awaiting: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    due: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    dead: bool,
}

/// Of the subscribers (`$1` their ids, `$2` their `since`), those with
/// undelivered events from their `since` on: awaiting, due by `$3` (what
/// [`EventOutbox::claim_events`] would take), dead — for every tenant in
/// one statement. Each probe is an index range of one tenant (on
/// `outbox_awaiting`, or `outbox_dead`), so a tenant with nothing
/// undelivered costs an index descent or two, however many events it had.
const UNDELIVERED: &str = "\
SELECT * FROM (
    SELECT w.tenant AS tenant,
           EXISTS (SELECT 1 FROM outbox o
                   WHERE o.tenant_id = w.tenant AND o.published_at IS NULL AND o.dead_at IS NULL
                     AND o.created_at >= w.since) AS awaiting,
           EXISTS (SELECT 1 FROM outbox o
                   WHERE o.tenant_id = w.tenant AND o.published_at IS NULL AND o.dead_at IS NULL
                     AND o.created_at >= w.since AND o.next_attempt_at <= $3) AS due,
           EXISTS (SELECT 1 FROM outbox o
                   WHERE o.tenant_id = w.tenant AND o.dead_at IS NOT NULL
                     AND o.created_at >= w.since) AS dead
    FROM unnest($1::uuid[], $2::timestamptz[]) AS w (tenant, since)
) AS found
WHERE awaiting OR dead";

/// Events a dispatcher may still deliver: not delivered, dead or passed
/// over (the predicate of the partial indexes `outbox_awaiting` and
/// `outbox_due`, which a query must state to be served by them).
fn pending() -> Box<dyn BoxableExpression<outbox::table, diesel::pg::Pg, SqlType = Bool>> {
    use outbox::dsl as o;
    Box::new(
        o::published_at
            .is_null()
            .and(o::dead_at.is_null())
            .and(o::passed_at.is_null()),
    )
}

/// One tenant's answer to [`PENDING`].
#[derive(QueryableByName)]
struct PendingRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    oldest: Option<OffsetDateTime>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    due: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    dead_lately: bool,
}

/// Every tenant with pending events (not delivered, dead or passed over),
/// its oldest one and whether one is due by `$1`; then every tenant with
/// an event dead-lettered at or after `$2`. The pending tenants are walked
/// as a loose index scan of `outbox_awaiting` (one descent per tenant that
/// has something pending, from the last one found), each probed once on
/// `outbox_due` (a correlated subquery, so that the planner cannot swap
/// the probes for one scan of every tenant's due events); the dead ones
/// are a range of `outbox_dead_lately`. A tenant with nothing pending
/// costs nothing, however many events it had.
const PENDING: &str = "\
WITH RECURSIVE pending (tenant, oldest) AS (
    (SELECT tenant_id, created_at FROM outbox
     WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL
     ORDER BY tenant_id, created_at LIMIT 1)
    UNION ALL
    SELECT next.tenant_id, next.created_at
    FROM pending, LATERAL (
        SELECT tenant_id, created_at FROM outbox
        WHERE published_at IS NULL AND dead_at IS NULL AND passed_at IS NULL
          AND tenant_id > pending.tenant
        ORDER BY tenant_id, created_at LIMIT 1
    ) AS next
)
SELECT p.tenant, p.oldest,
       coalesce((SELECT true FROM outbox o
                 WHERE o.tenant_id = p.tenant AND o.published_at IS NULL AND o.dead_at IS NULL
                   AND o.passed_at IS NULL AND o.next_attempt_at <= $1
                 LIMIT 1), false) AS due,
       false AS dead_lately
FROM pending p
UNION ALL
SELECT DISTINCT tenant_id, NULL::timestamptz, false, true
FROM outbox WHERE dead_at >= $2";

/// `EXPLAIN (ANALYZE, FORMAT JSON)` of exactly the [`PENDING`] question as
/// the adapter asks it (the platform path), for tests that prove it costs
/// nothing for tenants with nothing pending.
#[cfg(feature = "testing")]
pub(crate) async fn explain_pending(
    conn: &mut diesel_async::AsyncPgConnection,
    now: OffsetDateTime,
    dead_since: OffsetDateTime,
) -> Result<String, PgError> {
    use diesel::sql_types::Timestamptz;
    use diesel_async::{AnsiTransactionManager, TransactionManager};
    let query = diesel::sql_query(PENDING)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(dead_since);
    AnsiTransactionManager::begin_transaction(&mut *conn).await?;
    let c: &diesel_async::AsyncPgConnection = conn;
    let explain = crate::listing::Explain("EXPLAIN (ANALYZE, FORMAT JSON) ", query);
    let lines = crate::store::platform(c, explain.load::<String>(&mut &*c)).await;
    AnsiTransactionManager::rollback_transaction(&mut *conn).await?;
    Ok(lines?.join("\n"))
}

/// Over this database's outbox, on the platform path: policy
/// `platform_reads_undelivered` lets it see the rows not delivered, and no
/// others.
#[async_trait]
impl UndeliveredEvents for PgMetadataStore {
    async fn pending_events(
        &self,
        now: OffsetDateTime,
        dead_since: OffsetDateTime,
        _subscribed: std::sync::Arc<dyn Subscribed>,
    ) -> Result<Vec<Pending>, MetadataError> {
        use diesel::sql_types::Timestamptz;
        let query = diesel::sql_query(PENDING)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(dead_since);
        let rows: Vec<PendingRow> = read_scoped!(self, Scope::Platform, |c| query.load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(|row| Pending {
                tenant: TenantId::from_uuid(row.tenant),
                oldest: row.oldest,
                due: row.due,
                dead_lately: row.dead_lately,
            })
            .collect())
    }

    async fn undelivered_events(
        &self,
        now: OffsetDateTime,
        subscribers: &[Subscriber],
    ) -> Result<Vec<Undelivered>, MetadataError> {
        use diesel::sql_types::{Array, Timestamptz};
        if subscribers.is_empty() {
            return Ok(Vec::new());
        }
        let tenants: Vec<Uuid> = subscribers.iter().map(|s| *s.tenant.as_uuid()).collect();
        let since: Vec<OffsetDateTime> = subscribers.iter().map(|s| s.since).collect();
        let query = diesel::sql_query(UNDELIVERED)
            .bind::<Array<diesel::sql_types::Uuid>, _>(tenants)
            .bind::<Array<Timestamptz>, _>(since)
            .bind::<Timestamptz, _>(now);
        // Thousands of cheap probes look costly to the planner, whose JIT
        // compilation then takes longer than the probes (EXPLAIN ANALYZE,
        // 10,000 tenants: 246 ms with it, 84 ms without): off for this
        // transaction, pipelined with the query.
        let rows: Vec<UndeliveredRow> = read_scoped!(self, Scope::Platform, |c| async move {
            let no_jit = diesel::select(set_config("jit", "off", true)).execute(&mut &*c);
            let (_, rows) = futures::future::try_join(no_jit, query.load(&mut &*c)).await?;
            Ok(rows)
        })?;
        Ok(rows
            .into_iter()
            .map(|row| Undelivered {
                tenant: TenantId::from_uuid(row.tenant),
                awaiting: row.awaiting,
                due: row.due,
                dead: row.dead,
            })
            .collect())
    }
}

#[async_trait]
impl EventOutbox for PgMetadataStore {
    async fn record_journal(
        &self,
        scope: &TenantScope,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let rows = &JournalRows::new(tenant, journal);
        transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            rows.insert(conn).await?;
            Ok::<_, PgError>(())
        })?;
        Ok(())
    }

    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        let tenant = scope.tenant_id();
        let mut q = outbox::table
            .select(EventRow::as_select())
            .filter(outbox::tenant_id.eq(tenant.as_uuid()))
            .filter(outbox::created_at.lt(settled_before))
            .order((outbox::created_at.asc(), outbox::id.asc()))
            .limit(i64::from(fetch_size(limit)))
            .into_boxed();
        if let Some(c) = after {
            q = q.filter(keyset("outbox.created_at, outbox.id", ">", c));
        }
        let rows: Vec<EventRow> = read_scoped!(self, Scope::Tenant(tenant), |c| q.load(&mut &*c))?;
        Ok(Page::try_from_overfetch(rows, limit, Event::page_cursor)?)
    }

    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        use outbox::dsl as o;
        let tenant = scope.tenant_id();
        let rows: Vec<EventRow> = transaction!(self, |conn| {
            // SKIP LOCKED: a concurrent dispatcher's claim in flight is
            // passed over, not waited for; the lease then keeps it off
            // every other dispatcher's claims until it is due again.
            let due: Vec<Uuid> = scoped(
                conn,
                tenant,
                o::outbox
                    .select(o::id)
                    .filter(o::tenant_id.eq(tenant.as_uuid()))
                    .filter(pending())
                    .filter(o::next_attempt_at.le(claim.now))
                    .filter(o::created_at.ge(claim.since))
                    .order((o::created_at.asc(), o::id.asc()))
                    .limit(i64::from(claim.limit.max(1)))
                    .for_update()
                    .skip_locked()
                    .load(&mut &*conn),
            )
            .await?;
            if due.is_empty() {
                return Ok(Vec::new());
            }
            Ok(diesel::update(o::outbox.filter(o::id.eq_any(&due)))
                .set(o::next_attempt_at.eq(claim.now + claim.lease))
                .returning(EventRow::as_returning())
                .get_results(conn)
                .await?)
        })?;
        let mut events = rows
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<Vec<_>, PgError>>()?;
        events.sort_by_key(|e| (e.created_at, e.id));
        Ok(events)
    }

    async fn backlog(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> Result<OutboxBacklog, MetadataError> {
        use outbox::dsl as o;
        let tenant = scope.tenant_id();
        let count = |dead: bool| {
            let q = o::outbox
                .filter(o::tenant_id.eq(*tenant.as_uuid()))
                .filter(o::created_at.ge(since))
                .count()
                .into_boxed();
            if dead {
                q.filter(o::dead_at.is_not_null())
            } else {
                q.filter(pending())
            }
        };
        let (awaiting, dead) = (count(false), count(true));
        let (awaiting, dead): (i64, i64) = read_scoped!(self, Scope::Tenant(tenant), |c| {
            futures::future::try_join(
                awaiting.get_result::<i64>(&mut &*c),
                dead.get_result::<i64>(&mut &*c),
            )
        })?;
        Ok(OutboxBacklog {
            awaiting: u64::try_from(awaiting).unwrap_or(0),
            dead: u64::try_from(dead).unwrap_or(0),
        })
    }

    async fn pass_over(
        &self,
        scope: &TenantScope,
        before: OffsetDateTime,
    ) -> Result<u64, MetadataError> {
        use outbox::dsl as o;
        let tenant = scope.tenant_id();
        let passed = transaction!(self, |conn| {
            let update = diesel::update(
                o::outbox
                    .filter(o::tenant_id.eq(tenant.as_uuid()))
                    .filter(pending())
                    .filter(o::created_at.lt(before)),
            )
            .set(o::passed_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("now()")));
            Ok::<_, PgError>(scoped(conn, tenant, update.execute(&mut &*conn)).await?)
        })?;
        Ok(u64::try_from(passed).unwrap_or(0))
    }

    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError> {
        use outbox::dsl as o;
        let tenant = scope.tenant_id();
        let target = o::outbox.find(event);
        let outcome = &outcome;
        let updated = transaction!(self, |conn| {
            let update = diesel::update(target);
            Ok(match outcome {
                DeliveryOutcome::Delivered { at } => {
                    let set = update.set((
                        o::published_at.eq(Some(*at)),
                        o::attempts.eq(o::attempts + 1),
                    ));
                    scoped(conn, tenant, set.execute(&mut &*conn)).await?
                }
                DeliveryOutcome::Retry { error, retry_at } => {
                    let set = update.set((
                        o::attempts.eq(o::attempts + 1),
                        o::last_error.eq(Some(error.as_str())),
                        o::next_attempt_at.eq(*retry_at),
                    ));
                    scoped(conn, tenant, set.execute(&mut &*conn)).await?
                }
                DeliveryOutcome::Dead { error, at } => {
                    let set = update.set((
                        o::attempts.eq(o::attempts + 1),
                        o::last_error.eq(Some(error.as_str())),
                        o::dead_at.eq(Some(*at)),
                    ));
                    scoped(conn, tenant, set.execute(&mut &*conn)).await?
                }
            })
        })?;
        if updated == 0 {
            return Err(PgError::NotFound("event").into());
        }
        Ok(())
    }
}
