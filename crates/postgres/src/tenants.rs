//! The platform path (tenants) and per-tenant accounts (users, usage).

use coffer_domain::{PageCursor, Role, Subject, Tenant, TenantId, TenantSlug, Usage, UserId};
use coffer_ports::{Journal, NewTenant, Page, TenantPatch, TenantScope, fetch_size};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{PgError, db_kind};
use crate::journal::JournalRows;
use crate::listing::keyset;
use crate::rows::{TenantRow, UsageRow};
use crate::schema::{tenants, usage_counters, users};
use crate::store::{
    PgMetadataStore, Scope, enter_tenant, platform, read_scoped, scoped, transaction,
};

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

fn not_found_as_tenant(row: Result<TenantRow, PgError>) -> Result<Tenant, PgError> {
    match row {
        Err(PgError::Diesel(diesel::result::Error::NotFound)) => Err(PgError::NotFound("tenant")),
        other => other?.try_into(),
    }
}

impl PgMetadataStore {
    pub(crate) async fn create_tenant_impl(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, PgError> {
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
                PgError::Conflict(format!("tenant {} or its slug already exists", new.id)),
            ),
            other => other?.try_into(),
        }
    }

    pub(crate) async fn get_tenant_impl(&self, id: TenantId) -> Result<Tenant, PgError> {
        // Tenant resolution runs on every request the service does not
        // answer from its cache: the two-round-trip read path.
        not_found_as_tenant(read_scoped!(self, Scope::Platform, |c| tenants::table
            .find(id.as_uuid())
            .select(TenantRow::as_select())
            .get_result(&mut &*c)))
    }

    pub(crate) async fn find_tenant_by_slug_impl(
        &self,
        slug: &TenantSlug,
    ) -> Result<Tenant, PgError> {
        not_found_as_tenant(read_scoped!(self, Scope::Platform, |c| tenants::table
            .filter(tenants::slug.eq(slug.as_str()))
            .select(TenantRow::as_select())
            .get_result(&mut &*c)))
    }

    pub(crate) async fn list_tenants_impl(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, PgError> {
        let mut query = tenants::table
            .select(TenantRow::as_select())
            .order((tenants::created_at.asc(), tenants::id.asc()))
            .limit(i64::from(fetch_size(limit)))
            .into_boxed();
        if let Some(c) = after {
            query = query.filter(keyset("tenants.created_at, tenants.id", ">", c));
        }
        let rows: Vec<TenantRow> = read_scoped!(self, Scope::Platform, |c| query.load(&mut &*c))?;
        Page::try_from_overfetch(rows, limit, Tenant::page_cursor)
    }

    pub(crate) async fn update_tenant_impl(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, PgError> {
        let journal = &JournalRows::new(id, journal);
        let changes = &TenantChanges::of(patch)?;
        let row = transaction!(self, |conn| {
            let row = update_tenant_row(conn, id, changes).await?;
            // The record belongs to the tenant: written in its scope.
            enter_tenant(conn, id).await?;
            // Other instances drop their cached copy once this commits.
            futures::future::try_join(journal.insert(conn), crate::changes::notify(conn, id))
                .await?;
            Ok(row)
        })?;
        row.try_into()
    }

    pub(crate) async fn upsert_user_impl(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, PgError> {
        let tenant = scope.tenant_id();
        let mut role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        role_names.sort();
        role_names.dedup();
        let role_names = &role_names;
        let result = transaction!(self, |conn| {
            let now = OffsetDateTime::now_utc();
            Ok(scoped(
                conn,
                tenant,
                diesel::insert_into(users::table)
                    .values((
                        users::id.eq(Uuid::new_v4()),
                        users::tenant_id.eq(tenant.as_uuid()),
                        users::subject.eq(subject.as_str()),
                        users::roles.eq(role_names),
                        users::created_at.eq(now),
                        users::last_seen_at.eq(now),
                    ))
                    .on_conflict((users::tenant_id, users::subject))
                    .do_update()
                    .set((users::roles.eq(role_names), users::last_seen_at.eq(now)))
                    .returning(users::id)
                    .get_result::<Uuid>(&mut &*conn),
            )
            .await?)
        });
        match result {
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(PgError::NotFound("tenant"))
            }
            other => other.map(UserId::from_uuid),
        }
    }

    pub(crate) async fn usage_impl(&self, scope: &TenantScope) -> Result<Usage, PgError> {
        let tenant = scope.tenant_id();
        let row = read_scoped!(self, Scope::Tenant(tenant), |c| usage_counters::table
            .select(UsageRow::as_select())
            .filter(usage_counters::tenant_id.eq(tenant.as_uuid()))
            .get_result(&mut &*c))
        .map(Some)
        .or_else(|e| match e {
            PgError::Diesel(diesel::result::Error::NotFound) => Ok(None),
            e => Err(e),
        })?;
        row.map_or(Ok(Usage::default()), Usage::try_from)
    }
}
