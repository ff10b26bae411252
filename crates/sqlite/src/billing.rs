//! Billing events: the id recorded once, with the event's effect, in one
//! unit of work (see coffer-postgres' twin).

use async_trait::async_trait;
use coffer_ports::{
    BillingChange, BillingEffect, BillingLedger, BillingRecorded, MetadataError, NewBillingEvent,
};
use diesel::dsl::exists;
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

#[async_trait]
impl BillingLedger for SqliteMetadataStore {
    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError> {
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
                // One writer at a time: nothing can slip in between the
                // check and the insert.
                let superseded = match (&tenant_id, &event.stream, occurred_at) {
                    (Some(tenant), Some(stream), Some(at)) => diesel::select(exists(
                        b::table
                            .filter(b::tenant_id.eq(tenant))
                            .filter(b::stream.eq(stream))
                            .filter(b::outcome.eq_any(["applied", "unchanged"]))
                            .filter(b::occurred_at.gt(at)),
                    ))
                    .get_result::<bool>(conn)?,
                    _ => false,
                };
                let (outcome, detail) = if superseded {
                    ("ignored", event.superseded_detail().to_string())
                } else {
                    (event.outcome.as_str(), detail)
                };
                let inserted = diesel::insert_into(b::table)
                    .values((
                        b::id.eq(&event.id),
                        b::kind.eq(&event.kind),
                        b::tenant_id.eq(&tenant_id),
                        b::outcome.eq(outcome),
                        b::detail.eq(&detail),
                        b::occurred_at.eq(occurred_at),
                        b::received_at.eq(received_at),
                        b::stream.eq(&event.stream),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
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
                Err(SqliteError::NotFound("tenant").into())
            }
            other => Ok(other?),
        }
    }
}
