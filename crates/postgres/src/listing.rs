//! File listings: newest first by the keyset `(created_at, id)`, filtered
//! in SQL, and confined to what the caller may read.

use coffer_domain::{PageCursor, TenantId};
use coffer_ports::{FileQuery, fetch_size};
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamptz};

#[cfg(feature = "testing")]
use crate::error::PgError;
use crate::rows::FileRow;
use crate::schema::{files, grants};
#[cfg(feature = "testing")]
use crate::store::scoped;

diesel::define_sql_function!(fn lower(x: Text) -> Text);

type Condition = Box<dyn BoxableExpression<files::table, Pg, SqlType = Bool>>;

pub(crate) type FilesQuery<'a> = files::BoxedQuery<'a, Pg, SqlTypeOf<AsSelect<FileRow, Pg>>>;

/// `(columns) op (cursor)`: a row comparison, so a keyset index serves a
/// page after the cursor as one range (an `a < x OR (a = x AND b < y)`
/// spelling would not).
pub(crate) fn keyset<QS: 'static>(
    columns: &str,
    op: &str,
    cursor: PageCursor,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>> {
    Box::new(
        diesel::dsl::sql::<Bool>(&format!("({columns}) {op} ("))
            .bind::<Timestamptz, _>(cursor.created_at)
            .sql(", ")
            .bind::<diesel::sql_types::Uuid, _>(cursor.id)
            .sql(")"),
    )
}

/// `LIKE` pattern matching `raw` literally.
pub(crate) fn like_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The listing query for `query` in `tenant`, one row more than the page so
/// the caller knows whether another page follows. Also used by the test
/// harness to `EXPLAIN` exactly what the adapter runs.
pub(crate) fn files_query(tenant: TenantId, query: &FileQuery) -> FilesQuery<'static> {
    let mut q = files::table
        .select(FileRow::as_select())
        .filter(files::tenant_id.eq(*tenant.as_uuid()))
        .filter(files::status.eq(query.status.as_str()))
        // A row whose erase began is gone for users (docs/integrity.md).
        .filter(files::erase_started_at.is_null())
        .order((files::created_at.desc(), files::id.desc()))
        .limit(i64::from(fetch_size(query.limit)))
        .into_boxed();

    if let Some(only) = query.filter.restriction() {
        let granted = diesel::dsl::exists(
            grants::table
                .filter(grants::file_id.eq(files::id))
                .filter(grants::subject.eq_any(only.grantees))
                .filter(
                    grants::expires_at
                        .is_null()
                        .or(grants::expires_at.gt(only.now)),
                ),
        );
        let mut readable: Condition = Box::new(
            files::owner_subject
                .eq(only.owner.as_str().to_owned())
                .or(granted),
        );
        if only.tenant_visible {
            readable = Box::new(readable.or(files::visibility.eq("tenant")));
        }
        q = q.filter(readable);
    }
    if let Some(category) = &query.category {
        q = q.filter(files::category.eq(category.as_str().to_owned()));
    }
    if let Some(path) = &query.path {
        q = q.filter(files::path.eq(path.as_str().to_owned()));
    }
    if let Some(prefix) = query.prefix.as_ref().filter(|p| !p.is_root()) {
        q = q.filter(
            files::path
                .eq(prefix.as_str().to_owned())
                .or(files::path.like(format!("{}/%", like_escape(prefix.as_str())))),
        );
    }
    if let Some(needle) = query.name_contains.as_ref().filter(|n| !n.is_empty()) {
        q = q.filter(
            lower(files::filename).like(format!("%{}%", like_escape(&needle.to_lowercase()))),
        );
    }
    if let Some(filename) = &query.filename {
        q = q.filter(files::filename.eq(filename.as_str().to_owned()));
    }
    if let Some(metadata) = &query.metadata {
        q = q.filter(files::metadata.contains(serde_json::Value::Object(metadata.clone())));
    }
    if let Some(owner) = &query.owner {
        q = q.filter(files::owner_subject.eq(owner.as_str().to_owned()));
    }
    if let Some(cursor) = query.after {
        q = q.filter(keyset("files.created_at, files.id", "<", cursor));
    }
    q
}

/// `EXPLAIN` of exactly the listing query the adapter runs, for tests that
/// prove the keyset index serves it.
#[cfg(feature = "testing")]
pub(crate) async fn explain_files_query(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: TenantId,
    query: &FileQuery,
) -> Result<String, PgError> {
    use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

    struct Explain<Q>(Q);
    impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
            out.push_sql("EXPLAIN ");
            self.0.walk_ast(out.reborrow())
        }
    }
    impl<Q> QueryId for Explain<Q> {
        type QueryId = ();
        const HAS_STATIC_QUERY_ID: bool = false;
    }
    impl<Q> Query for Explain<Q> {
        type SqlType = Text;
    }

    use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};
    AnsiTransactionManager::begin_transaction(&mut *conn).await?;
    let c: &diesel_async::AsyncPgConnection = conn;
    let lines = scoped(
        c,
        tenant,
        Explain(files_query(tenant, query)).load::<String>(&mut &*c),
    )
    .await;
    AnsiTransactionManager::rollback_transaction(&mut *conn).await?;
    Ok(lines?.join("\n"))
}
