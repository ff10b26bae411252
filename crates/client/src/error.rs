//! What can go wrong talking to Coffer, its store or its issuer.

use std::fmt;

use coffer_domain::ErrorCode;

/// The machine `code` of a problem document: one this version knows, or
/// the string a newer server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Known(ErrorCode),
    Other(String),
}

impl Code {
    /// Reads a problem document's `code`.
    pub fn parse(code: &str) -> Self {
        ErrorCode::from_code(code).map_or_else(|| Self::Other(code.to_owned()), Self::Known)
    }

    /// Whether this is `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        *self == Self::Known(code)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known(code) => f.write_str(code.as_str()),
            Self::Other(code) => f.write_str(code),
        }
    }
}

/// An error of the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Coffer answered with a problem document (RFC 9457).
    #[error("{detail} ({status} {code})")]
    Api {
        status: u16,
        code: Code,
        detail: String,
        /// The input field at fault, for validation errors.
        field: Option<String>,
    },
    /// The store refused a presigned request (an expired URL, a body that
    /// does not match the length or checksum it was signed for).
    #[error("the store answered {status} to {method} {what}: {body}")]
    Store {
        status: u16,
        method: &'static str,
        what: String,
        body: String,
    },
    /// Coffer, the store or the issuer could not be reached.
    #[error("cannot reach {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The bytes downloaded are not the bytes Coffer verified.
    #[error(
        "checksum mismatch for {what}: Coffer verified SHA-256 {expected}, the bytes received hash to {actual}"
    )]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// Signing in failed or no valid token can be had.
    #[error("sign-in failed: {0}")]
    Auth(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A resumed upload no longer matches the local file or the server.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// A value that Coffer would refuse, caught before asking it (a
    /// filename with `/`, a folder with `..`).
    #[error(transparent)]
    Invalid(#[from] coffer_domain::ValidationError),
    /// An answer that is not what the API documents.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl Error {
    /// The HTTP status of an API or store error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Store { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document's code, for an API error.
    pub fn code(&self) -> Option<&Code> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn connect(url: &str, source: reqwest::Error) -> Self {
        Self::Connect {
            url: redact_query(url),
            source: source.without_url(),
        }
    }

    /// Whether trying the same idempotent request again may succeed:
    /// the service was unavailable or the connection failed.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Api { status, .. } | Self::Store { status, .. } => {
                matches!(status, 502..=504) || *status == 429
            }
            _ => false,
        }
    }
}

/// A presigned URL's query is a credential: errors show the URL without it.
pub(crate) fn redact_query(url: &str) -> String {
    url.split_once('?')
        .map_or_else(|| url.to_owned(), |(base, _)| format!("{base}?…"))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_as_known_or_keeps_its_string() {
        assert!(Code::parse("quota_exceeded").is(ErrorCode::QuotaExceeded));
        assert_eq!(Code::parse("brand_new"), Code::Other("brand_new".into()));
        assert_eq!(Code::parse("brand_new").to_string(), "brand_new");
    }

    #[test]
    fn presigned_queries_stay_out_of_messages() {
        assert_eq!(
            redact_query("http://s3/b/k?X-Amz-Signature=abc"),
            "http://s3/b/k?…"
        );
        assert_eq!(redact_query("http://s3/b/k"), "http://s3/b/k");
    }
}
