//! Per-tenant settings (the tenant's webhook, among others).

use coffer_domain::TenantId;
use coffer_ports::{Journal, TenantScope};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::schema::tenant_settings as s;
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

impl PgMetadataStore {
    pub(crate) async fn get_setting_impl(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, PgError> {
        let tenant = scope.tenant_id();
        read_scoped!(self, Scope::Tenant(tenant), |c| s::table
            .find((tenant.as_uuid(), key))
            .select(s::value)
            .get_result(&mut &*c))
        .map(Some)
        .or_else(|e| match e {
            PgError::Diesel(diesel::result::Error::NotFound) => Ok(None),
            e => Err(e),
        })
    }

    pub(crate) async fn put_setting_impl(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), PgError> {
        let tenant = scope.tenant_id();
        let at = journal.audit.at;
        let rows = &JournalRows::new(tenant, journal);
        let value = &value;
        transaction!(self, |conn| {
            write_setting(conn, tenant, key, value.as_ref(), at).await?;
            rows.insert(conn).await?;
            Ok(())
        })
    }
}

/// Sets (`Some`) or clears (`None`) a setting in the tenant's scope, inside
/// the caller's transaction.
pub(crate) async fn write_setting(
    conn: &AsyncPgConnection,
    tenant: TenantId,
    key: &str,
    value: Option<&serde_json::Value>,
    at: OffsetDateTime,
) -> Result<(), PgError> {
    match value {
        Some(value) => {
            scoped(
                conn,
                tenant,
                diesel::insert_into(s::table)
                    .values((
                        s::tenant_id.eq(tenant.as_uuid()),
                        s::key.eq(key),
                        s::value.eq(value),
                        s::updated_at.eq(at),
                    ))
                    .on_conflict((s::tenant_id, s::key))
                    .do_update()
                    .set((s::value.eq(excluded(s::value)), s::updated_at.eq(at)))
                    .execute(&mut &*conn),
            )
            .await?;
        }
        None => {
            scoped(
                conn,
                tenant,
                diesel::delete(s::table.find((tenant.as_uuid(), key))).execute(&mut &*conn),
            )
            .await?;
        }
    }
    Ok(())
}
