//! The platform path across tenants: usage for operators (the only read
//! across tenants, allowed by the `platform_reads` policies on
//! `usage_counters` and `users`) and the purge of a cancelled tenant.

use std::collections::HashMap;

use coffer_domain::{PageCursor, TenantId, TenantStatus, Usage};
use coffer_ports::{Page, PlatformRecord, TenantUsage};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::PgError;
use crate::rows::UsageRow;
use crate::schema::{platform_audit, tenants, usage_counters, users};
use crate::store::{PgMetadataStore, Scope, platform, read_scoped, transaction};

/// A tenant and how many users it has.
type UserCount = (Uuid, i64);

impl PgMetadataStore {
    pub(crate) async fn tenant_usage_impl(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, PgError> {
        let page = self.list_tenants_impl(after, limit).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|t| *t.id.as_uuid()).collect();
        let ids = &ids;
        let (usage, users): (Vec<(Uuid, UsageRow)>, Vec<UserCount>) =
            read_scoped!(self, Scope::Platform, |c| futures::future::try_join(
                usage_counters::table
                    .filter(usage_counters::tenant_id.eq_any(ids))
                    .select((usage_counters::tenant_id, UsageRow::as_select()))
                    .load(&mut &*c),
                users::table
                    .filter(users::tenant_id.eq_any(ids))
                    .group_by(users::tenant_id)
                    .select((users::tenant_id, diesel::dsl::count_star()))
                    .load(&mut &*c),
            ))?;
        let mut usage: HashMap<Uuid, Usage> = usage
            .into_iter()
            .map(|(tenant, row)| Ok((tenant, Usage::try_from(row)?)))
            .collect::<Result<_, PgError>>()?;
        let users: HashMap<Uuid, i64> = users.into_iter().collect();
        let items = page
            .items
            .into_iter()
            .map(|t| TenantUsage {
                usage: usage.remove(t.id.as_uuid()).unwrap_or_default(),
                users: users
                    .get(t.id.as_uuid())
                    .copied()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                tenant: t.id,
                slug: t.slug,
                plan: t.plan,
                status: t.status,
                created_at: t.created_at,
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub(crate) async fn purge_tenant_impl(
        &self,
        id: TenantId,
        record: PlatformRecord,
    ) -> Result<(), PgError> {
        let record = &record;
        transaction!(self, |conn| {
            let found: Option<(String, String)> = platform(
                conn,
                tenants::table
                    .find(id.as_uuid())
                    .select((tenants::slug, tenants::status))
                    .for_update()
                    .get_result(&mut &*conn),
            )
            .await
            .optional()?;
            let (slug, status) = found.ok_or(PgError::NotFound("tenant"))?;
            if status != TenantStatus::Cancelled.as_str() {
                return Err(PgError::InvalidState(format!(
                    "tenant {slug} is {status}, not cancelled"
                )));
            }
            // Every tenant table references tenants ON DELETE CASCADE; the
            // cascade runs as the tables' owner, so it also removes the
            // tenant's audit log, which the service role itself may never
            // delete from.
            diesel::delete(tenants::table.find(id.as_uuid()))
                .execute(conn)
                .await?;
            diesel::insert_into(platform_audit::table)
                .values((
                    platform_audit::id.eq(Uuid::now_v7()),
                    platform_audit::tenant_id.eq(id.as_uuid()),
                    platform_audit::tenant_slug.eq(&slug),
                    platform_audit::actor.eq(record.actor.as_str()),
                    platform_audit::action.eq(&record.action),
                    platform_audit::detail.eq(&record.detail),
                    platform_audit::at.eq(record.at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
