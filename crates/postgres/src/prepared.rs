//! Hand-written statements that diesel prepares once per connection.

/// Makes `$name` a query diesel caches by its type (so its text must not
/// depend on its binds) and whose rows are read by column name.
macro_rules! prepared_by_name {
    ($name:ident) => {
        impl diesel::query_builder::QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::query_builder::Query for $name {
            type SqlType = diesel::sql_types::Untyped;
        }
    };
}

pub(crate) use prepared_by_name;
