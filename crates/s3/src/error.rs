use std::error::Error as StdError;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use coffer_ports::{StoreError, StoreErrorKind};

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What can go wrong inside the S3 adapter. Mapped onto [`StoreErrorKind`] at
/// the port boundary by `From<S3Error> for StoreError`.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("invalid S3 configuration: {0}")]
    Config(String),
    /// A request the adapter will not send (presign lifetime, part number…).
    #[error("refused: {0}")]
    Refused(String),
    /// The store answered with an error.
    #[error("{operation}: store answered {status} {code}: {message}")]
    Service {
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
        #[source]
        source: Source,
    },
    /// No answer: connection refused, DNS, TLS, timeout, broken response.
    #[error("{operation}: store unreachable")]
    Unreachable {
        operation: &'static str,
        #[source]
        source: Source,
    },
    /// The SDK could not build the request.
    #[error("{operation}: request could not be built")]
    Build {
        operation: &'static str,
        #[source]
        source: Source,
    },
    /// A bucket to remove still holds objects or uploads.
    #[error("bucket {0} is not empty")]
    NotEmpty(String),
    #[error("upload body failed")]
    Body(#[source] std::io::Error),
    #[error("{operation}: unexpected answer: {detail}")]
    Unexpected {
        operation: &'static str,
        detail: String,
    },
}

/// Error codes of stores that lack an optional bucket feature (public access
/// block, default encryption, lifecycle) instead of failing the whole setup.
const NOT_IMPLEMENTED_CODES: &[&str] = &[
    "NotImplemented",
    "NotSupported",
    "XNotImplemented",
    "UnsupportedOperation",
    "MethodNotAllowed",
];

impl S3Error {
    /// Wraps an SDK error of `operation`, keeping the store's code and status.
    pub(crate) fn sdk<E>(operation: &'static str, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let inner = ctx.into_err();
                Self::Service {
                    operation,
                    status,
                    code: inner.code().unwrap_or_default().to_owned(),
                    message: inner.message().unwrap_or_default().to_owned(),
                    source: Box::new(inner),
                }
            }
            SdkError::ConstructionFailure(_) => Self::Build {
                operation,
                source: Box::new(err),
            },
            // Dispatch failures, timeouts and unreadable responses all mean
            // the store did not answer usefully; a retry may succeed.
            other => Self::Unreachable {
                operation,
                source: Box::new(other),
            },
        }
    }

    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The store has no such object, bucket or upload.
    pub fn is_not_found(&self) -> bool {
        self.kind() == StoreErrorKind::NotFound
    }

    /// The store does not implement the (optional) feature asked for.
    pub fn is_not_implemented(&self) -> bool {
        self.status() == Some(501)
            || self
                .code()
                .is_some_and(|code| NOT_IMPLEMENTED_CODES.contains(&code))
    }

    pub fn kind(&self) -> StoreErrorKind {
        match self {
            Self::Refused(_) => StoreErrorKind::Refused,
            Self::NotEmpty(_) => StoreErrorKind::Conflict,
            Self::Unreachable { .. } => StoreErrorKind::Unavailable,
            Self::Config(_) | Self::Build { .. } | Self::Body(_) | Self::Unexpected { .. } => {
                StoreErrorKind::Internal
            }
            Self::Service { status, code, .. } => service_kind(*status, code),
        }
    }
}

fn service_kind(status: u16, code: &str) -> StoreErrorKind {
    match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NotFound" => StoreErrorKind::NotFound,
        "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall" | "PreconditionFailed"
        | "BadDigest" => StoreErrorKind::Conflict,
        "InvalidRange" => StoreErrorKind::Refused,
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" => {
            StoreErrorKind::Unavailable
        }
        _ => match status {
            404 => StoreErrorKind::NotFound,
            409 | 412 => StoreErrorKind::Conflict,
            416 => StoreErrorKind::Refused,
            408 | 429 | 500..=599 => StoreErrorKind::Unavailable,
            _ => StoreErrorKind::Internal,
        },
    }
}

impl From<S3Error> for StoreError {
    fn from(err: S3Error) -> Self {
        let kind = err.kind();
        StoreError::new(kind, err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_codes_map_to_port_kinds() {
        let cases = [
            (404, "NoSuchKey", StoreErrorKind::NotFound),
            (404, "NoSuchUpload", StoreErrorKind::NotFound),
            (404, "", StoreErrorKind::NotFound),
            (400, "InvalidPart", StoreErrorKind::Conflict),
            (416, "InvalidRange", StoreErrorKind::Refused),
            (503, "SlowDown", StoreErrorKind::Unavailable),
            (502, "", StoreErrorKind::Unavailable),
            (403, "AccessDenied", StoreErrorKind::Internal),
            (403, "SignatureDoesNotMatch", StoreErrorKind::Internal),
        ];
        for (status, code, kind) in cases {
            assert_eq!(service_kind(status, code), kind, "{status} {code}");
        }
    }
}
