//! The query of a file listing ([`coffer_ports::FileCatalog::list_files`]):
//! newest first by the keyset `(created_at, id)`, every filter in SQL (so a
//! page is always full when more rows exist), confined to the tenant and to
//! what the caller may read.

use coffer_domain::PageCursor;
use coffer_ports::{FileQuery, fetch_size};
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel::sqlite::Sqlite;

use crate::error::SqliteError;
use crate::functions::{coffer_json_contains, coffer_lower, instr};
use crate::rows::{FileRow, id, ns};
use crate::schema::{files, grants};

type Condition = Box<dyn BoxableExpression<files::table, Sqlite, SqlType = Bool>>;
type FilesQuery = files::BoxedQuery<'static, Sqlite, SqlTypeOf<AsSelect<FileRow, Sqlite>>>;

/// The listing query, one row more than the page so the caller knows
/// whether another page follows.
pub(crate) fn files_query(tenant: &str, query: &FileQuery) -> Result<FilesQuery, SqliteError> {
    let mut q = files::table
        .select(FileRow::as_select())
        .filter(files::tenant_id.eq(tenant.to_owned()))
        .filter(files::status.eq(query.status.as_str()))
        // A row whose erase began is gone for users (docs/integrity.md).
        .filter(files::erase_started_at.is_null())
        .order((files::created_at.desc(), files::id.desc()))
        .limit(i64::from(fetch_size(query.limit)))
        .into_boxed();

    if let Some(only) = query.filter.restriction() {
        let now = ns(only.now)?;
        let granted = diesel::dsl::exists(
            grants::table
                .filter(grants::tenant_id.eq(files::tenant_id))
                .filter(grants::file_id.eq(files::id))
                .filter(grants::subject.eq_any(only.grantees))
                .filter(grants::expires_at.is_null().or(grants::expires_at.gt(now))),
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
        // Below `p` are the paths in ["p/", "p0"): '0' follows '/' in byte
        // order. A range, not LIKE, which SQLite folds case for.
        let p = prefix.as_str();
        q = q.filter(
            files::path.eq(p.to_owned()).or(files::path
                .ge(format!("{p}/"))
                .and(files::path.lt(format!("{p}0")))),
        );
    }
    if let Some(needle) = query.name_contains.as_ref().filter(|n| !n.is_empty()) {
        q = q.filter(instr(coffer_lower(files::filename), needle.to_lowercase()).gt(0));
    }
    if let Some(filename) = &query.filename {
        q = q.filter(files::filename.eq(filename.as_str().to_owned()));
    }
    if let Some(metadata) = &query.metadata {
        let needle = serde_json::Value::Object(metadata.clone()).to_string();
        q = q.filter(coffer_json_contains(files::metadata, needle));
    }
    if let Some(owner) = &query.owner {
        q = q.filter(files::owner_subject.eq(owner.as_str().to_owned()));
    }
    if let Some(PageCursor {
        created_at,
        id: last,
    }) = query.after
    {
        let at = ns(created_at)?;
        q = q.filter(
            files::created_at
                .lt(at)
                .or(files::created_at.eq(at).and(files::id.lt(id(&last)))),
        );
    }
    Ok(q)
}
