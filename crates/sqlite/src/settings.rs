//! Per-tenant settings (the tenant's webhook, among others).

use coffer_ports::{Journal, TenantScope};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{id, ns};
use crate::schema::tenant_settings as s;
use crate::store::SqliteMetadataStore;

impl SqliteMetadataStore {
    pub(crate) async fn get_setting_impl(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, SqliteError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let key = key.to_owned();
        let raw: Option<String> = self
            .read(move |conn| {
                Ok(s::table
                    .filter(s::tenant_id.eq(&tenant))
                    .filter(s::key.eq(&key))
                    .select(s::value)
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        raw.map(|v| {
            serde_json::from_str(&v).map_err(|e| SqliteError::CorruptRow(format!("setting: {e}")))
        })
        .transpose()
    }

    pub(crate) async fn put_setting_impl(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), SqliteError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let at = ns(journal.audit.at)?;
        let rows = JournalRows::new(scope.tenant_id(), journal)?;
        let key = key.to_owned();
        self.write(move |conn| {
            write_setting(conn, &tenant, &key, value.as_ref(), at)?;
            rows.insert(conn)
        })
        .await
    }
}

/// Sets (`Some`) or clears (`None`) a setting of `tenant` (its stored id),
/// inside the caller's unit of work.
pub(crate) fn write_setting(
    conn: &mut SqliteConnection,
    tenant: &str,
    key: &str,
    value: Option<&serde_json::Value>,
    at: i64,
) -> Result<(), SqliteError> {
    match value {
        Some(value) => {
            diesel::insert_into(s::table)
                .values((
                    s::tenant_id.eq(tenant),
                    s::key.eq(key),
                    s::value.eq(value.to_string()),
                    s::updated_at.eq(at),
                ))
                .on_conflict((s::tenant_id, s::key))
                .do_update()
                .set((s::value.eq(excluded(s::value)), s::updated_at.eq(at)))
                .execute(conn)?;
        }
        None => {
            diesel::delete(
                s::table
                    .filter(s::tenant_id.eq(tenant))
                    .filter(s::key.eq(key)),
            )
            .execute(conn)?;
        }
    }
    Ok(())
}
