//! Grants on files.

use async_trait::async_trait;
use coffer_domain::{FileId, Grant, GrantId};
use coffer_ports::{Grants, Journal, MetadataError, NewGrant, TenantScope};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;

use crate::error::{PgError, db_kind};
use crate::journal::JournalRows;
use crate::rows::{GrantRow, grants_from};
use crate::schema::{files, grants};
use crate::store::{PgMetadataStore, Scope, read_scoped, scoped, transaction};

#[async_trait]
impl Grants for PgMetadataStore {
    async fn list_grants(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<Grant>, MetadataError> {
        let tenant = scope.tenant_id();
        let (exists, rows) =
            read_scoped!(self, Scope::Tenant(tenant), |c| futures::future::try_join(
                diesel::select(diesel::dsl::exists(files::table.find(file.as_uuid())))
                    .get_result::<bool>(&mut &*c),
                grants::table
                    .filter(grants::file_id.eq(file.as_uuid()))
                    .select(GrantRow::as_select())
                    .order((grants::created_at.asc(), grants::id.asc()))
                    .load(&mut &*c),
            ))?;
        if !exists {
            return Err(PgError::NotFound("file").into());
        }
        Ok(grants_from(rows)?)
    }

    async fn put_grant(
        &self,
        scope: &TenantScope,
        grant: NewGrant,
        journal: Journal,
    ) -> Result<Grant, MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        let row = GrantRow {
            id: *grant.id.as_uuid(),
            tenant_id: *tenant.as_uuid(),
            file_id: *grant.file_id.as_uuid(),
            subject: grant.subject.to_string(),
            access: grant.access.as_str().to_owned(),
            expires_at: grant.expires_at,
            created_by: grant.created_by.as_str().to_owned(),
            created_at: grant.created_at,
        };
        let row = &row;
        let result = transaction!(self, |conn| {
            let row = scoped(
                conn,
                tenant,
                diesel::insert_into(grants::table)
                    .values(row)
                    .on_conflict((grants::file_id, grants::subject))
                    .do_update()
                    .set((
                        grants::id.eq(excluded(grants::id)),
                        grants::access.eq(excluded(grants::access)),
                        grants::expires_at.eq(excluded(grants::expires_at)),
                        grants::created_by.eq(excluded(grants::created_by)),
                        grants::created_at.eq(excluded(grants::created_at)),
                    ))
                    .returning(GrantRow::as_returning())
                    .get_result(&mut &*conn),
            )
            .await?;
            journal.insert(conn).await?;
            Ok(row)
        });
        match result {
            // The composite foreign key (tenant_id, file_id) refuses a file
            // that is unknown or belongs to another tenant alike.
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::ForeignKeyViolation) => {
                Err(PgError::NotFound("file").into())
            }
            other => Ok(other?.try_into()?),
        }
    }

    async fn delete_grant(
        &self,
        scope: &TenantScope,
        file: FileId,
        grant: GrantId,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let tenant = scope.tenant_id();
        let journal = &JournalRows::new(tenant, journal);
        Ok(transaction!(self, |conn| {
            let deleted = scoped(
                conn,
                tenant,
                diesel::delete(
                    grants::table
                        .find(grant.as_uuid())
                        .filter(grants::file_id.eq(file.as_uuid())),
                )
                .execute(&mut &*conn),
            )
            .await?;
            if deleted == 0 {
                return Err(PgError::NotFound("grant"));
            }
            journal.insert(conn).await?;
            Ok(())
        })?)
    }
}
