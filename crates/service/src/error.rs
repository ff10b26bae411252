use std::fmt;

use coffer_domain::{ErrorCode, LimitViolation, ValidationError};
use coffer_ports::{
    IdentityError, IdentityErrorKind, MetadataError, MetadataErrorKind, ScanError, ScanErrorKind,
    StoreError, StoreErrorKind,
};

/// What kind of failure a use case ended in. The server maps each kind to
/// one HTTP status, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request cannot be parsed at all (400); only the HTTP layer,
    /// which sees raw requests, produces it.
    Malformed,
    /// No valid credentials (401).
    Unauthenticated,
    /// Authenticated, but not allowed on a resource of its own tenant (403).
    Forbidden,
    /// Unknown, or another tenant's (404).
    NotFound,
    /// Conflicts with the current state (409).
    Conflict,
    /// Over a size limit or quota (413).
    PayloadTooLarge,
    /// Content type not allowed (415).
    UnsupportedMediaType,
    /// Well-formed but invalid, or verification failed (422).
    Invalid,
    /// A byte range that selects nothing (416).
    RangeNotSatisfiable,
    /// The caller's tenant is suspended (402).
    TenantSuspended,
    /// The caller's tenant is cancelled (410).
    TenantCancelled,
    /// The deployment does not offer this (501): e.g. temporary
    /// credentials from a store without STS.
    Unsupported,
    /// A dependency is down (503).
    Unavailable,
    /// A bug or an unexpected answer (500).
    Internal,
}

/// A use case's failure: a kind, a stable machine `code` clients may match
/// on, and a human `detail` that never carries internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub detail: String,
    /// The input field at fault, for validation errors.
    pub field: Option<&'static str>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}): {}", self.code, self.kind, self.detail)
    }
}

impl ServiceError {
    pub fn new(kind: ErrorKind, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn forbidden(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, detail)
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, detail)
    }

    pub fn invalid(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, ErrorCode::Internal, detail)
    }

    /// Metadata errors about a file: `NotFound` names the file.
    pub(crate) fn from_file_lookup(err: MetadataError) -> Self {
        if err.is(MetadataErrorKind::NotFound) {
            Self::not_found("file")
        } else {
            err.into()
        }
    }
}

impl From<ValidationError> for ServiceError {
    fn from(err: ValidationError) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            code: ErrorCode::ValidationFailed,
            detail: err.to_string(),
            field: Some(err.field),
        }
    }
}

impl From<LimitViolation> for ServiceError {
    fn from(err: LimitViolation) -> Self {
        let (kind, code) = match err {
            LimitViolation::FileTooLarge { .. } => {
                (ErrorKind::PayloadTooLarge, ErrorCode::FileTooLarge)
            }
            LimitViolation::ContentTypeNotAllowed { .. } => (
                ErrorKind::UnsupportedMediaType,
                ErrorCode::ContentTypeNotAllowed,
            ),
            LimitViolation::QuotaBytes { .. } | LimitViolation::QuotaFiles { .. } => {
                (ErrorKind::PayloadTooLarge, ErrorCode::QuotaExceeded)
            }
        };
        Self::new(kind, code, err.to_string())
    }
}

impl From<MetadataError> for ServiceError {
    fn from(err: MetadataError) -> Self {
        match err.kind() {
            MetadataErrorKind::NotFound => Self::not_found("resource"),
            MetadataErrorKind::Conflict => {
                Self::conflict(ErrorCode::Conflict, err.message().to_owned())
            }
            MetadataErrorKind::QuotaExceeded => Self::new(
                ErrorKind::PayloadTooLarge,
                ErrorCode::QuotaExceeded,
                err.message().to_owned(),
            ),
            MetadataErrorKind::InvalidState => {
                Self::conflict(ErrorCode::InvalidState, err.message().to_owned())
            }
            MetadataErrorKind::Unavailable => {
                tracing::warn!(error = %err, "metadata store unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    ErrorCode::MetadataUnavailable,
                    "the metadata store is unavailable; retry later",
                )
            }
            MetadataErrorKind::Moving => Self::new(
                ErrorKind::Unavailable,
                ErrorCode::TenantMoving,
                "the tenant is being moved; retry in a moment",
            ),
            MetadataErrorKind::Internal => {
                tracing::error!(error = ?err, "metadata store failed");
                Self::internal("internal error")
            }
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err.kind() {
            StoreErrorKind::NotFound => Self::not_found("object"),
            StoreErrorKind::Conflict => {
                Self::conflict(ErrorCode::StorageConflict, err.message().to_owned())
            }
            StoreErrorKind::Refused => {
                // A refused key means our own bookkeeping is wrong: never the client's fault.
                tracing::error!(error = %err, "object store refused a request");
                Self::internal("internal error")
            }
            StoreErrorKind::Unavailable => {
                tracing::warn!(error = %err, "object store unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    ErrorCode::StorageUnavailable,
                    "the object store is unavailable; retry later",
                )
            }
            StoreErrorKind::Internal => {
                tracing::error!(error = ?err, "object store failed");
                Self::internal("internal error")
            }
        }
    }
}

impl From<ScanError> for ServiceError {
    fn from(err: ScanError) -> Self {
        match err.kind() {
            ScanErrorKind::Unavailable => {
                tracing::warn!(error = %err, "malware scanner unavailable");
                Self::new(
                    ErrorKind::Unavailable,
                    ErrorCode::ScannerUnavailable,
                    "the malware scanner is unavailable; scans resume when it is back",
                )
            }
            ScanErrorKind::TooLarge | ScanErrorKind::Internal => {
                tracing::error!(error = %err, "malware scanner failed");
                Self::internal("internal error")
            }
        }
    }
}

impl From<IdentityError> for ServiceError {
    fn from(err: IdentityError) -> Self {
        let code = match err.kind() {
            IdentityErrorKind::Invalid => ErrorCode::InvalidToken,
            IdentityErrorKind::Expired => ErrorCode::TokenExpired,
            IdentityErrorKind::TenantMissing => ErrorCode::TenantMissing,
            IdentityErrorKind::TenantNotAllowed => ErrorCode::TenantNotAllowed,
            IdentityErrorKind::Unavailable => {
                tracing::warn!(error = %err, "identity provider unavailable");
                return Self::new(
                    ErrorKind::Unavailable,
                    ErrorCode::IdentityUnavailable,
                    "the identity provider is unavailable; retry later",
                );
            }
            IdentityErrorKind::Internal => {
                tracing::error!(error = ?err, "identity provider failed");
                return Self::internal("internal error");
            }
        };
        Self::new(ErrorKind::Unauthenticated, code, err.message().to_owned())
    }
}

/// A page's `limit`: 1 to [`coffer_ports::MAX_PAGE_SIZE`], 100 when absent.
///
/// # Errors
/// `Invalid` (`invalid_limit`) outside that range.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ServiceError> {
    let limit = limit.unwrap_or(100);
    if (1..=coffer_ports::MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ServiceError::invalid(
            coffer_domain::ErrorCode::InvalidLimit,
            format!(
                "limit must be between 1 and {}",
                coffer_ports::MAX_PAGE_SIZE
            ),
        ))
    }
}
