//! The `MetadataStore` port, implemented by delegating to the adapter's
//! methods and mapping `SqliteError` onto the port's error kinds.

use async_trait::async_trait;
use coffer_domain::FileStatus::{Available, Deleted};
use coffer_domain::{
    FeatureFlag, FileId, FileRecord, Grant, GrantId, PageCursor, PlanLimits, Role, Subject, Tenant,
    TenantId, TenantSlug, Usage, UserId,
};
use coffer_ports::{
    AuditEntry, AuditQuery, BillingEffect, BillingRecorded, DeliveryOutcome, Event, EventClaim,
    FileObject, FileObjectQuery, FilePatch, FileQuery, JobLock, Journal, MetadataError,
    MetadataStore, NewAudit, NewBillingEvent, NewFile, NewGrant, NewTenant, ObjectFacts, Page,
    PlatformRecord, StoredFile, TenantPatch, TenantScope, TenantUsage,
};
use time::OffsetDateTime;

use diesel::RunQueryDsl;

use crate::store::SqliteMetadataStore;

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn create_onboarding(
        &self,
        tenant: coffer_ports::NewTenant,
        onboarding: coffer_ports::NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, coffer_domain::Onboarding), MetadataError> {
        Ok(self
            .create_onboarding_impl(tenant, onboarding, journal)
            .await?)
    }

    async fn get_onboarding(
        &self,
        tenant: TenantId,
    ) -> Result<coffer_domain::Onboarding, MetadataError> {
        Ok(self.get_onboarding_impl(tenant).await?)
    }

    async fn claim_onboarding(
        &self,
        now: time::OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<coffer_domain::Onboarding>, MetadataError> {
        Ok(self.claim_onboarding_impl(now, lease).await?)
    }

    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: coffer_ports::OnboardingUpdate,
        journal: Journal,
    ) -> Result<coffer_domain::Onboarding, MetadataError> {
        Ok(self.update_onboarding_impl(tenant, update, journal).await?)
    }

    async fn remove_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        Ok(self.remove_user_impl(scope, subject, journal).await?)
    }

    async fn create_tenant(
        &self,
        tenant: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        Ok(self.create_tenant_impl(tenant, journal).await?)
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError> {
        Ok(self.get_tenant_impl(id).await?)
    }

    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError> {
        Ok(self.find_tenant_by_slug_impl(slug).await?)
    }

    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError> {
        Ok(self.list_tenants_impl(after, limit).await?)
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        Ok(self.update_tenant_impl(id, patch, journal).await?)
    }

    async fn upsert_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError> {
        Ok(self.upsert_user_impl(scope, subject, roles).await?)
    }

    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        Ok(self.usage_impl(scope).await?)
    }

    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self
            .reserve_upload_impl(scope, file, limits, journal)
            .await?)
    }

    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        Ok(self.get_file_impl(scope, id).await?)
    }

    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        Ok(self.list_files_impl(scope, query).await?)
    }

    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self.set_multipart_upload_impl(scope, id, upload_id).await?)
    }

    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self.mark_available_impl(scope, id, facts, journal).await?)
    }

    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self.update_file_impl(scope, id, patch, at, journal).await?)
    }

    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self
            .transition(scope, id, Available, Deleted, at, journal)
            .await?)
    }

    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self
            .transition(scope, id, Deleted, Available, at, journal)
            .await?)
    }

    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self.remove_file_impl(scope, id, journal).await?)
    }

    async fn list_grants(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<Grant>, MetadataError> {
        Ok(self.list_grants_impl(scope, file).await?)
    }

    async fn put_grant(
        &self,
        scope: &TenantScope,
        grant: NewGrant,
        journal: Journal,
    ) -> Result<Grant, MetadataError> {
        Ok(self.put_grant_impl(scope, grant, journal).await?)
    }

    async fn delete_grant(
        &self,
        scope: &TenantScope,
        file: FileId,
        grant: GrantId,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        Ok(self.delete_grant_impl(scope, file, grant, journal).await?)
    }

    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        Ok(self.append_audit_impl(scope, entry).await?)
    }

    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError> {
        Ok(self.list_audit_impl(scope, query).await?)
    }

    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError> {
        Ok(self.get_setting_impl(scope, key).await?)
    }

    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        Ok(self.put_setting_impl(scope, key, value, journal).await?)
    }

    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError> {
        Ok(self.list_settings_impl(scope).await?)
    }

    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError> {
        Ok(self.get_feature_impl(scope, key).await?)
    }

    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError> {
        Ok(self.list_features_impl(scope).await?)
    }

    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        flag: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        Ok(self.put_feature_impl(scope, key, flag, journal).await?)
    }

    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError> {
        Ok(self.setting_across_tenants_impl(key).await?)
    }

    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        Ok(self
            .list_events_impl(scope, after, settled_before, limit)
            .await?)
    }

    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        Ok(self.claim_events_impl(scope, claim).await?)
    }

    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: uuid::Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError> {
        Ok(self.record_delivery_impl(scope, event, outcome).await?)
    }

    async fn begin_erase(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        Ok(self.begin_erase_impl(scope, id, at, journal).await?)
    }

    async fn list_file_objects(
        &self,
        scope: &TenantScope,
        query: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError> {
        Ok(self.list_file_objects_impl(scope, query).await?)
    }

    async fn mark_object_missing(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        Ok(self
            .mark_object_missing_impl(scope, id, at, journal)
            .await?)
    }

    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError> {
        Ok(self.tenant_usage_impl(after, limit).await?)
    }

    async fn purge_tenant(
        &self,
        id: TenantId,
        record: PlatformRecord,
    ) -> Result<(), MetadataError> {
        Ok(self.purge_tenant_impl(id, record).await?)
    }

    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError> {
        Ok(self.try_lock_job_impl(job))
    }

    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError> {
        Ok(self.record_billing_event_impl(event, effect).await?)
    }

    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        coffer_ports::single_database_only(tenant)
    }

    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        coffer_ports::single_database_only(tenant)
    }

    async fn check_ready(&self) -> Result<(), MetadataError> {
        self.read(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
        .map_err(|e| {
            MetadataError::new(coffer_ports::MetadataErrorKind::Unavailable, e.to_string())
                .with_source(e)
        })
    }
}
