use coffer_ports::{StoreError, StoreErrorKind};

/// What can go wrong in the local-disk store.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no object {0}")]
    NoSuchKey(String),
    #[error("no bucket {0}")]
    NoSuchBucket(String),
    #[error("no multipart upload {0}")]
    NoSuchUpload(String),
    #[error("key or bucket {0:?} does not map to a safe path")]
    UnsafeKey(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the body stream failed: {0}")]
    Body(String),
    #[error("the body holds {actual} bytes, {expected} were announced")]
    LengthMismatch { expected: u64, actual: u64 },
    #[error("the range selects nothing of an object of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("the body's SHA-256 does not match the announced checksum")]
    BadDigest,
    #[error("signing key {path}: {reason}")]
    SigningKey { path: String, reason: String },
    #[error("corrupt store file {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a blocking task failed: {0}")]
    Task(String),
}

impl FsError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub(crate) fn kind(&self) -> StoreErrorKind {
        match self {
            Self::NoSuchKey(_) | Self::NoSuchBucket(_) | Self::NoSuchUpload(_) => {
                StoreErrorKind::NotFound
            }
            Self::UnsafeKey(_)
            | Self::Refused(_)
            | Self::LengthMismatch { .. }
            | Self::RangeNotSatisfiable { .. }
            | Self::BadDigest => StoreErrorKind::Refused,
            Self::Conflict(_) => StoreErrorKind::Conflict,
            // A full or read-only disk is the local equivalent of a store that
            // cannot take writes right now.
            Self::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                StoreErrorKind::Unavailable
            }
            Self::Body(_)
            | Self::SigningKey { .. }
            | Self::Corrupt { .. }
            | Self::Io { .. }
            | Self::Task(_) => StoreErrorKind::Internal,
        }
    }
}

impl From<FsError> for StoreError {
    fn from(error: FsError) -> Self {
        StoreError::new(error.kind(), error.to_string()).with_source(error)
    }
}

impl From<tokio::task::JoinError> for FsError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Task(error.to_string())
    }
}

/// Runs blocking filesystem work off the async threads.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, FsError>
where
    F: FnOnce() -> Result<T, FsError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await?
}
