//! SQL functions SQLite lacks, registered on every connection: PostgreSQL's
//! `jsonb @>` containment and a Unicode-aware `lower`, so that filters stay
//! in SQL (and pagination stays correct) instead of being applied to pages
//! after the fact.

use diesel::QueryResult;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;
use serde_json::Value;

diesel::define_sql_function! {
    /// Whether the JSON text `doc` contains the JSON text `needle`, as
    /// PostgreSQL's `doc::jsonb @> needle::jsonb` decides it.
    fn coffer_json_contains(doc: Text, needle: Text) -> Bool;
}

diesel::define_sql_function! {
    /// Unicode lowercase (SQLite's own `lower` only folds ASCII).
    fn coffer_lower(text: Text) -> Text;
}

diesel::define_sql_function! {
    /// 1-based position of `needle` in `haystack`, 0 when absent.
    fn instr(haystack: Text, needle: Text) -> diesel::sql_types::Integer;
}

pub(crate) fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    coffer_json_contains_utils::register_impl(conn, |doc: String, needle: String| {
        match (serde_json::from_str(&doc), serde_json::from_str(&needle)) {
            (Ok(doc), Ok(needle)) => contains(&doc, &needle),
            _ => false,
        }
    })?;
    coffer_lower_utils::register_impl(conn, |text: String| text.to_lowercase())?;
    Ok(())
}

/// `jsonb @>`: objects contain objects whose every key they hold with a
/// containing value; arrays contain arrays whose every element some element
/// of theirs contains; scalars contain equal scalars (numbers by value).
pub(crate) fn contains(doc: &Value, needle: &Value) -> bool {
    match (doc, needle) {
        (Value::Object(doc), Value::Object(needle)) => needle
            .iter()
            .all(|(k, v)| doc.get(k).is_some_and(|d| contains(d, v))),
        (Value::Array(doc), Value::Array(needle)) => {
            needle.iter().all(|n| doc.iter().any(|d| contains(d, n)))
        }
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containment_follows_postgres() {
        let doc = json!({"a": 1, "tags": ["x", "y"], "n": {"deep": true, "k": "v"}});
        assert!(contains(&doc, &json!({})));
        assert!(contains(&doc, &json!({"a": 1.0})));
        assert!(contains(&doc, &json!({"tags": ["y"]})));
        assert!(contains(&doc, &json!({"n": {"deep": true}})));
        assert!(!contains(&doc, &json!({"a": 2})));
        assert!(!contains(&doc, &json!({"tags": ["z"]})));
        assert!(!contains(&doc, &json!({"n": {"deep": false}})));
        assert!(!contains(&doc, &json!({"missing": null})));
        assert!(!contains(&doc, &json!({"a": "1"})));
    }
}
