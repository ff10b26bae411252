//! A tenant's users: created just in time from their tokens, removed by an
//! onboarding's compensation, counted for the platform's metrics.

use async_trait::async_trait;
use coffer_domain::{Role, Subject, UserId};
use coffer_ports::{Journal, Members, MetadataError, TenantScope};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{PgError, db_kind, found};
use crate::journal::JournalRows;
use crate::schema::users;
use crate::store::{PgMetadataStore, Scope, enter_tenant, read_scoped, scoped, transaction};

/// How stale `last_seen_at` may be before a provisioning refreshes it.
/// Every instance provisions a user again whenever its cache entry
/// expires; writing each time made steady traffic over many users a
/// stream of committed writes (docs/benchmarks.md, "Re-reads of cached
/// tenants, counted"), for a column nothing in the product reads.
const LAST_SEEN_GRANULARITY: time::Duration = time::Duration::HOUR;

#[async_trait]
impl Members for PgMetadataStore {
    async fn upsert_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError> {
        let tenant = scope.tenant_id();
        let mut role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        role_names.sort();
        role_names.dedup();
        // Read first: a user with the same roles, seen recently, needs no
        // write (and no commit to flush).
        let stored: Option<(Uuid, Vec<String>, OffsetDateTime)> =
            found(read_scoped!(self, Scope::Tenant(tenant), |c| users::table
                .filter(users::tenant_id.eq(tenant.as_uuid()))
                .filter(users::subject.eq(subject.as_str()))
                .select((users::id, users::roles, users::last_seen_at))
                .first(&mut &*c)))?;
        if let Some((id, roles, seen)) = stored
            && roles == role_names
            && OffsetDateTime::now_utc() - seen < LAST_SEEN_GRANULARITY
        {
            return Ok(UserId::from_uuid(id));
        }
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
                Err(PgError::NotFound("tenant").into())
            }
            other => Ok(UserId::from_uuid(other?)),
        }
    }

    async fn remove_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let subject = subject.as_str();
        let result = transaction!(self, |conn| {
            enter_tenant(conn, tenant).await?;
            let removed = diesel::delete(
                users::table
                    .filter(users::tenant_id.eq(tenant.as_uuid()))
                    .filter(users::subject.eq(subject)),
            )
            .execute(&mut &*conn)
            .await?;
            if removed > 0 {
                journal.insert(conn).await?;
            }
            Ok(())
        });
        match result {
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(PgError::Conflict(format!("user {subject} is still referenced")).into())
            }
            other => Ok(other?),
        }
    }

    async fn count_users(&self, scope: &TenantScope) -> Result<u64, MetadataError> {
        let tenant = scope.tenant_id();
        let count: i64 = read_scoped!(self, Scope::Tenant(tenant), |c| users::table
            .filter(users::tenant_id.eq(tenant.as_uuid()))
            .count()
            .get_result(&mut &*c))?;
        // A count is never negative.
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
