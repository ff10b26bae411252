//! A tenant's members: users created just in time from their tokens, and
//! removed again by an onboarding's compensation.

use async_trait::async_trait;
use coffer_domain::{Role, Subject, UserId};
use coffer_ports::{Journal, Members, MetadataError, TenantScope};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{id, ns};
use crate::schema::users;
use crate::store::SqliteMetadataStore;

#[async_trait]
impl Members for SqliteMetadataStore {
    async fn upsert_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError> {
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
        let user = match result {
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                return Err(SqliteError::NotFound("tenant").into());
            }
            other => other?,
        };
        Ok(Uuid::parse_str(&user)
            .map(UserId::from_uuid)
            .map_err(|e| SqliteError::CorruptRow(format!("user id: {e}")))?)
    }

    async fn remove_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let tenant = id(scope.tenant_id().as_uuid());
        let subject = subject.as_str().to_owned();
        let shown = subject.clone();
        let result = self
            .write(move |conn| {
                let removed = diesel::delete(
                    users::table
                        .filter(users::tenant_id.eq(&tenant))
                        .filter(users::subject.eq(&subject)),
                )
                .execute(conn)?;
                if removed > 0 {
                    journal.insert(conn)?;
                }
                Ok(())
            })
            .await;
        match result {
            // A file's owner reference holds the user.
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(SqliteError::Conflict(format!("user {shown} still owns files")).into())
            }
            other => Ok(other?),
        }
    }

    async fn count_users(&self, scope: &TenantScope) -> Result<u64, MetadataError> {
        let tenant = id(scope.tenant_id().as_uuid());
        let count: i64 = self
            .read(move |conn| {
                Ok(users::table
                    .filter(users::tenant_id.eq(&tenant))
                    .count()
                    .get_result(conn)?)
            })
            .await?;
        Ok(u64::try_from(count).map_err(|_| SqliteError::OutOfRange("user count"))?)
    }
}
