//! File listings: newest first by the keyset `(created_at, id)`, filtered
//! in SQL, and confined to what the caller may read.

use coffer_domain::{PageCursor, TenantId};
use coffer_ports::{FileQuery, fetch_size};
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Jsonb, Text, Timestamptz};

#[cfg(feature = "testing")]
use crate::error::PgError;
use crate::rows::FileRow;
use crate::schema::{file_terms, files, grants};
#[cfg(feature = "testing")]
use crate::store::scoped;

diesel::define_sql_function!(fn lower(x: Text) -> Text);

type Condition<QS> = Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>>;

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

/// The listing query, one of two shapes (see [`files_query`]) behind one
/// type, so the adapter loads it and the test harness explains it alike.
/// Boxed queries are never cached as prepared statements, so erasing the
/// type costs nothing.
pub(crate) struct FilesQuery(Box<dyn QueryFragment<Pg> + Send>);

impl QueryFragment<Pg> for FilesQuery {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }
}

impl QueryId for FilesQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for FilesQuery {
    type SqlType = SqlTypeOf<AsSelect<FileRow, Pg>>;
}

/// The filters every listing applies to `files`, on a boxed query `$q`
/// over any `FROM` that holds `files` once (both shapes of [`files_query`]).
macro_rules! filtered {
    ($q:expr, $tenant:expr, $query:expr) => {{
        let query: &FileQuery = $query;
        let mut q = $q
            .filter(files::tenant_id.eq(*$tenant.as_uuid()))
            .filter(files::status.eq(query.status.as_str()))
            // A row whose erase began is gone for users (docs/integrity.md).
            .filter(files::erase_started_at.is_null());
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
            let mut readable: Condition<_> = Box::new(
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
        if let Some(needle) = name_needle(query) {
            q = q.filter(lower(files::filename).like(format!("%{}%", like_escape(&needle))));
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
    }};
}

/// The listing query for `query` in `tenant`, one row more than the page so
/// the caller knows whether another page follows. Also used by the test
/// harness to `EXPLAIN` exactly what the adapter runs.
///
/// A metadata filter with a leaf, a name filter of three characters or
/// more, or a folder prefix (not the root) walks the rarest of its terms in `file_terms` in keyset order and
/// joins each file: under row-level security PostgreSQL keeps `@>` and
/// `LIKE` (not leakproof) out of index conditions, while equality on the
/// terms is one (docs/postgres.md#search-terms). Every filter is still
/// applied to `files`, so a term only narrows where to look. Any other
/// listing walks `files` by its own indexes.
pub(crate) fn files_query(tenant: TenantId, query: &FileQuery) -> FilesQuery {
    let limit = i64::from(fetch_size(query.limit));
    let metadata = query.metadata.as_ref().filter(|m| m.values().any(has_leaf));
    let name = name_needle(query).filter(|n| n.chars().count() >= 3);
    let prefix = query
        .prefix
        .as_ref()
        .filter(|p| !p.is_root())
        .map(|p| p.as_str().to_owned());
    if metadata.is_none() && name.is_none() && prefix.is_none() {
        let q = files::table
            .select(FileRow::as_select())
            .order((files::created_at.desc(), files::id.desc()))
            .limit(limit)
            .into_boxed();
        return FilesQuery(Box::new(filtered!(q, tenant, query)));
    }

    let driver = rarest_term(
        tenant,
        metadata.cloned().unwrap_or_default(),
        name.unwrap_or_default(),
        prefix.unwrap_or_default(),
    );
    let q = file_terms::table
        .inner_join(
            files::table.on(files::tenant_id
                .eq(file_terms::tenant_id)
                .and(files::id.eq(file_terms::file_id))),
        )
        .select(FileRow::as_select())
        .filter(file_terms::tenant_id.eq(*tenant.as_uuid()))
        .filter(file_terms::term.eq(driver))
        .order((file_terms::created_at.desc(), file_terms::file_id.desc()))
        .limit(limit)
        .into_boxed();
    let mut q = filtered!(q, tenant, query);
    if let Some(cursor) = query.after {
        // The same cursor on the terms' copy of the key, so the page is one
        // range of their primary key.
        q = q.filter(keyset(
            "file_terms.created_at, file_terms.file_id",
            "<",
            cursor,
        ));
    }
    FilesQuery(Box::new(q))
}

/// The name filter as its `LIKE` pattern holds it (lower case), if any.
fn name_needle(query: &FileQuery) -> Option<String> {
    query
        .name_contains
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|n| n.to_lowercase())
}

/// Whether `value` holds a scalar, which `coffer_metadata_terms` makes a
/// term of (empty objects and arrays give none).
fn has_leaf(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map.values().any(has_leaf),
        serde_json::Value::Array(items) => items.iter().any(has_leaf),
        _ => true,
    }
}

/// The term of `metadata`, `name` and the folder `prefix` (empty: none)
/// with the fewest files in `tenant`,
/// chosen in the listing's own statement by index-only probes of the
/// primary key, each counting up to a cap: 1000 entries in all, shared by
/// the needle's terms, at least 100 each (so a long `q` stays cheap to
/// probe). Terms past the cap tie; ties go to the first in text order.
fn rarest_term<QS: 'static>(
    tenant: TenantId,
    metadata: serde_json::Map<String, serde_json::Value>,
    name: String,
    prefix: String,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Text>> {
    Box::new(
        diesel::dsl::sql::<Text>("(SELECT d.term FROM (SELECT coffer_metadata_terms(")
            .bind::<Jsonb, _>(serde_json::Value::Object(metadata))
            .sql(") || coffer_name_terms(")
            .bind::<Text, _>(name)
            .sql(") || (SELECT array_agg('p:' || p) FROM (SELECT ")
            .bind::<Text, _>(prefix)
            .sql(
                " AS p) AS f WHERE p <> '') AS terms) AS n, unnest(n.terms) AS d (term) \
                 ORDER BY (SELECT count(*) FROM (SELECT FROM file_terms x WHERE x.tenant_id = ",
            )
            .bind::<diesel::sql_types::Uuid, _>(*tenant.as_uuid())
            .sql(
                " AND x.term = d.term LIMIT greatest(100, 1000 / cardinality(n.terms))) AS s), \
                 d.term LIMIT 1)",
            ),
    )
}

/// `query` prefixed with `self.0` (`EXPLAIN` and its options): its plan's
/// lines, for tests that prove which indexes serve a query.
#[cfg(feature = "testing")]
pub(crate) struct Explain<Q>(pub(crate) &'static str, pub(crate) Q);

#[cfg(feature = "testing")]
impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.0);
        self.1.walk_ast(out.reborrow())
    }
}

#[cfg(feature = "testing")]
impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

#[cfg(feature = "testing")]
impl<Q> Query for Explain<Q> {
    type SqlType = Text;
}

/// `EXPLAIN` of exactly the listing query the adapter runs, for tests that
/// prove the keyset index serves it.
#[cfg(feature = "testing")]
pub(crate) async fn explain_files_query(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: TenantId,
    query: &FileQuery,
) -> Result<String, PgError> {
    use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};
    AnsiTransactionManager::begin_transaction(&mut *conn).await?;
    let c: &diesel_async::AsyncPgConnection = conn;
    let lines = scoped(
        c,
        tenant,
        Explain("EXPLAIN ", files_query(tenant, query)).load::<String>(&mut &*c),
    )
    .await;
    AnsiTransactionManager::rollback_transaction(&mut *conn).await?;
    Ok(lines?.join("\n"))
}
