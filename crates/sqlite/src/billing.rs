//! Billing events: the id recorded once, with the event's effect, in one
//! unit of work (see coffer-postgres' twin).

use coffer_ports::{BillingChange, BillingEffect, BillingRecorded, NewBillingEvent};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{id, ns, ns_opt};
use crate::schema::billing_events as b;
use crate::settings::write_setting;
use crate::store::SqliteMetadataStore;
use crate::tenants::{TenantChanges, update_tenant_row};

enum Change {
    Tenant(TenantChanges),
    Setting {
        key: String,
        value: Option<serde_json::Value>,
    },
}

impl SqliteMetadataStore {
    pub(crate) async fn record_billing_event_impl(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, SqliteError> {
        let effect = effect
            .map(|e| {
                let at = ns(e.journal.audit.at)?;
                let change = match e.change {
                    BillingChange::Tenant(patch) => Change::Tenant(TenantChanges::of(patch)?),
                    BillingChange::Setting { key, value } => Change::Setting { key, value },
                };
                Ok::<_, SqliteError>((e.tenant, change, JournalRows::new(e.tenant, e.journal)?, at))
            })
            .transpose()?;
        let occurred_at = ns_opt(event.occurred_at)?;
        let received_at = ns(event.received_at)?;
        let tenant_id = event.tenant.map(|t| id(t.as_uuid()));
        let detail = event.detail.to_string();
        let result = self
            .write(move |conn| {
                let inserted = diesel::insert_into(b::table)
                    .values((
                        b::id.eq(&event.id),
                        b::kind.eq(&event.kind),
                        b::tenant_id.eq(&tenant_id),
                        b::outcome.eq(&event.outcome),
                        b::detail.eq(&detail),
                        b::occurred_at.eq(occurred_at),
                        b::received_at.eq(received_at),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                if inserted == 0 {
                    return Ok(BillingRecorded::Replay);
                }
                let Some((tenant, change, journal, at)) = effect else {
                    return Ok(BillingRecorded::Recorded(None));
                };
                let changed = match change {
                    Change::Tenant(changes) => Some(update_tenant_row(conn, tenant, &changes)?),
                    Change::Setting { key, value } => {
                        write_setting(conn, &id(tenant.as_uuid()), &key, value.as_ref(), at)?;
                        None
                    }
                };
                journal.insert(conn)?;
                Ok(BillingRecorded::Recorded(
                    changed.map(TryInto::try_into).transpose()?,
                ))
            })
            .await;
        match result {
            // The tenant is gone (the setting's or the journal's foreign key).
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(SqliteError::NotFound("tenant"))
            }
            other => other,
        }
    }
}
