//! The platform path across tenants: usage for operators, and the purge of
//! a cancelled tenant (see coffer-postgres' twin).

use std::collections::HashMap;

use coffer_domain::{PageCursor, TenantId, TenantStatus, Usage};
use coffer_ports::{Page, PlatformRecord, TenantUsage};
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::rows::{UsageRow, id, ns};
use crate::schema::{platform_audit, tenant_purges, tenants, usage_counters, users};
use crate::store::SqliteMetadataStore;

impl SqliteMetadataStore {
    pub(crate) async fn tenant_usage_impl(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, SqliteError> {
        let page = self.list_tenants_impl(after, limit).await?;
        let ids: Vec<String> = page.items.iter().map(|t| id(t.id.as_uuid())).collect();
        let (usage, users) = self
            .read(move |conn| {
                let usage: Vec<(String, UsageRow)> = usage_counters::table
                    .filter(usage_counters::tenant_id.eq_any(&ids))
                    .select((usage_counters::tenant_id, UsageRow::as_select()))
                    .load(conn)?;
                let users: Vec<(String, i64)> = users::table
                    .filter(users::tenant_id.eq_any(&ids))
                    .group_by(users::tenant_id)
                    .select((users::tenant_id, diesel::dsl::count_star()))
                    .load(conn)?;
                Ok((usage, users))
            })
            .await?;
        let mut usage: HashMap<String, Usage> = usage
            .into_iter()
            .map(|(tenant, row)| Ok((tenant, Usage::try_from(row)?)))
            .collect::<Result<_, SqliteError>>()?;
        let users: HashMap<String, i64> = users.into_iter().collect();
        let items = page
            .items
            .into_iter()
            .map(|t| {
                let key = id(t.id.as_uuid());
                TenantUsage {
                    usage: usage.remove(&key).unwrap_or_default(),
                    users: users
                        .get(&key)
                        .copied()
                        .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                    tenant: t.id,
                    slug: t.slug,
                    plan: t.plan,
                    status: t.status,
                    created_at: t.created_at,
                }
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub(crate) async fn purge_tenant_impl(
        &self,
        tenant: TenantId,
        record: PlatformRecord,
    ) -> Result<(), SqliteError> {
        let key = id(tenant.as_uuid());
        let at = ns(record.at)?;
        self.write(move |conn| {
            let found: Option<(String, String)> = tenants::table
                .find(&key)
                .select((tenants::slug, tenants::status))
                .get_result(conn)
                .optional()?;
            let (slug, status) = found.ok_or(SqliteError::NotFound("tenant"))?;
            if status != TenantStatus::Cancelled.as_str() {
                return Err(SqliteError::InvalidState(format!(
                    "tenant {slug} is {status}, not cancelled"
                )));
            }
            // Only for a tenant listed here do the audit log's triggers let
            // its records go, with it.
            diesel::insert_into(tenant_purges::table)
                .values(tenant_purges::tenant_id.eq(&key))
                .execute(conn)?;
            diesel::delete(tenants::table.find(&key)).execute(conn)?;
            diesel::delete(tenant_purges::table.find(&key)).execute(conn)?;
            diesel::insert_into(platform_audit::table)
                .values((
                    platform_audit::id.eq(id(&Uuid::now_v7())),
                    platform_audit::tenant_id.eq(&key),
                    platform_audit::tenant_slug.eq(&slug),
                    platform_audit::actor.eq(record.actor.as_str()),
                    platform_audit::action.eq(&record.action),
                    platform_audit::detail.eq(record.detail.to_string()),
                    platform_audit::at.eq(at),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
