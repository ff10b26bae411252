//! Whether the metadata database answers.

use async_trait::async_trait;

use crate::MetadataError;

/// The readiness probe of the metadata database.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetadataReadiness: Send + Sync + 'static {
    /// Whether the database answers, for `/readyz`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn check_ready(&self) -> Result<(), MetadataError>;
}
