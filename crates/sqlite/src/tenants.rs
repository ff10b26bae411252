//! Tenants (the platform path) and per-tenant accounts (users, usage).

use coffer_domain::{PageCursor, Role, Subject, Tenant, TenantId, TenantSlug, Usage, UserId};
use coffer_ports::{Journal, NewTenant, Page, TenantPatch, TenantScope, fetch_size};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sqlite::SqliteConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{TenantRow, UsageRow, id, ns, ns_opt};
use crate::schema::{tenants, usage_counters, users};
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

impl SqliteMetadataStore {
    pub(crate) async fn create_tenant_impl(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, SqliteError> {
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
                SqliteError::Conflict(format!("tenant {} or its slug already exists", new.id)),
            ),
            other => other?.try_into(),
        }
    }

    pub(crate) async fn get_tenant_impl(&self, tenant: TenantId) -> Result<Tenant, SqliteError> {
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
        row.ok_or(SqliteError::NotFound("tenant"))?.try_into()
    }

    pub(crate) async fn find_tenant_by_slug_impl(
        &self,
        slug: &TenantSlug,
    ) -> Result<Tenant, SqliteError> {
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
        row.ok_or(SqliteError::NotFound("tenant"))?.try_into()
    }

    pub(crate) async fn list_tenants_impl(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, SqliteError> {
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
        Page::try_from_overfetch(rows, limit, Tenant::page_cursor)
    }

    pub(crate) async fn update_tenant_impl(
        &self,
        tenant: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, SqliteError> {
        let journal = JournalRows::new(tenant, journal)?;
        let changes = TenantChanges::of(patch)?;
        let row = self
            .write(move |conn| {
                let row = update_tenant_row(conn, tenant, &changes)?;
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        row.try_into()
    }

    pub(crate) async fn upsert_user_impl(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, SqliteError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let roles = serde_json::to_string(&names)
            .map_err(|e| SqliteError::CorruptRow(format!("roles: {e}")))?;
        let subject = subject.as_str().to_owned();
        let now = ns(OffsetDateTime::now_utc())?;
        let result = self
            .write(move |conn| {
                Ok(diesel::insert_into(users::table)
                    .values((
                        users::id.eq(id(&Uuid::new_v4())),
                        users::tenant_id.eq(&tenant),
                        users::subject.eq(&subject),
                        users::roles.eq(&roles),
                        users::created_at.eq(now),
                        users::last_seen_at.eq(now),
                    ))
                    .on_conflict((users::tenant_id, users::subject))
                    .do_update()
                    .set((users::roles.eq(&roles), users::last_seen_at.eq(now)))
                    .returning(users::id)
                    .get_result::<String>(conn)?)
            })
            .await;
        match result {
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(SqliteError::NotFound("tenant"))
            }
            other => Uuid::parse_str(&other?)
                .map(UserId::from_uuid)
                .map_err(|e| SqliteError::CorruptRow(format!("user id: {e}"))),
        }
    }

    pub(crate) async fn usage_impl(&self, scope: &TenantScope) -> Result<Usage, SqliteError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let row = self
            .read(move |conn| {
                Ok(usage_counters::table
                    .select(UsageRow::as_select())
                    .filter(usage_counters::tenant_id.eq(tenant))
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        row.map_or(Ok(Usage::default()), Usage::try_from)
    }
}
