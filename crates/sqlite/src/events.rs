//! The events outbox: polling, claiming for delivery, delivery outcomes.
//! SQLite has one writer at a time (`BEGIN IMMEDIATE`), so a claim needs no
//! row locks: the lease alone keeps a second dispatcher off.

use async_trait::async_trait;
use coffer_domain::PageCursor;
use coffer_ports::{
    DeliveryOutcome, Event, EventClaim, EventOutbox, Journal, MetadataError, OutboxBacklog, Page,
    Subscriber, TenantScope, Undelivered, UndeliveredEvents, fetch_size,
};
use diesel::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{EventRow, id, ns};
use crate::schema::outbox::dsl as o;
use crate::store::SqliteMetadataStore;

/// SQLite runs in the process, so there is no round trip to save: one
/// read transaction asks each subscriber in turn, each an index range of
/// its own (on `outbox_awaiting`, then `outbox_dead`).
#[async_trait]
impl UndeliveredEvents for SqliteMetadataStore {
    async fn undelivered_events(
        &self,
        now: OffsetDateTime,
        subscribers: &[Subscriber],
    ) -> Result<Vec<Undelivered>, MetadataError> {
        let now = ns(now)?;
        let asked = subscribers
            .iter()
            .map(|s| Ok::<_, SqliteError>((s.tenant, id(s.tenant.as_uuid()), ns(s.since)?)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .read(move |conn| {
                let mut found = Vec::new();
                for (tenant, key, since) in asked {
                    let of_tenant = || {
                        o::outbox
                            .filter(o::tenant_id.eq(key.clone()))
                            .filter(o::created_at.ge(since))
                            .filter(o::published_at.is_null())
                    };
                    // The earliest attempt among those awaiting, if any.
                    let next: Option<i64> = of_tenant()
                        .filter(o::dead_at.is_null())
                        .select(diesel::dsl::min(o::next_attempt_at))
                        .get_result(conn)?;
                    let dead: bool = diesel::select(diesel::dsl::exists(
                        of_tenant().filter(o::dead_at.is_not_null()),
                    ))
                    .get_result(conn)?;
                    if next.is_some() || dead {
                        found.push(Undelivered {
                            tenant,
                            awaiting: next.is_some(),
                            due: next.is_some_and(|next| next <= now),
                            dead,
                        });
                    }
                }
                Ok(found)
            })
            .await?)
    }
}

#[async_trait]
impl EventOutbox for SqliteMetadataStore {
    async fn record_journal(
        &self,
        scope: &TenantScope,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let rows = JournalRows::new(scope.tenant_id(), journal)?;
        self.write(move |conn| rows.insert(conn)).await?;
        Ok(())
    }

    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let before = ns(settled_before)?;
        let after = after
            .map(|c| Ok::<_, SqliteError>((ns(c.created_at)?, id(&c.id))))
            .transpose()?;
        let rows = self
            .read(move |conn| {
                let mut q = o::outbox
                    .select(EventRow::as_select())
                    .filter(o::tenant_id.eq(&tenant))
                    .filter(o::created_at.lt(before))
                    .order((o::created_at.asc(), o::id.asc()))
                    .limit(i64::from(fetch_size(limit)))
                    .into_boxed();
                if let Some((at, last)) = after {
                    q = q.filter(
                        o::created_at
                            .gt(at)
                            .or(o::created_at.eq(at).and(o::id.gt(last))),
                    );
                }
                Ok(q.load(conn)?)
            })
            .await?;
        Ok(Page::try_from_overfetch(rows, limit, Event::page_cursor)?)
    }

    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let (now, since) = (ns(claim.now)?, ns(claim.since)?);
        let until = ns(claim.now + claim.lease)?;
        let limit = i64::from(claim.limit.max(1));
        let rows = self
            .write(move |conn| {
                let due: Vec<String> = o::outbox
                    .select(o::id)
                    .filter(o::tenant_id.eq(&tenant))
                    .filter(o::published_at.is_null())
                    .filter(o::dead_at.is_null())
                    .filter(o::next_attempt_at.le(now))
                    .filter(o::created_at.ge(since))
                    .order((o::created_at.asc(), o::id.asc()))
                    .limit(limit)
                    .load(conn)?;
                diesel::update(o::outbox.filter(o::id.eq_any(&due)))
                    .set(o::next_attempt_at.eq(until))
                    .execute(conn)?;
                Ok(o::outbox
                    .select(EventRow::as_select())
                    .filter(o::id.eq_any(&due))
                    .order((o::created_at.asc(), o::id.asc()))
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn backlog(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> Result<OutboxBacklog, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let since = ns(since)?;
        let (awaiting, dead): (i64, i64) = self
            .read(move |conn| {
                let of_tenant = || {
                    o::outbox
                        .filter(o::tenant_id.eq(tenant.clone()))
                        .filter(o::created_at.ge(since))
                };
                let awaiting = of_tenant()
                    .filter(o::published_at.is_null())
                    .filter(o::dead_at.is_null())
                    .count()
                    .get_result(conn)?;
                let dead = of_tenant()
                    .filter(o::dead_at.is_not_null())
                    .count()
                    .get_result(conn)?;
                Ok((awaiting, dead))
            })
            .await?;
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
        let tenant = id(scope.tenant_id().as_uuid());
        let event = id(&event);
        let updated = self
            .write(move |conn| {
                let target = o::outbox
                    .filter(o::tenant_id.eq(&tenant))
                    .filter(o::id.eq(&event));
                let attempts = o::attempts.eq(o::attempts + 1);
                Ok(match outcome {
                    DeliveryOutcome::Delivered { at } => diesel::update(target)
                        .set((o::published_at.eq(Some(ns(at)?)), attempts))
                        .execute(conn)?,
                    DeliveryOutcome::Retry { error, retry_at } => diesel::update(target)
                        .set((
                            attempts,
                            o::last_error.eq(Some(error)),
                            o::next_attempt_at.eq(ns(retry_at)?),
                        ))
                        .execute(conn)?,
                    DeliveryOutcome::Dead { error, at } => diesel::update(target)
                        .set((
                            attempts,
                            o::last_error.eq(Some(error)),
                            o::dead_at.eq(Some(ns(at)?)),
                        ))
                        .execute(conn)?,
                })
            })
            .await?;
        if updated == 0 {
            return Err(SqliteError::NotFound("event").into());
        }
        Ok(())
    }
}
