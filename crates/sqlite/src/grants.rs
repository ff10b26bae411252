//! Grants on files, always within the caller's tenant.

use async_trait::async_trait;
use coffer_domain::{FileId, Grant, GrantId};
use coffer_ports::{Grants, Journal, MetadataError, NewGrant, TenantScope};
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{GrantRow, grants_from, id, ns, ns_opt};
use crate::schema::{files, grants};
use crate::store::SqliteMetadataStore;

fn file_exists(
    conn: &mut diesel::sqlite::SqliteConnection,
    tenant: &str,
    file: &str,
) -> Result<(), SqliteError> {
    let exists: bool = diesel::select(diesel::dsl::exists(
        files::table
            .filter(files::tenant_id.eq(tenant))
            .filter(files::id.eq(file)),
    ))
    .get_result(conn)?;
    if exists {
        Ok(())
    } else {
        Err(SqliteError::NotFound("file"))
    }
}

#[async_trait]
impl Grants for SqliteMetadataStore {
    async fn list_grants(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<Grant>, MetadataError> {
        let (tenant, file) = (id(scope.tenant_id().as_uuid()), id(file.as_uuid()));
        let rows = self
            .read(move |conn| {
                file_exists(conn, &tenant, &file)?;
                Ok(grants::table
                    .filter(grants::tenant_id.eq(&tenant))
                    .filter(grants::file_id.eq(&file))
                    .select(GrantRow::as_select())
                    .order((grants::created_at.asc(), grants::id.asc()))
                    .load(conn)?)
            })
            .await?;
        Ok(grants_from(rows)?)
    }

    async fn put_grant(
        &self,
        scope: &TenantScope,
        grant: NewGrant,
        journal: Journal,
    ) -> Result<Grant, MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let row = GrantRow {
            id: id(grant.id.as_uuid()),
            tenant_id: id(scope.tenant_id().as_uuid()),
            file_id: id(grant.file_id.as_uuid()),
            subject: grant.subject.to_string(),
            access: grant.access.as_str().to_owned(),
            expires_at: ns_opt(grant.expires_at)?,
            created_by: grant.created_by.as_str().to_owned(),
            created_at: ns(grant.created_at)?,
        };
        let row = self
            .write(move |conn| {
                // Checked first: a file of another tenant is unknown here,
                // and the (file, subject) upsert must never touch its grants.
                file_exists(conn, &row.tenant_id, &row.file_id)?;
                let stored = diesel::insert_into(grants::table)
                    .values(&row)
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
                    .get_result(conn)?;
                journal.insert(conn)?;
                Ok(stored)
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn delete_grant(
        &self,
        scope: &TenantScope,
        file: FileId,
        grant: GrantId,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        let journal = JournalRows::new(scope.tenant_id(), journal)?;
        let tenant = id(scope.tenant_id().as_uuid());
        let (file, grant) = (id(file.as_uuid()), id(grant.as_uuid()));
        self.write(move |conn| {
            let deleted = diesel::delete(grants::table)
                .filter(grants::tenant_id.eq(&tenant))
                .filter(grants::file_id.eq(&file))
                .filter(grants::id.eq(&grant))
                .execute(conn)?;
            if deleted == 0 {
                return Err(SqliteError::NotFound("grant"));
            }
            journal.insert(conn)
        })
        .await
        .map_err(Into::into)
    }
}
