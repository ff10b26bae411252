//! Malware scanning of file bodies (ClamAV's clamd in production and in
//! the tests: `coffer-clamav`).

use async_trait::async_trait;
use coffer_domain::ScanVerdict;

use crate::{ByteStream, ScanError};

/// Scans a body for malware and answers with a verdict.
///
/// An error is never a verdict: a body the scanner could not finish with
/// is unscanned, whatever the kind, and a caller that requires scanning
/// treats it as not clean (fails closed).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Scanner: Send + Sync + 'static {
    /// Stream `body` to the scanner, with bounded memory, and return what
    /// it found. An empty body is scanned like any other.
    ///
    /// # Errors
    /// `Unavailable` when the scanner cannot be reached, drops the
    /// connection or does not answer in time; `TooLarge` when the body is
    /// longer than the scanner accepts; `Internal` when the body stream
    /// fails or the scanner answers something unexpected.
    async fn scan(&self, body: ByteStream) -> Result<ScanVerdict, ScanError>;

    /// Whether the scanner answers, for `/readyz`.
    ///
    /// # Errors
    /// `Unavailable` when it cannot be reached or does not answer in time;
    /// `Internal` when it answers something unexpected.
    async fn check_ready(&self) -> Result<(), ScanError>;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ScanErrorKind;

    struct Down;

    #[async_trait]
    impl Scanner for Down {
        async fn scan(&self, _body: ByteStream) -> Result<ScanVerdict, ScanError> {
            Err(ScanError::new(
                ScanErrorKind::Unavailable,
                "connection refused",
            ))
        }

        async fn check_ready(&self) -> Result<(), ScanError> {
            Err(ScanError::new(
                ScanErrorKind::Unavailable,
                "connection refused",
            ))
        }
    }

    #[test]
    fn a_scanner_is_used_as_a_shared_trait_object() {
        let scanner: Arc<dyn Scanner> = Arc::new(Down);
        let err = futures::executor::block_on(scanner.scan(Box::pin(futures::stream::empty())));
        let err = err.err();
        assert_eq!(
            err.as_ref().map(ScanError::kind),
            Some(ScanErrorKind::Unavailable)
        );
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("unavailable: connection refused")
        );
        assert_eq!(
            ScanError::new(ScanErrorKind::TooLarge, "over 100M").to_string(),
            "too large to scan: over 100M"
        );
    }
}
