//! The hot read — a file and its grants, for every download and file read
//! — in one statement: a call of a function that enters the tenant's scope
//! itself and folds the grants into arrays beside the file (migration
//! `2026-12-12-000001_one_call_read`), sent outside any transaction block,
//! so it is one implicit transaction. The general read path
//! ([`crate::store::read_scoped`]) takes two round trips and five
//! statements (`BEGIN READ ONLY`, the setting, the queries, `COMMIT`).

use coffer_domain::{FileId, TenantId};
use diesel::QueryResult;
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::prepared::prepared_by_name;
use crate::rows::{FileRow, GrantRow, corrupt};
use crate::store::PgMetadataStore;

/// The file (unless its erase began) and its grants, oldest first, in
/// `tenant`'s scope. Only for a store on the shared or a dedicated
/// database: a schema tenant's reads need the schema on the search path,
/// which only a transaction sets.
pub(crate) async fn file_and_grants(
    store: &PgMetadataStore,
    tenant: TenantId,
    file: FileId,
) -> Result<(FileRow, Vec<GrantRow>), PgError> {
    let pooled = store.pool.get().await?;
    let conn: &AsyncPgConnection = &pooled;
    let read = FileRead {
        tenant: *tenant.as_uuid(),
        file: *file.as_uuid(),
    }
    .load::<FileWithGrants>(&mut &*conn)
    .await?
    .into_iter()
    .next()
    .ok_or(PgError::NotFound("file"))?;
    read.split()
}

/// One row of `coffer_tenant_file_read`: the file's columns, then one array
/// per grant column, the n-th element of each the same grant.
#[derive(QueryableByName)]
struct FileWithGrants {
    #[diesel(embed)]
    file: FileRow,
    #[diesel(sql_type = Array<SqlUuid>)]
    grant_ids: Vec<Uuid>,
    #[diesel(sql_type = Array<Text>)]
    grant_subjects: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    grant_accesses: Vec<String>,
    #[diesel(sql_type = Array<Nullable<Timestamptz>>)]
    grant_expires_at: Vec<Option<OffsetDateTime>>,
    #[diesel(sql_type = Array<Text>)]
    grant_created_by: Vec<String>,
    #[diesel(sql_type = Array<Timestamptz>)]
    grant_created_at: Vec<OffsetDateTime>,
}

impl FileWithGrants {
    /// The file and its grants as the rows the other reads load.
    fn split(self) -> Result<(FileRow, Vec<GrantRow>), PgError> {
        let count = self.grant_ids.len();
        let lengths = [
            self.grant_subjects.len(),
            self.grant_accesses.len(),
            self.grant_expires_at.len(),
            self.grant_created_by.len(),
            self.grant_created_at.len(),
        ];
        if lengths.iter().any(|&len| len != count) {
            return Err(corrupt(
                "grants of a file read",
                format_args!("{count} ids against {lengths:?} values"),
            ));
        }
        let (tenant_id, file_id) = (self.file.tenant_id, self.file.id);
        let mut grants = self
            .grant_ids
            .into_iter()
            .zip(self.grant_subjects)
            .zip(self.grant_accesses)
            .zip(self.grant_expires_at)
            .zip(self.grant_created_by)
            .zip(self.grant_created_at)
            .map(
                |(((((id, subject), access), expires_at), created_by), created_at)| GrantRow {
                    id,
                    tenant_id,
                    file_id,
                    subject,
                    access,
                    expires_at,
                    created_by,
                    created_at,
                },
            )
            .collect::<Vec<_>>();
        // Oldest first, like the other reads; the arrays come unsorted.
        grants.sort_by_key(|g| (g.created_at, g.id));
        Ok((self.file, grants))
    }
}

/// `SELECT … FROM coffer_tenant_file_read($1, $2)`: a fixed text, so
/// diesel prepares it once per connection (by its type; a `sql_query` is
/// never cached), and the row read by column name.
struct FileRead {
    tenant: Uuid,
    file: Uuid,
}

prepared_by_name!(FileRead);

impl QueryFragment<Pg> for FileRead {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT (r.file_row).*, r.grant_ids, r.grant_subjects, r.grant_accesses, \
             r.grant_expires_at, r.grant_created_by, r.grant_created_at \
             FROM coffer_tenant_file_read(",
        );
        out.push_bind_param::<SqlUuid, _>(&self.tenant)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.file)?;
        out.push_sql(") AS r");
        Ok(())
    }
}
