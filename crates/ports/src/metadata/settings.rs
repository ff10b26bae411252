//! A tenant's settings and feature flags.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{FeatureFlag, TenantId, TenantSlug};

use crate::{Journal, MetadataError, TenantScope};

/// Per-tenant settings and feature flags, kept in the registry.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantSettings: Send + Sync + 'static {
    /// A tenant setting (`None` when unset).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError>;

    /// Set (`Some`) or clear (`None`) a tenant setting.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// Every setting of the tenant as stored (reserved keys such as
    /// `webhook` included), in key order.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError>;

    /// A tenant feature flag (`None` when unset), expired or not.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError>;

    /// Every feature flag of the tenant, expired ones included, in key order.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError>;

    /// Set (`Some`, replacing the flag of the same key) or clear (`None`) a
    /// tenant feature flag, journalled in the same transaction. Like every
    /// change to a tenant's configuration it is announced to other
    /// instances (see [`crate::TenantChanges`]) when it commits.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        flag: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError>;

    /// Every tenant that has the setting `key`, with its slug and the
    /// value, by tenant id (the platform path: the event dispatcher's one
    /// query per round for the tenants' webhooks). PostgreSQL admits only
    /// the `webhook` key on that path (policy `platform_reads_webhooks`).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError>;
}
