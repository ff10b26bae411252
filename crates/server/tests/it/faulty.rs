//! Metadata ports that go wrong on cue, for end-to-end fault runs. Each
//! fault wraps only the port whose behaviour it changes, overriding only
//! the method it breaks (the port's layer forwards the rest); every other
//! port is the real one.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, Onboarding, Tenant, TenantId};
use coffer_ports::{
    FileCatalog, FileCatalogLayer, Journal, MetadataError, MetadataPorts, OnboardingQueue,
    OnboardingQueueLayer, OnboardingUpdate, TenantData, TenantDataResolver, TenantScope,
};

/// The step to fail next (taken when it fires).
pub type Cue = Arc<std::sync::Mutex<Option<coffer_domain::OnboardingStep>>>;

/// What goes wrong.
pub enum Fault {
    /// `remove_file` never returns: a process that dies between deleting an
    /// object and removing its row, as a request sees it.
    HangOnRemove,
    /// The record of the cued onboarding step fails (after the step's work
    /// is done, so its compensation has something to undo), or the
    /// activation. The cue fires once, so a retry succeeds.
    FailOnboardingStep(Cue),
}

impl Fault {
    /// `ports`, with this fault in the one port it lives in.
    pub fn inject(self, mut ports: MetadataPorts) -> MetadataPorts {
        match self {
            Self::HangOnRemove => {
                ports.tenant_data = Arc::new(HangingRemovals(ports.tenant_data));
            }
            Self::FailOnboardingStep(cue) => {
                ports.onboarding = Arc::new(FailingStep {
                    queue: ports.onboarding,
                    cue,
                });
            }
        }
        ports
    }
}

/// Every tenant's files, with removals that never return.
struct HangingRemovals(Arc<dyn TenantDataResolver>);

#[async_trait]
impl TenantDataResolver for HangingRemovals {
    async fn tenant_data(&self, tenant: &Tenant) -> Result<Arc<TenantData>, MetadataError> {
        let mut data = (*self.0.tenant_data(tenant).await?).clone();
        data.files = Arc::new(HangOnRemove(data.files));
        Ok(Arc::new(data))
    }
}

struct HangOnRemove(Arc<dyn FileCatalog>);

#[async_trait]
impl FileCatalogLayer for HangOnRemove {
    fn inner(&self) -> &dyn FileCatalog {
        self.0.as_ref()
    }

    async fn remove_file(
        &self,
        _: &TenantScope,
        _: FileId,
        _: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        std::future::pending().await
    }
}

/// The onboarding queue, failing the record of the cued step once.
struct FailingStep {
    queue: Arc<dyn OnboardingQueue>,
    cue: Cue,
}

#[async_trait]
impl OnboardingQueueLayer for FailingStep {
    fn inner(&self) -> &dyn OnboardingQueue {
        self.queue.as_ref()
    }

    async fn update_onboarding(
        &self,
        t: TenantId,
        u: OnboardingUpdate,
        j: Journal,
    ) -> Result<Onboarding, MetadataError> {
        use coffer_domain::{OnboardingState, OnboardingStep};
        // The record of the cued step (made by then), or the activation.
        let step = match u.state {
            OnboardingState::Running => u.current_step,
            OnboardingState::Done => Some(OnboardingStep::Activate),
            _ => None,
        };
        let hit = {
            let mut cue = self.cue.lock().unwrap();
            if step.is_some() && *cue == step {
                cue.take()
            } else {
                None
            }
        };
        if let Some(step) = hit {
            return Err(MetadataError::new(
                coffer_ports::MetadataErrorKind::Unavailable,
                format!("injected failure after {step}"),
            ));
        }
        self.queue.update_onboarding(t, u, j).await
    }
}
