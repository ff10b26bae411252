//! Upload requests: a folder that people outside the tenant may upload
//! into through a public page (`/u/{token}`), for a limited time and a
//! limited number of files — an accountant collecting receipts, a law firm
//! collecting signed documents. The files belong to the member who asked.
//!
//! Like a share link, the request is found by the SHA-256 of its token
//! ([`crate::LinkToken`]); Coffer keeps no token.

use thiserror::Error;
use time::OffsetDateTime;

use crate::{
    ContentType, LogicalPath, MAX_LINK_LIFETIME, MAX_OBJECT_SIZE, Subject, TenantId,
    UploadRequestId,
};

/// The most files one request may take.
pub const MAX_REQUEST_FILES: u32 = 1_000;

/// The longest message a request may show its visitors, in characters.
pub const MAX_REQUEST_MESSAGE_CHARS: usize = 2_000;

/// The most content types a request may name.
pub const MAX_REQUEST_TYPES: usize = 50;

/// What a new upload request allows, checked against the time it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTerms {
    pub path: LogicalPath,
    pub expires_at: OffsetDateTime,
    pub max_files: u32,
    /// The largest file, in bytes.
    pub max_size: u64,
    /// The content types accepted; empty: any the tenant's plan allows.
    pub allowed_types: Vec<ContentType>,
    pub message: Option<String>,
}

/// Why [`RequestTerms::new`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestTermsError {
    #[error("expires_at must lie in the future")]
    ExpiryInPast,
    #[error("a request may stay open at most 365 days")]
    ExpiryTooFar,
    #[error("max_files must be 1 to 1000")]
    FilesOutOfRange,
    #[error("max_size must be 1 byte to 5 TiB")]
    SizeOutOfRange,
    #[error("allowed_types may name at most 50 types")]
    TooManyTypes,
    #[error("message must be at most 2000 characters, without control characters but line breaks")]
    BadMessage,
}

impl RequestTermsError {
    /// The request field at fault.
    pub const fn field(self) -> &'static str {
        match self {
            Self::ExpiryInPast | Self::ExpiryTooFar => "expires_at",
            Self::FilesOutOfRange => "max_files",
            Self::SizeOutOfRange => "max_size",
            Self::TooManyTypes => "allowed_types",
            Self::BadMessage => "message",
        }
    }
}

impl RequestTerms {
    /// # Errors
    /// An expiry not after `now` or beyond a year; a file count outside
    /// 1…[`MAX_REQUEST_FILES`]; a size outside 1…[`MAX_OBJECT_SIZE`]; more
    /// than [`MAX_REQUEST_TYPES`] types; a message too long or with
    /// control characters.
    pub fn new(terms: Self, now: OffsetDateTime) -> Result<Self, RequestTermsError> {
        if terms.expires_at <= now {
            return Err(RequestTermsError::ExpiryInPast);
        }
        if terms.expires_at - now > MAX_LINK_LIFETIME {
            return Err(RequestTermsError::ExpiryTooFar);
        }
        if !(1..=MAX_REQUEST_FILES).contains(&terms.max_files) {
            return Err(RequestTermsError::FilesOutOfRange);
        }
        if !(1..=MAX_OBJECT_SIZE).contains(&terms.max_size) {
            return Err(RequestTermsError::SizeOutOfRange);
        }
        if terms.allowed_types.len() > MAX_REQUEST_TYPES {
            return Err(RequestTermsError::TooManyTypes);
        }
        if let Some(message) = &terms.message
            && (message.chars().count() > MAX_REQUEST_MESSAGE_CHARS
                || message
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r'))
        {
            return Err(RequestTermsError::BadMessage);
        }
        Ok(terms)
    }
}

/// An upload request as Coffer keeps it (without its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub id: UploadRequestId,
    pub tenant_id: TenantId,
    pub terms: RequestTerms,
    /// Uploads begun through it so far (each takes a place when it starts).
    pub files_received: u32,
    pub closed_at: Option<OffsetDateTime>,
    /// The member who asked: the files are theirs.
    pub created_by: Subject,
    pub created_at: OffsetDateTime,
}

/// Why an upload request takes no more files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClosed {
    /// Its creator (or an admin) closed it.
    Closed,
    Expired,
    /// It took every file it allowed.
    Full,
}

impl RequestClosed {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Expired => "expired",
            Self::Full => "full",
        }
    }
}

impl UploadRequest {
    /// Why the request takes no more files at `now`, if it does not.
    pub fn closed(&self, now: OffsetDateTime) -> Option<RequestClosed> {
        if self.closed_at.is_some() {
            Some(RequestClosed::Closed)
        } else if self.terms.expires_at <= now {
            Some(RequestClosed::Expired)
        } else if self.files_received >= self.terms.max_files {
            Some(RequestClosed::Full)
        } else {
            None
        }
    }

    /// Whether the request takes a file of `content_type` and `size`
    /// bytes (the tenant's own limits apply on top).
    pub fn accepts(&self, content_type: &ContentType, size: u64) -> bool {
        size <= self.terms.max_size
            && (self.terms.allowed_types.is_empty()
                || self
                    .terms
                    .allowed_types
                    .iter()
                    .any(|t| t.as_str().eq_ignore_ascii_case(content_type.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + secs)
    }

    fn octet() -> ContentType {
        match ContentType::new(ContentType::OCTET_STREAM) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    fn terms() -> RequestTerms {
        RequestTerms {
            path: LogicalPath::root(),
            expires_at: at(100),
            max_files: 2,
            max_size: 1_000,
            allowed_types: Vec::new(),
            message: Some("Please send your receipts.\nThank you!".into()),
        }
    }

    #[test]
    fn terms_are_checked_field_by_field() {
        assert_eq!(RequestTerms::new(terms(), at(0)), Ok(terms()));
        type Change = fn(&mut RequestTerms);
        let cases: [(Change, RequestTermsError); 6] = [
            (|t| t.expires_at = at(0), RequestTermsError::ExpiryInPast),
            (
                |t| t.expires_at = at(0) + MAX_LINK_LIFETIME + Duration::SECOND,
                RequestTermsError::ExpiryTooFar,
            ),
            (|t| t.max_files = 0, RequestTermsError::FilesOutOfRange),
            (|t| t.max_size = 0, RequestTermsError::SizeOutOfRange),
            (
                |t| t.allowed_types = vec![octet(); 51],
                RequestTermsError::TooManyTypes,
            ),
            (
                |t| t.message = Some("bell\u{7}".into()),
                RequestTermsError::BadMessage,
            ),
        ];
        for (change, expected) in cases {
            let mut t = terms();
            change(&mut t);
            assert_eq!(RequestTerms::new(t, at(0)), Err(expected));
        }
        assert_eq!(RequestTermsError::FilesOutOfRange.field(), "max_files");
    }

    #[test]
    fn a_request_closes_when_closed_expired_or_full() {
        let mut request = UploadRequest {
            id: UploadRequestId::new_random(),
            tenant_id: TenantId::new_random(),
            terms: terms(),
            files_received: 1,
            closed_at: None,
            created_by: Subject::system(),
            created_at: at(0),
        };
        assert_eq!(request.closed(at(99)), None);
        assert_eq!(request.closed(at(100)), Some(RequestClosed::Expired));
        request.files_received = 2;
        assert_eq!(request.closed(at(0)), Some(RequestClosed::Full));
        request.closed_at = Some(at(1));
        assert_eq!(request.closed(at(200)), Some(RequestClosed::Closed));
    }

    #[test]
    fn only_allowed_types_up_to_the_size_are_accepted() {
        let mut request = UploadRequest {
            id: UploadRequestId::new_random(),
            tenant_id: TenantId::new_random(),
            terms: terms(),
            files_received: 0,
            closed_at: None,
            created_by: Subject::system(),
            created_at: at(0),
        };
        let pdf = ContentType::new("application/pdf");
        assert_eq!(pdf.as_ref().map(|p| request.accepts(p, 1_000)), Ok(true));
        assert_eq!(pdf.as_ref().map(|p| request.accepts(p, 1_001)), Ok(false));
        request.terms.allowed_types = vec![octet()];
        assert_eq!(pdf.as_ref().map(|p| request.accepts(p, 10)), Ok(false));
    }
}
