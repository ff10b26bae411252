//! The events outbox: polling, claiming for delivery, delivery outcomes.

use async_trait::async_trait;
use coffer_domain::PageCursor;
use coffer_ports::{
    DeliveryOutcome, Event, EventClaim, EventOutbox, Journal, MetadataError, OutboxBacklog, Page,
    TenantScope, fetch_size,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::listing::keyset;
use crate::rows::EventRow;
use crate::schema::outbox;
use crate::store::{PgMetadataStore, Scope, enter_tenant, read_scoped, scoped, transaction};

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
                    .filter(o::published_at.is_null())
                    .filter(o::dead_at.is_null())
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
                q.filter(o::published_at.is_null())
                    .filter(o::dead_at.is_null())
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
