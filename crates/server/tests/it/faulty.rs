//! Metadata ports that go wrong on cue, for end-to-end fault runs. Each
//! fault wraps only the port whose behaviour it changes; every other port
//! is the real one.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_domain::{FileId, FileRecord, Onboarding, PlanLimits, Tenant, TenantId, Usage};
use coffer_ports::{
    FileCatalog, FilePatch, FileQuery, Journal, MetadataError, MetadataPorts, NewFile,
    NewOnboarding, NewTenant, ObjectFacts, OnboardingQueue, OnboardingUpdate, Page, StoredFile,
    TenantData, TenantDataResolver, TenantScope,
};
use time::OffsetDateTime;

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
impl FileCatalog for HangOnRemove {
    async fn remove_file(
        &self,
        _: &TenantScope,
        _: FileId,
        _: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        std::future::pending().await
    }

    async fn usage(&self, s: &TenantScope) -> Result<Usage, MetadataError> {
        self.0.usage(s).await
    }
    async fn reserve_upload(
        &self,
        s: &TenantScope,
        f: NewFile,
        l: &PlanLimits,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.reserve_upload(s, f, l, j).await
    }
    async fn get_file(&self, s: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        self.0.get_file(s, id).await
    }
    async fn list_files(
        &self,
        s: &TenantScope,
        q: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        self.0.list_files(s, q).await
    }
    async fn set_multipart_upload(
        &self,
        s: &TenantScope,
        id: FileId,
        u: &str,
    ) -> Result<FileRecord, MetadataError> {
        self.0.set_multipart_upload(s, id, u).await
    }
    async fn mark_available(
        &self,
        s: &TenantScope,
        id: FileId,
        f: ObjectFacts,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.mark_available(s, id, f, j).await
    }
    async fn update_file(
        &self,
        s: &TenantScope,
        id: FileId,
        p: FilePatch,
        at: OffsetDateTime,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.update_file(s, id, p, at, j).await
    }
    async fn trash_file(
        &self,
        s: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.trash_file(s, id, at, j).await
    }
    async fn restore_file(
        &self,
        s: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.restore_file(s, id, at, j).await
    }
}

/// The onboarding queue, failing the record of the cued step once.
struct FailingStep {
    queue: Arc<dyn OnboardingQueue>,
    cue: Cue,
}

#[async_trait]
impl OnboardingQueue for FailingStep {
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

    async fn create_onboarding(
        &self,
        t: NewTenant,
        o: NewOnboarding,
        j: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        self.queue.create_onboarding(t, o, j).await
    }
    async fn get_onboarding(&self, t: TenantId) -> Result<Onboarding, MetadataError> {
        self.queue.get_onboarding(t).await
    }
    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        self.queue.claim_onboarding(now, lease).await
    }
}
