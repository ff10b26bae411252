//! A metadata store that goes wrong on cue, for end-to-end fault runs.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_domain::{
    FileId, FileRecord, Grant, GrantId, PageCursor, PlanLimits, Role, Subject, Tenant, TenantId,
    TenantSlug, Usage, UserId,
};
use coffer_ports::{
    AuditEntry, AuditQuery, BillingEffect, BillingRecorded, DeliveryOutcome, Event, EventClaim,
    FileObject, FileObjectQuery, FilePatch, FileQuery, JobLock, Journal, MetadataError,
    MetadataStore, NewAudit, NewBillingEvent, NewFile, NewGrant, NewTenant, ObjectFacts, Page,
    PlatformRecord, StoredFile, TenantPatch, TenantScope, TenantUsage,
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

/// A metadata store that goes wrong as its [`Fault`] says under a real
/// server; everything else goes to the real store. Test-only.
pub struct Faulty(pub Arc<dyn MetadataStore>, pub Fault);

#[async_trait]
impl MetadataStore for Faulty {
    async fn remove_file(
        &self,
        s: &TenantScope,
        id: FileId,
        j: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        if matches!(self.1, Fault::HangOnRemove) {
            return std::future::pending().await;
        }
        self.0.remove_file(s, id, j).await
    }

    async fn create_tenant(&self, t: NewTenant, j: Journal) -> Result<Tenant, MetadataError> {
        self.0.create_tenant(t, j).await
    }
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError> {
        self.0.get_tenant(id).await
    }
    async fn find_tenant_by_slug(&self, s: &TenantSlug) -> Result<Tenant, MetadataError> {
        self.0.find_tenant_by_slug(s).await
    }
    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError> {
        self.0.list_tenants(after, limit).await
    }
    async fn update_tenant(
        &self,
        id: TenantId,
        p: TenantPatch,
        j: Journal,
    ) -> Result<Tenant, MetadataError> {
        self.0.update_tenant(id, p, j).await
    }
    async fn upsert_user(
        &self,
        s: &TenantScope,
        sub: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError> {
        self.0.upsert_user(s, sub, roles).await
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
    async fn list_grants(&self, s: &TenantScope, f: FileId) -> Result<Vec<Grant>, MetadataError> {
        self.0.list_grants(s, f).await
    }
    async fn put_grant(
        &self,
        s: &TenantScope,
        g: NewGrant,
        j: Journal,
    ) -> Result<Grant, MetadataError> {
        self.0.put_grant(s, g, j).await
    }
    async fn delete_grant(
        &self,
        s: &TenantScope,
        f: FileId,
        g: GrantId,
        j: Journal,
    ) -> Result<(), MetadataError> {
        self.0.delete_grant(s, f, g, j).await
    }
    async fn append_audit(&self, s: &TenantScope, e: NewAudit) -> Result<(), MetadataError> {
        self.0.append_audit(s, e).await
    }
    async fn list_audit(
        &self,
        s: &TenantScope,
        q: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError> {
        self.0.list_audit(s, q).await
    }
    async fn begin_erase(
        &self,
        s: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        j: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.0.begin_erase(s, id, at, j).await
    }
    async fn list_file_objects(
        &self,
        s: &TenantScope,
        q: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError> {
        self.0.list_file_objects(s, q).await
    }
    async fn mark_object_missing(
        &self,
        s: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        j: Journal,
    ) -> Result<(), MetadataError> {
        self.0.mark_object_missing(s, id, at, j).await
    }
    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError> {
        self.0.try_lock_job(job).await
    }
    async fn get_setting(
        &self,
        s: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError> {
        self.0.get_setting(s, key).await
    }
    async fn put_setting(
        &self,
        s: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        j: Journal,
    ) -> Result<(), MetadataError> {
        self.0.put_setting(s, key, value, j).await
    }
    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError> {
        self.0.setting_across_tenants(key).await
    }
    async fn list_events(
        &self,
        s: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        self.0.list_events(s, after, settled_before, limit).await
    }
    async fn claim_events(
        &self,
        s: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        self.0.claim_events(s, claim).await
    }
    async fn record_delivery(
        &self,
        s: &TenantScope,
        event: uuid::Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError> {
        self.0.record_delivery(s, event, outcome).await
    }
    async fn create_onboarding(
        &self,
        t: NewTenant,
        o: coffer_ports::NewOnboarding,
        j: Journal,
    ) -> Result<(Tenant, coffer_domain::Onboarding), MetadataError> {
        self.0.create_onboarding(t, o, j).await
    }
    async fn get_onboarding(
        &self,
        t: TenantId,
    ) -> Result<coffer_domain::Onboarding, MetadataError> {
        self.0.get_onboarding(t).await
    }
    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<coffer_domain::Onboarding>, MetadataError> {
        self.0.claim_onboarding(now, lease).await
    }
    async fn update_onboarding(
        &self,
        t: TenantId,
        u: coffer_ports::OnboardingUpdate,
        j: Journal,
    ) -> Result<coffer_domain::Onboarding, MetadataError> {
        use coffer_domain::{OnboardingState, OnboardingStep};
        // The record of the cued step (made by then), or the activation.
        let step = match u.state {
            OnboardingState::Running => u.current_step,
            OnboardingState::Done => Some(OnboardingStep::Activate),
            _ => None,
        };
        let hit = match &self.1 {
            Fault::FailOnboardingStep(cue) => {
                let mut cue = cue.lock().unwrap();
                if step.is_some() && *cue == step {
                    cue.take()
                } else {
                    None
                }
            }
            Fault::HangOnRemove => None,
        };
        if let Some(step) = hit {
            return Err(MetadataError::new(
                coffer_ports::MetadataErrorKind::Unavailable,
                format!("injected failure after {step}"),
            ));
        }
        self.0.update_onboarding(t, u, j).await
    }
    async fn remove_user(
        &self,
        s: &TenantScope,
        sub: &Subject,
        j: Journal,
    ) -> Result<(), MetadataError> {
        self.0.remove_user(s, sub, j).await
    }
    async fn list_settings(
        &self,
        s: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError> {
        self.0.list_settings(s).await
    }
    async fn get_feature(
        &self,
        s: &TenantScope,
        key: &str,
    ) -> Result<Option<coffer_domain::FeatureFlag>, MetadataError> {
        self.0.get_feature(s, key).await
    }
    async fn list_features(
        &self,
        s: &TenantScope,
    ) -> Result<Vec<coffer_domain::FeatureFlag>, MetadataError> {
        self.0.list_features(s).await
    }
    async fn put_feature(
        &self,
        s: &TenantScope,
        key: &str,
        flag: Option<coffer_domain::FeatureFlag>,
        j: Journal,
    ) -> Result<(), MetadataError> {
        self.0.put_feature(s, key, flag, j).await
    }
    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError> {
        self.0.tenant_usage(after, limit).await
    }
    async fn purge_tenant(&self, id: TenantId, r: PlatformRecord) -> Result<(), MetadataError> {
        self.0.purge_tenant(id, r).await
    }
    async fn record_billing_event(
        &self,
        e: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError> {
        self.0.record_billing_event(e, effect).await
    }
    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        self.0.provision_database(tenant).await
    }
    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        self.0.drop_database(tenant).await
    }
    async fn check_ready(&self) -> Result<(), MetadataError> {
        self.0.check_ready().await
    }
}
