//! The events outbox: polling, claiming for delivery, delivery outcomes.
//! SQLite has one writer at a time (`BEGIN IMMEDIATE`), so a claim needs no
//! row locks: the lease alone keeps a second dispatcher off.

use async_trait::async_trait;
use coffer_domain::PageCursor;
use coffer_ports::{
    DeliveryOutcome, Event, EventClaim, EventOutbox, Journal, MetadataError, OutboxBacklog, Page,
    Pending, Subscribed, Subscriber, TenantScope, Undelivered, UndeliveredEvents, fetch_size,
};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{EventRow, id, ns, time_of, uuid_of};
use crate::schema::outbox::dsl as o;
use crate::store::SqliteMetadataStore;

/// Events a dispatcher may still deliver: not delivered, dead or passed
/// over (the predicate of the partial indexes `outbox_awaiting` and
/// `outbox_due`).
fn pending()
-> Box<dyn BoxableExpression<crate::schema::outbox::table, diesel::sqlite::Sqlite, SqlType = Bool>>
{
    Box::new(
        o::published_at
            .is_null()
            .and(o::dead_at.is_null())
            .and(o::passed_at.is_null()),
    )
}

/// SQLite runs in the process, so there is no round trip to save: one
/// read transaction asks each subscriber in turn, each an index range of
/// its own (on `outbox_awaiting`, then `outbox_dead`).
#[async_trait]
impl UndeliveredEvents for SqliteMetadataStore {
    /// The pending tenants one after the other, each the first entry of
    /// `outbox_awaiting` past the last one found (a loose index scan), its
    /// due probe on `outbox_due`; the dead ones a range of
    /// `outbox_dead_lately`.
    async fn pending_events(
        &self,
        now: OffsetDateTime,
        dead_since: OffsetDateTime,
        _subscribed: std::sync::Arc<dyn Subscribed>,
    ) -> Result<Vec<Pending>, MetadataError> {
        let (now, dead_since) = (ns(now)?, ns(dead_since)?);
        let rows = self
            .read(move |conn| {
                let pending = || o::outbox.filter(pending());
                let mut found = Vec::new();
                let mut last: Option<String> = None;
                loop {
                    let mut next = pending()
                        .select((o::tenant_id, o::created_at))
                        .order((o::tenant_id.asc(), o::created_at.asc()))
                        .limit(1)
                        .into_boxed();
                    if let Some(last) = last {
                        next = next.filter(o::tenant_id.gt(last));
                    }
                    let Some((tenant, oldest)) = next.first::<(String, i64)>(conn).optional()?
                    else {
                        break;
                    };
                    let due: bool = diesel::select(diesel::dsl::exists(
                        pending()
                            .filter(o::tenant_id.eq(tenant.clone()))
                            .filter(o::next_attempt_at.le(now)),
                    ))
                    .get_result(conn)?;
                    found.push((tenant.clone(), Some(oldest), due, false));
                    last = Some(tenant);
                }
                let dead: Vec<String> = o::outbox
                    .select(o::tenant_id)
                    .filter(o::dead_at.ge(dead_since))
                    .distinct()
                    .load(conn)?;
                found.extend(dead.into_iter().map(|t| (t, None, false, true)));
                Ok(found)
            })
            .await?;
        rows.into_iter()
            .map(|(tenant, oldest, due, dead_lately)| {
                Ok(Pending {
                    tenant: coffer_domain::TenantId::from_uuid(uuid_of(&tenant, "outbox tenant")?),
                    oldest: oldest.map(time_of).transpose()?,
                    due,
                    dead_lately,
                })
            })
            .collect::<Result<_, SqliteError>>()
            .map_err(Into::into)
    }

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
                    .filter(pending())
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
                let awaiting = of_tenant().filter(pending()).count().get_result(conn)?;
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

    async fn pass_over(
        &self,
        scope: &TenantScope,
        before: OffsetDateTime,
    ) -> Result<u64, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let (before, now) = (ns(before)?, ns(OffsetDateTime::now_utc())?);
        let passed = self
            .write(move |conn| {
                Ok(diesel::update(
                    o::outbox
                        .filter(o::tenant_id.eq(&tenant))
                        .filter(pending())
                        .filter(o::created_at.lt(before)),
                )
                .set(o::passed_at.eq(Some(now)))
                .execute(conn)?)
            })
            .await?;
        Ok(u64::try_from(passed).unwrap_or(0))
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
