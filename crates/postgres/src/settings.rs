//! Per-tenant settings (the tenant's webhook, among others) and feature
//! flags. Every change notifies other instances (a trigger on each table;
//! [`crate::changes`]).

use async_trait::async_trait;
use coffer_domain::{FeatureFlag, TenantId, TenantSlug};
use coffer_ports::{Journal, MetadataError, TenantScope, TenantSettings};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

use crate::error::{PgError, found};
use crate::journal::JournalRows;
use crate::schema::tenant_features as f;
use crate::schema::tenant_settings as s;
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

#[async_trait]
impl TenantSettings for PgMetadataStore {
    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError> {
        use crate::schema::tenants;
        // The platform path sees the `webhook` rows only (policy
        // platform_reads_webhooks): any other key finds nothing.
        let rows: Vec<(uuid::Uuid, String, serde_json::Value)> =
            read_scoped!(self, Scope::Platform, |c| s::table
                .inner_join(tenants::table.on(tenants::id.eq(s::tenant_id)))
                .filter(s::key.eq(key))
                .select((s::tenant_id, tenants::slug, s::value))
                .order(s::tenant_id)
                .load(&mut &*c))?;
        rows.into_iter()
            .map(|(id, slug, value)| {
                let slug = TenantSlug::new(slug)
                    .map_err(|e| PgError::CorruptRow(format!("tenant slug: {e}")))?;
                Ok((TenantId::from_uuid(id), slug, value))
            })
            .collect()
    }

    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError> {
        let tenant = scope.tenant_id();
        Ok(found(read_scoped!(self, Scope::Tenant(tenant), |c| {
            s::table
                .find((tenant.as_uuid(), key))
                .select(s::value)
                .get_result(&mut &*c)
        }))?)
    }

    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let at = journal.audit.at;
        let rows = &JournalRows::new(tenant, journal);
        let value = &value;
        Ok(transaction!(self, |conn| {
            write_setting(conn, tenant, key, value.as_ref(), at).await?;
            rows.insert(conn).await?;
            Ok(())
        })?)
    }

    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError> {
        let tenant = scope.tenant_id();
        Ok(read_scoped!(self, Scope::Tenant(tenant), |c| s::table
            .filter(s::tenant_id.eq(tenant.as_uuid()))
            .order(s::key.asc())
            .select((s::key, s::value))
            .load(&mut &*c))?)
    }

    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError> {
        let tenant = scope.tenant_id();
        let row: Option<(String, bool, Option<time::OffsetDateTime>)> =
            found(read_scoped!(self, Scope::Tenant(tenant), |c| f::table
                .find((tenant.as_uuid(), key))
                .select((f::key, f::enabled, f::expires_at))
                .get_result(&mut &*c)))?;
        Ok(row.map(flag))
    }

    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError> {
        let tenant = scope.tenant_id();
        let rows: Vec<(String, bool, Option<time::OffsetDateTime>)> =
            read_scoped!(self, Scope::Tenant(tenant), |c| f::table
                .filter(f::tenant_id.eq(tenant.as_uuid()))
                .order(f::key.asc())
                .select((f::key, f::enabled, f::expires_at))
                .load(&mut &*c))?;
        Ok(rows.into_iter().map(flag).collect())
    }

    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let at = journal.audit.at;
        let rows = &JournalRows::new(tenant, journal);
        let value = &value;
        Ok(transaction!(self, |conn| {
            match value {
                Some(flag) => {
                    scoped(
                        conn,
                        tenant,
                        diesel::insert_into(f::table)
                            .values((
                                f::tenant_id.eq(tenant.as_uuid()),
                                f::key.eq(key),
                                f::enabled.eq(flag.enabled),
                                f::expires_at.eq(flag.expires_at),
                                f::updated_at.eq(at),
                            ))
                            .on_conflict((f::tenant_id, f::key))
                            .do_update()
                            .set((
                                f::enabled.eq(excluded(f::enabled)),
                                f::expires_at.eq(excluded(f::expires_at)),
                                f::updated_at.eq(at),
                            ))
                            .execute(&mut &*conn),
                    )
                    .await?;
                }
                None => {
                    scoped(
                        conn,
                        tenant,
                        diesel::delete(f::table.find((tenant.as_uuid(), key))).execute(&mut &*conn),
                    )
                    .await?;
                }
            }
            rows.insert(conn).await?;
            Ok(())
        })?)
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

fn flag((key, enabled, expires_at): (String, bool, Option<time::OffsetDateTime>)) -> FeatureFlag {
    FeatureFlag {
        key,
        enabled,
        expires_at,
    }
}
