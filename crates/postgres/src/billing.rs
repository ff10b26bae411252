//! Billing events: the id recorded once, with the event's effect, in one
//! transaction on the platform path.

use async_trait::async_trait;
use coffer_ports::{
    BillingChange, BillingEffect, BillingLedger, BillingRecorded, MetadataError, NewBillingEvent,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use diesel::result::DatabaseErrorKind;

use crate::error::{PgError, db_kind};
use crate::journal::JournalRows;
use crate::schema::billing_events as b;
use crate::settings::write_setting;
use crate::store::{PgMetadataStore, enter_tenant, platform, transaction};
use crate::tenants::{TenantChanges, update_tenant_row};

enum Change {
    Tenant(TenantChanges),
    Setting {
        key: String,
        value: Option<serde_json::Value>,
    },
}

#[async_trait]
impl BillingLedger for PgMetadataStore {
    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError> {
        let effect = effect
            .map(|e| {
                let at = e.journal.audit.at;
                let change = match e.change {
                    BillingChange::Tenant(patch) => Change::Tenant(TenantChanges::of(patch)?),
                    BillingChange::Setting { key, value } => Change::Setting { key, value },
                };
                Ok::<_, PgError>((e.tenant, change, JournalRows::new(e.tenant, e.journal), at))
            })
            .transpose()?;
        let effect = &effect;
        let event = &event;
        let tenant_id = event.tenant.map(|t| *t.as_uuid());
        let ordered = ordering(event);
        let result = transaction!(self, |conn| {
            let superseded = platform(conn, async {
                match &ordered {
                    Some(series) => series.superseded(conn).await,
                    None => Ok(false),
                }
            })
            .await?;
            let (outcome, detail) = if superseded {
                ("ignored", event.superseded_detail())
            } else {
                (event.outcome.as_str(), event.detail.clone())
            };
            let inserted = diesel::insert_into(b::table)
                .values((
                    b::id.eq(&event.id),
                    b::kind.eq(&event.kind),
                    b::tenant_id.eq(tenant_id),
                    b::outcome.eq(outcome),
                    b::detail.eq(&detail),
                    b::occurred_at.eq(event.occurred_at),
                    b::received_at.eq(event.received_at),
                    b::stream.eq(&event.stream),
                ))
                .on_conflict_do_nothing()
                .execute(&mut &*conn)
                .await?;
            if inserted == 0 {
                return Ok(BillingRecorded::Replay);
            }
            if superseded {
                return Ok(BillingRecorded::Superseded);
            }
            let Some((tenant, change, journal, at)) = effect else {
                return Ok(BillingRecorded::Recorded(None));
            };
            let changed = match change {
                Change::Tenant(changes) => Some(update_tenant_row(conn, *tenant, changes).await?),
                Change::Setting { key, value } => {
                    write_setting(conn, *tenant, key, value.as_ref(), *at).await?;
                    None
                }
            };
            // The record belongs to the tenant: written in its scope. Other
            // instances drop their cached tenant when this commits (the
            // changed row's trigger notifies them; crate::changes).
            enter_tenant(conn, *tenant).await?;
            journal.insert(conn).await?;
            Ok(BillingRecorded::Recorded(
                changed.map(TryInto::try_into).transpose()?,
            ))
        });
        match result {
            // The tenant is gone (the setting's or the journal's foreign key).
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(PgError::NotFound("tenant").into())
            }
            other => Ok(other?),
        }
    }
}

/// The series an event is ordered in: its tenant, stream and time.
struct Series<'a> {
    tenant: uuid::Uuid,
    stream: &'a str,
    occurred_at: time::OffsetDateTime,
}

fn ordering(event: &NewBillingEvent) -> Option<Series<'_>> {
    Some(Series {
        tenant: *event.tenant?.as_uuid(),
        stream: event.stream.as_deref()?,
        occurred_at: event.occurred_at?,
    })
}

impl Series<'_> {
    /// Whether an event of this series that occurred later was acted on.
    /// Deliveries for one tenant take turns on a transaction-scoped
    /// advisory lock first, so two racing events cannot both see the
    /// other as absent.
    fn superseded<'c>(
        &'c self,
        conn: &'c diesel_async::AsyncPgConnection,
    ) -> impl std::future::Future<Output = diesel::QueryResult<bool>> + Send + 'c {
        use diesel::dsl::exists;
        async move {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(format!("coffer:billing:{}", self.tenant))
                .execute(&mut &*conn)
                .await?;
            diesel::select(exists(
                b::table
                    .filter(b::tenant_id.eq(self.tenant))
                    .filter(b::stream.eq(self.stream))
                    .filter(b::outcome.eq_any(["applied", "unchanged"]))
                    .filter(b::occurred_at.gt(self.occurred_at)),
            ))
            .get_result(&mut &*conn)
            .await
        }
    }
}
