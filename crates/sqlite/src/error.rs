use coffer_ports::{MetadataError, MetadataErrorKind};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong inside the SQLite adapter. Every variant maps onto one
/// [`MetadataErrorKind`] in [`From<SqliteError> for MetadataError`].
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
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
    #[error("could not open the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("could not create the database directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("a stored row is invalid: {0}")]
    CorruptRow(String),
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    #[error("the database task failed: {0}")]
    Task(String),
}

impl SqliteError {
    pub(crate) fn kind(&self) -> MetadataErrorKind {
        use MetadataErrorKind as K;
        match self {
            Self::NotFound(_) | Self::Diesel(DieselError::NotFound) => K::NotFound,
            Self::Conflict(_)
            | Self::Diesel(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                K::Conflict
            }
            Self::Quota(_) => K::QuotaExceeded,
            Self::InvalidState(_) => K::InvalidState,
            Self::Diesel(DieselError::DatabaseError(_, info))
                if info.message().contains("database is locked") =>
            {
                // Another writer held the lock past the busy timeout.
                K::Unavailable
            }
            Self::Pool(_)
            | Self::Connect(_)
            | Self::Diesel(
                DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                )
                | DieselError::BrokenTransactionManager,
            ) => K::Unavailable,
            Self::Diesel(_)
            | Self::PoolBuild(_)
            | Self::Migration(_)
            | Self::Io(_)
            | Self::CorruptRow(_)
            | Self::OutOfRange(_)
            | Self::Task(_) => K::Internal,
        }
    }

    /// The database-level kind of a constraint violation, if this is one.
    pub(crate) fn db_kind(&self) -> Option<DatabaseErrorKind> {
        match self {
            Self::Diesel(DieselError::DatabaseError(kind, _)) => Some(*kind),
            _ => None,
        }
    }
}

impl From<SqliteError> for MetadataError {
    fn from(err: SqliteError) -> Self {
        MetadataError::new(err.kind(), err.to_string()).with_source(err)
    }
}
