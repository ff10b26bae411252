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
            PgError::Pool(_)
            | PgError::Connect(_)
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
