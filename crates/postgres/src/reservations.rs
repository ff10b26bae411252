//! Upload reservations, batched per tenant. Every reservation locks the
//! tenant's one `usage_counters` row until its commit, so one tenant's
//! concurrent initiates would queue on that lock one commit (one WAL flush)
//! at a time. Those arriving while a batch is written go into the next:
//! one transaction, one lock of the counters, the quota checked entry by
//! entry in order of arrival, and each caller answered after the commit
//! with its own outcome (its file, or why not).

use coffer_domain::{PlanLimits, TenantId, Usage, UsageChange};
use coffer_ports::{KeyedBatcher, TenantScope};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::PgError;
use crate::files::{adjust_usage, live_conflict};
use crate::journal::{JournalRows, insert_journals};
use crate::lanes::{self, together_or_alone};
use crate::rows::{FileRow, UsageRow};
use crate::schema::{files, usage_counters};
use crate::store::{PgMetadataStore, scoped, transaction};

/// One upload to reserve: its pending row, its size against the limits,
/// and the record of it.
pub(crate) struct Reservation {
    pub(crate) row: FileRow,
    pub(crate) size: u64,
    pub(crate) limits: PlanLimits,
    pub(crate) journal: JournalRows,
}

type Outcome = lanes::Outcome<FileRow>;

/// The reservation lanes of a database, one per tenant.
pub(crate) type ReservationBatches = KeyedBatcher<TenantId, Reservation, Outcome>;

impl PgMetadataStore {
    /// Reserves `reservation` together with the tenant's others pending.
    pub(crate) async fn reserve(&self, tenant: TenantId, reservation: Reservation) -> Outcome {
        let store = self.clone();
        lanes::submit(
            &self.reservations,
            tenant,
            reservation,
            "reservation",
            |batch| async move {
                let together = store.reserve_together(tenant, &batch);
                together_or_alone(&batch, together, |one| store.reserve_alone(tenant, one)).await
            },
        )
        .await
    }

    /// One reservation in a transaction of its own.
    async fn reserve_alone(
        &self,
        tenant: TenantId,
        reservation: &Reservation,
    ) -> Result<FileRow, PgError> {
        let scope = TenantScope::new(tenant);
        transaction!(self, |conn| {
            // The counter row is locked for the rest of the transaction:
            // concurrent reservations of the tenant queue here, and each
            // sees the reservations committed before it.
            lock_usage(conn, tenant)
                .await?
                .admits(&reservation.limits, reservation.size)?;
            let inserted = diesel::insert_into(files::table)
                .values(&reservation.row)
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await
                .map_err(|e| live_conflict(e.into(), "this path and filename"))?;
            adjust_usage(
                conn,
                &scope,
                UsageChange::reserve(reservation.row.size_bytes),
            )
            .await?;
            reservation.journal.insert(conn).await?;
            Ok(inserted)
        })
    }

    /// Several reservations of one tenant in one transaction: every row
    /// inserted at once (those whose live path and name are taken are
    /// skipped: a conflict), then the quota walked in order of arrival
    /// over the inserted ones, the refused deleted again, the counters
    /// moved once and every admitted journal written.
    async fn reserve_together(
        &self,
        tenant: TenantId,
        batch: &[Reservation],
    ) -> Result<Vec<Outcome>, PgError> {
        let scope = TenantScope::new(tenant);
        transaction!(self, |conn| {
            let mut usage = lock_usage(conn, tenant).await?;
            let mut inserted: std::collections::HashMap<Uuid, FileRow> =
                diesel::insert_into(files::table)
                    .values(batch.iter().map(|r| &r.row).collect::<Vec<_>>())
                    .on_conflict_do_nothing()
                    .returning(FileRow::as_returning())
                    .get_results(conn)
                    .await?
                    .into_iter()
                    .map(|row| (row.id, row))
                    .collect();
            let mut outcomes = Vec::with_capacity(batch.len());
            let mut refused = Vec::new();
            let mut admitted = Vec::new();
            let mut change = UsageChange::default();
            for reservation in batch {
                let Some(row) = inserted.remove(&reservation.row.id) else {
                    outcomes.push(Err(PgError::Conflict(
                        "a live file already has this path and filename".into(),
                    )
                    .into()));
                    continue;
                };
                match usage.with_reservation(&reservation.limits, reservation.size) {
                    Ok(next) => {
                        usage = next;
                        change += UsageChange::reserve(reservation.row.size_bytes);
                        admitted.push(&reservation.journal);
                        outcomes.push(Ok(row));
                    }
                    Err(violation) => {
                        refused.push(row.id);
                        outcomes.push(Err(PgError::Quota(violation).into()));
                    }
                }
            }
            if !refused.is_empty() {
                // One delete by key each, pipelined: `id = ANY(…)` let the
                // planner walk the tenant's key range when its statistics
                // had not seen the tenant grow (the rows are this
                // transaction's own, so their order takes no lock).
                let conn: &AsyncPgConnection = conn;
                futures::future::try_join_all(
                    refused
                        .iter()
                        .map(|id| diesel::delete(files::table.find(id)).execute(&mut &*conn)),
                )
                .await?;
            }
            if !admitted.is_empty() {
                adjust_usage(conn, &scope, change).await?;
                insert_journals(conn, &admitted).await?;
            }
            Ok(outcomes)
        })
    }
}

/// Begins the tenant's unit of work by locking its usage counters, and
/// returns them.
async fn lock_usage(conn: &mut AsyncPgConnection, tenant: TenantId) -> Result<Usage, PgError> {
    let row = scoped(
        conn,
        tenant,
        usage_counters::table
            .filter(usage_counters::tenant_id.eq(tenant.as_uuid()))
            .select(UsageRow::as_select())
            .for_update()
            .get_result(&mut &*conn),
    )
    .await
    .optional()?
    .ok_or(PgError::NotFound("tenant"))?;
    Usage::try_from(row)
}
