use coffer_ports::{MetadataError, MetadataErrorKind};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong inside the PostgreSQL adapter. Every variant maps onto
/// one [`MetadataErrorKind`] in [`From<PgError> for MetadataError`].
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Quota(#[from] coffer_domain::LimitViolation),
    #[error("{0}")]
    InvalidState(String),
    #[error("could not get a database connection: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("invalid pool configuration: {0}")]
    PoolBuild(#[from] diesel_async::pooled_connection::deadpool::BuildError),
    #[error("database error: {0}")]
    Diesel(#[from] DieselError),
    #[error("could not connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("a stored row is invalid: {0}")]
    CorruptRow(String),
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// The database did not answer within the configured bound.
    #[error("the database did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

/// What PostgreSQL says when it ends a statement or a session for a reason
/// outside the request: an operator (`pg_terminate_backend`,
/// `pg_cancel_backend`), the statement, lock or idle timeouts, a shutdown,
/// a crash restart. diesel-async keeps the SQLSTATE only for constraint
/// and serialization errors and reports these as `Unknown` with the
/// server's message, so the message is all there is to go on. They are in
/// English unless the server's `lc_messages` says otherwise
/// (docs/operations.md); a connection they close also fails every later
/// statement as `UnableToSendCommand`, which maps to `Unavailable` anyway.
const OUTAGE_MESSAGES: &[&str] = &[
    // 57P01 admin_shutdown: pg_terminate_backend, smart/fast shutdown
    "terminating connection due to administrator command",
    // 57014 query_canceled
    "canceling statement due to statement timeout",
    "canceling statement due to user request",
    // 55P03 lock_not_available
    "canceling statement due to lock timeout",
    // 25P03, 57P05
    "terminating connection due to idle-in-transaction timeout",
    "terminating connection due to idle-session timeout",
    // 57P02 crash_shutdown
    "terminating connection because of crash of another server process",
    // 57P03 cannot_connect_now
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
];

/// How the trigger of a sealed audit chain (migration
/// `2026-12-08-000001_moves_from_homes`) begins its refusal.
const SEALED_CHAIN: &str = "coffer: the audit chain of tenant";

fn is_outage(info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync)) -> bool {
    let message = info.message();
    OUTAGE_MESSAGES
        .iter()
        .any(|known| message.starts_with(known))
}

impl PgError {
    /// A transaction that lost a serialization race; the unit of work may be
    /// replayed from the start.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            PgError::Diesel(DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure,
                _
            ))
        )
    }

    pub(crate) fn kind(&self) -> MetadataErrorKind {
        use MetadataErrorKind as K;
        match self {
            PgError::NotFound(_) | PgError::Diesel(DieselError::NotFound) => K::NotFound,
            PgError::Conflict(_)
            | PgError::Diesel(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                K::Conflict
            }
            PgError::Quota(_) => K::QuotaExceeded,
            PgError::InvalidState(_) => K::InvalidState,
            PgError::Diesel(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info))
                if info.message().starts_with(SEALED_CHAIN) =>
            {
                K::Moving
            }
            PgError::Diesel(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info))
                if is_outage(info.as_ref()) =>
            {
                K::Unavailable
            }
            PgError::Pool(_)
            | PgError::Connect(_)
            | PgError::Timeout(_)
            // tokio-postgres errors without a SQLSTATE (socket closed,
            // server gone) arrive as UnableToSendCommand.
            | PgError::Diesel(
                DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                )
                | DieselError::BrokenTransactionManager,
            ) => K::Unavailable,
            PgError::Diesel(_)
            | PgError::PoolBuild(_)
            | PgError::Migration(_)
            | PgError::CorruptRow(_)
            | PgError::OutOfRange(_) => K::Internal,
        }
    }
}

impl From<PgError> for MetadataError {
    fn from(err: PgError) -> Self {
        let kind = err.kind();
        MetadataError::new(kind, err.to_string()).with_source(err)
    }
}

/// `Some(kind)` when `err` is a constraint violation of that kind.
pub(crate) fn db_kind(err: &PgError) -> Option<DatabaseErrorKind> {
    match err {
        PgError::Diesel(DieselError::DatabaseError(kind, _)) => Some(*kind),
        _ => None,
    }
}

/// A row that may be missing: diesel's `NotFound` as `None`.
pub(crate) fn found<T>(result: Result<T, PgError>) -> Result<Option<T>, PgError> {
    match result {
        Ok(row) => Ok(Some(row)),
        Err(PgError::Diesel(DieselError::NotFound)) => Ok(None),
        Err(e) => Err(e),
    }
}
