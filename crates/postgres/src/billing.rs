//! Billing events: the id recorded once, with the event's effect, in one
//! transaction on the platform path.

use coffer_ports::{BillingChange, BillingEffect, BillingRecorded, NewBillingEvent};
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

impl PgMetadataStore {
    pub(crate) async fn record_billing_event_impl(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, PgError> {
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
        let result = transaction!(self, |conn| {
            let inserted = platform(
                conn,
                diesel::insert_into(b::table)
                    .values((
                        b::id.eq(&event.id),
                        b::kind.eq(&event.kind),
                        b::tenant_id.eq(tenant_id),
                        b::outcome.eq(&event.outcome),
                        b::detail.eq(&event.detail),
                        b::occurred_at.eq(event.occurred_at),
                        b::received_at.eq(event.received_at),
                    ))
                    .on_conflict_do_nothing()
                    .execute(&mut &*conn),
            )
            .await?;
            if inserted == 0 {
                return Ok(BillingRecorded::Replay);
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
            // instances drop their cached tenant when this commits.
            enter_tenant(conn, *tenant).await?;
            futures::future::try_join(journal.insert(conn), crate::changes::notify(conn, *tenant))
                .await?;
            Ok(BillingRecorded::Recorded(
                changed.map(TryInto::try_into).transpose()?,
            ))
        });
        match result {
            // The tenant is gone (the setting's or the journal's foreign key).
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(PgError::NotFound("tenant"))
            }
            other => other,
        }
    }
}
