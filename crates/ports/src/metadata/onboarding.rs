//! The onboarding queue: a tenant's provisioning as a resumable job.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{
    Onboarding, OnboardingRequest, OnboardingState, OnboardingStep, Tenant, TenantId, TenantStatus,
};
use time::OffsetDateTime;

use crate::{Journal, MetadataError, NewTenant};

/// An onboarding to queue with its tenant (see
/// [`OnboardingQueue::create_onboarding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOnboarding {
    pub request: OnboardingRequest,
    pub queued_at: OffsetDateTime,
}

/// The next state of an onboarding, written only while it is in
/// `expected` (otherwise `InvalidState`): a worker's record of a step,
/// its outcome, or a retry. `tenant_status` changes the tenant row in the
/// same transaction (`active` when done, `provisioning_failed` on failure,
/// `provisioning` on retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnboardingUpdate {
    pub expected: OnboardingState,
    pub state: OnboardingState,
    pub current_step: Option<OnboardingStep>,
    pub steps_done: Vec<OnboardingStep>,
    pub last_error: Option<String>,
    pub tenant_status: Option<TenantStatus>,
    pub at: OffsetDateTime,
}

/// Onboardings, claimed by workers with a lease (platform path).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OnboardingQueue: Send + Sync + 'static {
    /// Create the tenant (normally `provisioning`) and queue its
    /// onboarding, in one transaction.
    ///
    /// # Errors
    /// `Conflict` when the slug (or id) is taken.
    async fn create_onboarding(
        &self,
        tenant: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError>;

    /// A tenant's onboarding (platform path).
    ///
    /// # Errors
    /// `NotFound` for a tenant that was never onboarded as a job.
    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError>;

    /// Claim the oldest onboarding that is `queued`, or `running` with a
    /// lease that ended before `now` (its worker died), skipping rows
    /// another worker is claiming (`FOR UPDATE SKIP LOCKED`): it becomes
    /// `running`, leased until `now + lease`, one attempt more. `None`
    /// when nothing is due.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError>;

    /// Move an onboarding on (see [`OnboardingUpdate`]), with its record.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless it is in `update.expected`.
    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError>;
}

/// A wrapper of a [`OnboardingQueue`] that changes some of its methods: implement
/// [`OnboardingQueueLayer::inner`] and override what changes; every other method goes
/// to the inner port, and the wrapper is a [`OnboardingQueue`] itself. A method
/// added to [`OnboardingQueue`] is added here once, so no wrapper forwards by hand.
#[async_trait]
pub trait OnboardingQueueLayer: Send + Sync + 'static {
    /// The port this one wraps.
    fn inner(&self) -> &dyn OnboardingQueue;

    /// [`OnboardingQueue::create_onboarding`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`OnboardingQueue::create_onboarding`].
    async fn create_onboarding(
        &self,
        tenant: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        self.inner()
            .create_onboarding(tenant, onboarding, journal)
            .await
    }

    /// [`OnboardingQueue::get_onboarding`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`OnboardingQueue::get_onboarding`].
    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError> {
        self.inner().get_onboarding(tenant).await
    }

    /// [`OnboardingQueue::claim_onboarding`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`OnboardingQueue::claim_onboarding`].
    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        self.inner().claim_onboarding(now, lease).await
    }

    /// [`OnboardingQueue::update_onboarding`], forwarded unless overridden.
    ///
    /// # Errors
    /// As [`OnboardingQueue::update_onboarding`].
    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError> {
        self.inner()
            .update_onboarding(tenant, update, journal)
            .await
    }
}

#[async_trait]
impl<L: OnboardingQueueLayer> OnboardingQueue for L {
    async fn create_onboarding(
        &self,
        tenant: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        OnboardingQueueLayer::create_onboarding(self, tenant, onboarding, journal).await
    }

    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError> {
        OnboardingQueueLayer::get_onboarding(self, tenant).await
    }

    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        OnboardingQueueLayer::claim_onboarding(self, now, lease).await
    }

    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError> {
        OnboardingQueueLayer::update_onboarding(self, tenant, update, journal).await
    }
}
