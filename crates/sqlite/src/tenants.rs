//! The tenant registry (the platform path): tenants, the one read of usage
//! across tenants, and the purge of a cancelled tenant (see
//! coffer-postgres' twin).

use std::collections::HashMap;

use async_trait::async_trait;
use coffer_domain::{PageCursor, Tenant, TenantId, TenantSlug, TenantStatus, Usage};
use coffer_ports::{
    Journal, MetadataError, NewTenant, Page, PlatformRecord, TenantPatch, TenantRegistry,
    TenantUsage, fetch_size,
};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sqlite::SqliteConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{TenantRow, UsageRow, id, ns, ns_opt};
use crate::schema::{platform_audit, tenant_purges, tenants, usage_counters, users};
use crate::store::SqliteMetadataStore;

#[derive(Debug, AsChangeset)]
#[diesel(table_name = tenants)]
pub(crate) struct TenantChanges {
    display_name: Option<String>,
    plan: Option<String>,
    status: Option<String>,
    limit_overrides: Option<String>,
    dedicated_bucket: Option<Option<String>>,
    suspended_at: Option<Option<i64>>,
    cancelled_at: Option<Option<i64>>,
    purge_after: Option<Option<i64>>,
    updated_at: i64,
}

impl TenantChanges {
    pub(crate) fn of(patch: TenantPatch) -> Result<Self, SqliteError> {
        Ok(Self {
            display_name: patch.display_name,
            plan: patch.plan.map(|p| p.as_str().to_owned()),
            status: patch.status.map(|s| s.as_str().to_owned()),
            limit_overrides: patch
                .limit_overrides
                .as_ref()
                .map(overrides_json)
                .transpose()?,
            dedicated_bucket: patch.dedicated_bucket,
            suspended_at: optional_time(patch.suspended_at)?,
            cancelled_at: optional_time(patch.cancelled_at)?,
            purge_after: optional_time(patch.purge_after)?,
            updated_at: ns(OffsetDateTime::now_utc())?,
        })
    }
}

/// Applies `changes` to the tenant, inside the caller's unit of work.
pub(crate) fn update_tenant_row(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    changes: &TenantChanges,
) -> Result<TenantRow, SqliteError> {
    diesel::update(tenants::table.find(id(tenant.as_uuid())))
        .set(changes)
        .returning(TenantRow::as_returning())
        .get_result(conn)
        .optional()?
        .ok_or(SqliteError::NotFound("tenant"))
}

fn overrides_json(o: &coffer_domain::LimitOverrides) -> Result<String, SqliteError> {
    serde_json::to_string(o).map_err(|e| SqliteError::CorruptRow(format!("limit overrides: {e}")))
}

fn optional_time(
    value: Option<Option<OffsetDateTime>>,
) -> Result<Option<Option<i64>>, SqliteError> {
    value.map(ns_opt).transpose()
}

#[async_trait]
impl TenantRegistry for SqliteMetadataStore {
    async fn create_tenant(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        let journal = JournalRows::new(new.id, journal)?;
        let row = TenantRow::new(&new)?;
        let created = row.created_at;
        let result = self
            .write(move |conn| {
                let inserted = diesel::insert_into(tenants::table)
                    .values(&row)
                    .returning(TenantRow::as_returning())
                    .get_result(conn)?;
                diesel::insert_into(usage_counters::table)
                    .values((
                        usage_counters::tenant_id.eq(&row.id),
                        usage_counters::updated_at.eq(created),
                    ))
                    .execute(conn)?;
                journal.insert(conn)?;
                Ok(inserted)
            })
            .await;
        match result {
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::UniqueViolation) => Err(
                SqliteError::Conflict(format!("tenant {} or its slug already exists", new.id))
                    .into(),
            ),
            other => Ok(other?.try_into()?),
        }
    }

    async fn get_tenant(&self, tenant: TenantId) -> Result<Tenant, MetadataError> {
        let key = id(tenant.as_uuid());
        let row = self
            .read(move |conn| {
                Ok(tenants::table
                    .find(key)
                    .select(TenantRow::as_select())
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.ok_or(SqliteError::NotFound("tenant"))?.try_into()?)
    }

    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError> {
        let slug = slug.as_str().to_owned();
        let row = self
            .read(move |conn| {
                Ok(tenants::table
                    .filter(tenants::slug.eq(slug))
                    .select(TenantRow::as_select())
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.ok_or(SqliteError::NotFound("tenant"))?.try_into()?)
    }

    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError> {
        let after = after
            .map(|c| Ok::<_, SqliteError>((ns(c.created_at)?, id(&c.id))))
            .transpose()?;
        let rows: Vec<TenantRow> = self
            .read(move |conn| {
                let mut query = tenants::table
                    .select(TenantRow::as_select())
                    .order((tenants::created_at.asc(), tenants::id.asc()))
                    .limit(i64::from(fetch_size(limit)))
                    .into_boxed();
                if let Some((at, last)) = after {
                    query = query.filter(
                        tenants::created_at
                            .gt(at)
                            .or(tenants::created_at.eq(at).and(tenants::id.gt(last))),
                    );
                }
                Ok(query.load(conn)?)
            })
            .await?;
        Ok(Page::try_from_overfetch(rows, limit, Tenant::page_cursor)?)
    }

    async fn update_tenant(
        &self,
        tenant: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        let journal = JournalRows::new(tenant, journal)?;
        let changes = TenantChanges::of(patch)?;
        let row = self
            .write(move |conn| {
                let row = update_tenant_row(conn, tenant, &changes)?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError> {
        let page = self.list_tenants(after, limit).await?;
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
                let usage = usage.remove(&key).unwrap_or_default();
                let users = users
                    .get(&key)
                    .copied()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0));
                TenantUsage::new(t, usage, users)
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    async fn purge_tenant(
        &self,
        tenant: TenantId,
        record: PlatformRecord,
    ) -> Result<(), MetadataError> {
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
        .map_err(Into::into)
    }
}
