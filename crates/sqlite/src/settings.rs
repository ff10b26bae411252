//! Per-tenant settings (the tenant's webhook, among others) and feature
//! flags. One process owns the database, so no other instance needs telling
//! of a change ([`coffer_ports::TenantChanges`] reports nothing).

use async_trait::async_trait;
use coffer_domain::{FeatureFlag, TenantId, TenantSlug};
use coffer_ports::{
    Journal, MetadataError, TenantChange, TenantChanges, TenantScope, TenantSettings,
};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{id, ns, ns_opt, time_opt};
use crate::schema::tenant_features as f;
use crate::schema::tenant_settings as s;
use crate::store::SqliteMetadataStore;

#[async_trait]
impl TenantSettings for SqliteMetadataStore {
    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError> {
        use crate::schema::tenants;
        let key = key.to_owned();
        let rows: Vec<(String, String, String)> = self
            .read(move |conn| {
                Ok(s::table
                    .inner_join(tenants::table.on(tenants::id.eq(s::tenant_id)))
                    .filter(s::key.eq(&key))
                    .select((s::tenant_id, tenants::slug, s::value))
                    .order(s::tenant_id)
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, slug, value)| {
                let corrupt = |e: String| SqliteError::CorruptRow(e);
                let id =
                    uuid::Uuid::parse_str(&id).map_err(|e| corrupt(format!("tenant id: {e}")))?;
                let slug =
                    TenantSlug::new(slug).map_err(|e| corrupt(format!("tenant slug: {e}")))?;
                let value =
                    serde_json::from_str(&value).map_err(|e| corrupt(format!("setting: {e}")))?;
                Ok((TenantId::from_uuid(id), slug, value))
            })
            .collect::<Result<_, SqliteError>>()?)
    }

    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError> {
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
        Ok(raw
            .map(|v| {
                serde_json::from_str(&v)
                    .map_err(|e| SqliteError::CorruptRow(format!("setting: {e}")))
            })
            .transpose()?)
    }

    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let at = ns(journal.audit.at)?;
        let rows = JournalRows::new(scope.tenant_id(), journal)?;
        let key = key.to_owned();
        self.write(move |conn| {
            write_setting(conn, &tenant, &key, value.as_ref(), at)?;
            rows.insert(conn)
        })
        .await
        .map_err(Into::into)
    }

    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let rows: Vec<(String, String)> = self
            .read(move |conn| {
                Ok(s::table
                    .filter(s::tenant_id.eq(&tenant))
                    .order(s::key.asc())
                    .select((s::key, s::value))
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_str(&v)
                    .map(|v| (k, v))
                    .map_err(|e| SqliteError::CorruptRow(format!("setting: {e}")))
            })
            .collect::<Result<_, _>>()?)
    }

    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let key = key.to_owned();
        let row: Option<(String, bool, Option<i64>)> = self
            .read(move |conn| {
                Ok(f::table
                    .filter(f::tenant_id.eq(&tenant))
                    .filter(f::key.eq(&key))
                    .select((f::key, f::enabled, f::expires_at))
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(flag).transpose()?)
    }

    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let rows: Vec<(String, bool, Option<i64>)> = self
            .read(move |conn| {
                Ok(f::table
                    .filter(f::tenant_id.eq(&tenant))
                    .order(f::key.asc())
                    .select((f::key, f::enabled, f::expires_at))
                    .load(conn)?)
            })
            .await?;
        Ok(rows.into_iter().map(flag).collect::<Result<_, _>>()?)
    }

    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let at = ns(journal.audit.at)?;
        let expires_at = ns_opt(value.as_ref().and_then(|f| f.expires_at))?;
        let rows = JournalRows::new(scope.tenant_id(), journal)?;
        let key = key.to_owned();
        self.write(move |conn| {
            match value {
                Some(flag) => {
                    diesel::insert_into(f::table)
                        .values((
                            f::tenant_id.eq(&tenant),
                            f::key.eq(&key),
                            f::enabled.eq(flag.enabled),
                            f::expires_at.eq(expires_at),
                            f::updated_at.eq(at),
                        ))
                        .on_conflict((f::tenant_id, f::key))
                        .do_update()
                        .set((
                            f::enabled.eq(excluded(f::enabled)),
                            f::expires_at.eq(excluded(f::expires_at)),
                            f::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                None => {
                    diesel::delete(
                        f::table
                            .filter(f::tenant_id.eq(&tenant))
                            .filter(f::key.eq(&key)),
                    )
                    .execute(conn)?;
                }
            }
            rows.insert(conn)
        })
        .await
        .map_err(Into::into)
    }
}

fn flag(
    (key, enabled, expires_at): (String, bool, Option<i64>),
) -> Result<FeatureFlag, SqliteError> {
    Ok(FeatureFlag {
        key,
        enabled,
        expires_at: time_opt(expires_at)?,
    })
}

impl TenantChanges for SqliteMetadataStore {
    /// Nothing to hear of: no other process shares the database, and the
    /// service forgets its own changes at once.
    fn subscribe(&self) -> futures::stream::BoxStream<'static, TenantChange> {
        Box::pin(futures::stream::pending())
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
