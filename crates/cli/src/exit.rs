//! One line and one exit code per failure class, so scripts can tell a
//! missing file from an expired sign-in from a full quota.

use coffer_client::Error;

/// A failed command: its exit code and the line printed for it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: u8,
    pub message: String,
}

/// The exit codes, as docs/client.md lists them.
pub mod code {
    /// Anything not below (an unexpected answer, a bug).
    pub const OTHER: u8 = 1;
    /// The command line is wrong, or nothing is configured to run it.
    pub const USAGE: u8 = 2;
    /// Not signed in, the sign-in expired or was refused (`401`).
    pub const AUTH: u8 = 3;
    /// Signed in, but not allowed (`403`).
    pub const FORBIDDEN: u8 = 4;
    /// No such file (`404`; another tenant's files are `404` too).
    pub const NOT_FOUND: u8 = 5;
    /// In the way of something (`409`: the name is taken, retention, …).
    pub const CONFLICT: u8 = 6;
    /// Too large for the plan or the quota (`413`).
    pub const TOO_LARGE: u8 = 7;
    /// The plan does not take this type of file (`415`).
    pub const UNSUPPORTED_TYPE: u8 = 8;
    /// Coffer refused the input (`400`, `422`).
    pub const INVALID: u8 = 9;
    /// Coffer or the store is unavailable, after retries (`503`, `429`,
    /// no connection).
    pub const UNAVAILABLE: u8 = 10;
    /// The bytes received are not the bytes Coffer verified.
    pub const CHECKSUM: u8 = 11;
    /// The tenant is suspended (`402`) or cancelled (`410`).
    pub const TENANT_STATE: u8 = 12;
    /// A local file could not be read or written.
    pub const LOCAL_IO: u8 = 13;
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: code::USAGE,
            message: message.into(),
        }
    }

    pub fn with(exit: u8, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let exit = match &error {
            Error::Api { status, .. } => match status {
                401 => code::AUTH,
                402 | 410 => code::TENANT_STATE,
                403 => code::FORBIDDEN,
                404 => code::NOT_FOUND,
                409 => code::CONFLICT,
                413 => code::TOO_LARGE,
                415 => code::UNSUPPORTED_TYPE,
                400 | 422 => code::INVALID,
                429 | 502..=504 => code::UNAVAILABLE,
                _ => code::OTHER,
            },
            Error::Store { status, .. } if *status >= 500 => code::UNAVAILABLE,
            Error::Connect { .. } => code::UNAVAILABLE,
            Error::ChecksumMismatch { .. } => code::CHECKSUM,
            Error::Auth(_) => code::AUTH,
            Error::Io { .. } => code::LOCAL_IO,
            Error::Resume(_) => code::CONFLICT,
            Error::Invalid(_) => code::INVALID,
            _ => code::OTHER,
        };
        Self {
            exit,
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use coffer_client::Code;

    use super::*;

    fn api(status: u16) -> Failure {
        Failure::from(Error::Api {
            status,
            code: Code::parse("x"),
            detail: "d".into(),
            field: None,
        })
    }

    #[test]
    fn every_failure_class_has_its_own_code() {
        let codes: Vec<u8> = [401, 403, 404, 409, 413, 415, 422, 503, 402]
            .into_iter()
            .map(|s| api(s).exit)
            .collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
        assert!(!codes.contains(&0) && !codes.contains(&code::USAGE));
    }
}
