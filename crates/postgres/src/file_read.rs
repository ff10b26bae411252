//! The hot read — a file and its grants, for every download and file read
//! — in one round trip: two calls of functions that enter the tenant's
//! scope themselves (migration `2026-12-09-000002_one_trip_reads`), sent
//! pipelined outside any transaction block. The general read path
//! ([`crate::store::read_scoped`]) takes two round trips and five
//! statements (`BEGIN READ ONLY`, the setting, the queries, `COMMIT`).

use std::marker::PhantomData;

use coffer_domain::{FileId, TenantId};
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Untyped, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::PgError;
use crate::rows::{FileRow, GrantRow};
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
    let (files, grants) = futures::future::try_join(
        Call::<FileOf>::new(tenant, file).load::<FileRow>(&mut &*conn),
        Call::<GrantsOf>::new(tenant, file).load::<GrantRow>(&mut &*conn),
    )
    .await?;
    let file = files.into_iter().next().ok_or(PgError::NotFound("file"))?;
    Ok((file, grants))
}

/// Which function a [`Call`] calls.
trait ScopedRead: Send + Sync + 'static {
    const CALL: &'static str;
}

struct FileOf;

impl ScopedRead for FileOf {
    const CALL: &'static str = "SELECT * FROM coffer_tenant_file(";
}

struct GrantsOf;

impl ScopedRead for GrantsOf {
    const CALL: &'static str = "SELECT * FROM coffer_tenant_file_grants(";
}

/// `SELECT * FROM <function>($1, $2)`: a fixed text per function, so
/// diesel prepares it once per connection (by its type; a `sql_query` is
/// never cached), and rows read by column name.
struct Call<R> {
    tenant: Uuid,
    file: Uuid,
    read: PhantomData<R>,
}

impl<R> Call<R> {
    fn new(tenant: TenantId, file: FileId) -> Self {
        Self {
            tenant: *tenant.as_uuid(),
            file: *file.as_uuid(),
            read: PhantomData,
        }
    }
}

impl<R: ScopedRead> QueryId for Call<R> {
    type QueryId = Call<R>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<R> Query for Call<R> {
    type SqlType = Untyped;
}

impl<R: ScopedRead> QueryFragment<Pg> for Call<R> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(R::CALL);
        out.push_bind_param::<SqlUuid, _>(&self.tenant)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.file)?;
        out.push_sql(")");
        Ok(())
    }
}
