//! The tenant registry (platform path): tenants, their usage across
//! tenants for operators (the only read across tenants, allowed by the
//! `platform_reads` policies on `usage_counters` and `users`), and the
//! purge of a cancelled tenant.

use std::collections::HashMap;

use async_trait::async_trait;
use coffer_domain::{PageCursor, Tenant, TenantId, TenantSlug, TenantStatus, Usage};
use coffer_ports::{
    Journal, MetadataError, NewTenant, Page, PlatformRecord, TenantPatch, TenantRegistry,
    TenantUsage, fetch_size,
};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{PgError, db_kind};
use crate::journal::JournalRows;
use crate::listing::keyset;
use crate::rows::{TenantRow, UsageRow};
use crate::schema::{platform_audit, tenants, usage_counters, users};
use crate::store::{PgMetadataStore, Scope, enter_tenant, platform, read_scoped, transaction};

/// A tenant and how many users it has.
type UserCount = (Uuid, i64);

#[derive(Debug, AsChangeset)]
#[diesel(table_name = tenants)]
pub(crate) struct TenantChanges {
    display_name: Option<String>,
    plan: Option<String>,
    status: Option<String>,
    limit_overrides: Option<serde_json::Value>,
    dedicated_bucket: Option<Option<String>>,
    suspended_at: Option<Option<OffsetDateTime>>,
    cancelled_at: Option<Option<OffsetDateTime>>,
    purge_after: Option<Option<OffsetDateTime>>,
    updated_at: OffsetDateTime,
}

impl TenantChanges {
    pub(crate) fn of(patch: TenantPatch) -> Result<Self, PgError> {
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
            suspended_at: patch.suspended_at,
            cancelled_at: patch.cancelled_at,
            purge_after: patch.purge_after,
            updated_at: OffsetDateTime::now_utc(),
        })
    }
}

/// Applies `changes` to the tenant on the platform path, inside the
/// caller's transaction.
pub(crate) async fn update_tenant_row(
    conn: &AsyncPgConnection,
    id: TenantId,
    changes: &TenantChanges,
) -> Result<TenantRow, PgError> {
    platform(
        conn,
        diesel::update(tenants::table.find(id.as_uuid()))
            .set(changes)
            .returning(TenantRow::as_returning())
            .get_result(&mut &*conn),
    )
    .await
    .optional()?
    .ok_or(PgError::NotFound("tenant"))
}

fn overrides_json(o: &coffer_domain::LimitOverrides) -> Result<serde_json::Value, PgError> {
    serde_json::to_value(o).map_err(|e| PgError::CorruptRow(format!("limit overrides: {e}")))
}

fn not_found_as_tenant(row: Result<TenantRow, PgError>) -> Result<Tenant, MetadataError> {
    match row {
        Err(PgError::Diesel(diesel::result::Error::NotFound)) => {
            Err(PgError::NotFound("tenant").into())
        }
        other => Ok(other?.try_into()?),
    }
}

impl PgMetadataStore {
    /// Every tenant with a database or a schema of its own (the platform path).
    pub(crate) async fn dedicated_tenants(&self) -> Result<Vec<Tenant>, MetadataError> {
        let rows: Vec<TenantRow> = read_scoped!(self, Scope::Platform, |c| tenants::table
            .filter(
                tenants::dedicated_database
                    .is_not_null()
                    .or(tenants::dedicated_schema.is_not_null()),
            )
            .select(TenantRow::as_select())
            .load(&mut &*c))?;
        Ok(rows
            .into_iter()
            .map(Tenant::try_from)
            .collect::<Result<_, _>>()?)
    }
}

#[async_trait]
impl TenantRegistry for PgMetadataStore {
    async fn create_tenant(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        let journal = &JournalRows::new(new.id, journal);
        let row = TenantRow::new(&new)?;
        let row = &row;
        let result = transaction!(self, |conn| {
            let inserted = platform(
                conn,
                diesel::insert_into(tenants::table)
                    .values(row)
                    .returning(TenantRow::as_returning())
                    .get_result(&mut &*conn),
            )
            .await?;
            // The usage row belongs to the tenant: written in its scope.
            enter_tenant(conn, new.id).await?;
            diesel::insert_into(usage_counters::table)
                .values(usage_counters::tenant_id.eq(new.id.as_uuid()))
                .execute(conn)
                .await?;
            journal.insert(conn).await?;
            Ok(inserted)
        });
        match result {
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::UniqueViolation) => Err(
                PgError::Conflict(format!("tenant {} or its slug already exists", new.id)).into(),
            ),
            other => Ok(other?.try_into()?),
        }
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError> {
        // Tenant resolution runs on every request the service does not
        // answer from its cache: the two-round-trip read path.
        not_found_as_tenant(read_scoped!(self, Scope::Platform, |c| tenants::table
            .find(id.as_uuid())
            .select(TenantRow::as_select())
            .get_result(&mut &*c)))
    }

    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError> {
        not_found_as_tenant(read_scoped!(self, Scope::Platform, |c| tenants::table
            .filter(tenants::slug.eq(slug.as_str()))
            .select(TenantRow::as_select())
            .get_result(&mut &*c)))
    }

    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError> {
        let mut query = tenants::table
            .select(TenantRow::as_select())
            .order((tenants::created_at.asc(), tenants::id.asc()))
            .limit(i64::from(fetch_size(limit)))
            .into_boxed();
        if let Some(c) = after {
            query = query.filter(keyset("tenants.created_at, tenants.id", ">", c));
        }
        let rows: Vec<TenantRow> = read_scoped!(self, Scope::Platform, |c| query.load(&mut &*c))?;
        Ok(Page::try_from_overfetch(rows, limit, Tenant::page_cursor)?)
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        let journal = &JournalRows::new(id, journal);
        let changes = &TenantChanges::of(patch)?;
        let row = transaction!(self, |conn| {
            let row = update_tenant_row(conn, id, changes).await?;
            // The record belongs to the tenant: written in its scope.
            enter_tenant(conn, id).await?;
            // Other instances drop their cached copy once this commits (the
            // row's trigger notifies them; crate::changes).
            journal.insert(conn).await?;
            Ok(row)
        })?;
        Ok(row.try_into()?)
    }

    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError> {
        let page = self.list_tenants(after, limit).await?;
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
            .map(|t| {
                let usage = usage.remove(t.id.as_uuid()).unwrap_or_default();
                let users = users
                    .get(t.id.as_uuid())
                    .copied()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0));
                // A dedicated tenant's counters and users are in its own
                // database: zero here, and the caller reads them there.
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
        id: TenantId,
        record: PlatformRecord,
    ) -> Result<(), MetadataError> {
        let record = &record;
        Ok(transaction!(self, |conn| {
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
        })?)
    }
}
