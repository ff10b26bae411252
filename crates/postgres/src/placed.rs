//! The metadata store as `coffer serve` uses it on PostgreSQL: the shared
//! database for the tenant registry (tenants, settings, feature flags,
//! onboarding, billing, job locks) and for every tenant without a database
//! of its own, and each dedicated database for its tenant's files, users,
//! grants, usage and their audit log and events (docs/tenants-placement.md).
//!
//! A tenant's placement is chosen when it is created and never changes, so
//! once read it is kept for the life of the process. Records of registry
//! changes (the tenant's plan, status, settings) are written with the change
//! in the shared database; the tenant's audit log and events are read from
//! both places, merged in order.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use coffer_domain::{
    FeatureFlag, FileId, FileRecord, Grant, GrantId, Onboarding, PageCursor, PlanLimits, Region,
    Role, Subject, Tenant, TenantId, TenantSlug, TenantStatus, Usage, UserId,
};
use coffer_ports::{
    AuditEntry, AuditQuery, BillingEffect, BillingRecorded, DeliveryOutcome, Event, EventClaim,
    FileObject, FileObjectQuery, FilePatch, FileQuery, JobLock, Journal, MetadataError,
    MetadataErrorKind, MetadataStore, NewAudit, NewBillingEvent, NewFile, NewGrant, NewOnboarding,
    NewTenant, ObjectFacts, OnboardingUpdate, Page, PlatformRecord, StoredFile, TenantPatch,
    TenantScope, TenantUsage,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dedicated::DedicatedDatabases;
use crate::error::PgError;
use crate::store::PgMetadataStore;

/// A tenant's own database: its name, and the region whose server holds it.
#[derive(Clone)]
struct Own {
    database: String,
    region: Region,
}

impl Own {
    fn of(tenant: &Tenant) -> Option<Self> {
        Some(Self {
            database: tenant.dedicated_database.clone()?,
            region: tenant.region.clone(),
        })
    }
}

/// Where a tenant's data lives (`None`: the shared database), as far as
/// this process has seen.
type Placements = HashMap<TenantId, Option<Own>>;

/// [`MetadataStore`] over the shared database and the dedicated ones.
#[derive(Clone)]
pub struct PlacedMetadataStore {
    shared: PgMetadataStore,
    dedicated: Option<Arc<DedicatedDatabases>>,
    placements: Arc<RwLock<Placements>>,
    /// One pool per dedicated database, opened on first use.
    pools: Arc<RwLock<HashMap<String, PgMetadataStore>>>,
}

impl std::fmt::Debug for PlacedMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacedMetadataStore")
            .field("shared", &self.shared)
            .field("dedicated", &self.dedicated.is_some())
            .finish_non_exhaustive()
    }
}

fn unavailable(message: String) -> MetadataError {
    MetadataError::new(MetadataErrorKind::Unavailable, message)
}

impl PlacedMetadataStore {
    /// The shared store alone: tenants with a dedicated database are refused
    /// (`Unavailable`) until `dedicated` is configured.
    pub fn new(shared: PgMetadataStore, dedicated: Option<DedicatedDatabases>) -> Self {
        Self {
            shared,
            dedicated: dedicated.map(Arc::new),
            placements: Arc::default(),
            pools: Arc::default(),
        }
    }

    /// The shared database's store (the registry).
    pub fn shared(&self) -> &PgMetadataStore {
        &self.shared
    }

    fn remember(&self, tenant: &Tenant) {
        // Placement never changes: once known, only a read lock is taken.
        let known = self
            .placements
            .read()
            .is_ok_and(|p| p.contains_key(&tenant.id));
        if !known && let Ok(mut placements) = self.placements.write() {
            placements.insert(tenant.id, Own::of(tenant));
        }
    }

    fn forget(&self, tenant: &Tenant) {
        if let Ok(mut placements) = self.placements.write() {
            placements.remove(&tenant.id);
        }
        if let (Some(database), Ok(mut pools)) = (&tenant.dedicated_database, self.pools.write()) {
            pools.remove(database);
        }
    }

    /// The dedicated database of the tenant, `None` for the shared one.
    async fn placement(&self, tenant: TenantId) -> Result<Option<Own>, MetadataError> {
        let known = self
            .placements
            .read()
            .ok()
            .and_then(|p| p.get(&tenant).cloned());
        if let Some(placement) = known {
            return Ok(placement);
        }
        match self.shared.get_tenant(tenant).await {
            Ok(found) => {
                self.remember(&found);
                Ok(Own::of(&found))
            }
            // An unknown tenant has nothing anywhere: the shared database
            // answers for it (not found, nothing listed).
            Err(e) if e.is(MetadataErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The store holding the data of the scope's tenant.
    async fn at(&self, scope: &TenantScope) -> Result<PgMetadataStore, MetadataError> {
        Ok(self
            .own(scope)
            .await?
            .unwrap_or_else(|| self.shared.clone()))
    }

    /// The store of the tenant's dedicated database, when it has one.
    async fn own(&self, scope: &TenantScope) -> Result<Option<PgMetadataStore>, MetadataError> {
        match self.placement(scope.tenant_id()).await? {
            None => Ok(None),
            Some(own) => self.dedicated_store(scope.tenant_id(), &own).map(Some),
        }
    }

    fn dedicated_store(
        &self,
        tenant: TenantId,
        own: &Own,
    ) -> Result<PgMetadataStore, MetadataError> {
        if let Some(store) = self
            .pools
            .read()
            .ok()
            .and_then(|p| p.get(&own.database).cloned())
        {
            return Ok(store);
        }
        let Some(dedicated) = &self.dedicated else {
            return Err(unavailable(format!(
                "tenant {tenant} has the dedicated database {}, and no dedicated databases are configured (metadata.dedicated)",
                own.database
            )));
        };
        let url = dedicated.server_for(&own.region).app_url_of(&own.database);
        let store = PgMetadataStore::connect_with(&url, dedicated.pool)?;
        let mut pools = self
            .pools
            .write()
            .map_err(|_| unavailable("the pool map is poisoned".to_owned()))?;
        Ok(pools.entry(own.database.clone()).or_insert(store).clone())
    }

    /// Apply the pending migrations to the dedicated database of every
    /// tenant that has one, going on past failures: each tenant's outcome
    /// (the versions applied, or the error), oldest tenant first.
    ///
    /// # Errors
    /// Only when the tenants cannot be listed.
    pub async fn migrate_dedicated(
        &self,
    ) -> Result<Vec<(Tenant, Result<Vec<String>, PgError>)>, MetadataError> {
        let mut outcomes = Vec::new();
        let mut after = None;
        loop {
            let page = self.shared.list_tenants(after, 500).await?;
            for tenant in page.items {
                if tenant.dedicated_database.is_none() {
                    continue;
                }
                let outcome = match &self.dedicated {
                    Some(dedicated) => dedicated.migrate(&tenant).await,
                    None => Err(PgError::InvalidState(
                        "no dedicated databases are configured (metadata.dedicated)".to_owned(),
                    )),
                };
                outcomes.push((tenant, outcome));
            }
            match page.next_cursor {
                Some(next) => {
                    after = Some(PageCursor::decode(&next).map_err(|e| {
                        MetadataError::new(MetadataErrorKind::Internal, e.to_string())
                    })?);
                }
                None => break,
            }
        }
        Ok(outcomes)
    }
}

#[async_trait]
impl MetadataStore for PlacedMetadataStore {
    /// A tenant created as it is (the embedded bootstrap, tests) gets its
    /// dedicated database first: nothing onboards it later.
    async fn create_tenant(
        &self,
        new: NewTenant,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        if new.dedicated_database.is_none() {
            return self.shared.create_tenant(new, journal).await;
        }
        // The tenant as it will be, for the database's row.
        let planned = Tenant::try_from(crate::rows::TenantRow::new(&new)?)?;
        self.provision_database(&planned).await?;
        match self.shared.create_tenant(new, journal).await {
            Ok(tenant) => {
                self.remember(&tenant);
                Ok(tenant)
            }
            Err(e) => {
                // No registry row names it: it must not stay.
                if let Err(dropped) = self.drop_database(&planned).await {
                    tracing::warn!(error = %dropped, "could not drop the database of a tenant not created");
                }
                Err(e)
            }
        }
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant, MetadataError> {
        let tenant = self.shared.get_tenant(id).await?;
        self.remember(&tenant);
        Ok(tenant)
    }

    async fn find_tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, MetadataError> {
        let tenant = self.shared.find_tenant_by_slug(slug).await?;
        self.remember(&tenant);
        Ok(tenant)
    }

    async fn create_onboarding(
        &self,
        tenant: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        let (tenant, onboarding) = self
            .shared
            .create_onboarding(tenant, onboarding, journal)
            .await?;
        self.remember(&tenant);
        Ok((tenant, onboarding))
    }

    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError> {
        let registry = self.shared.list_audit(scope, query).await?;
        match self.own(scope).await? {
            None => Ok(registry),
            Some(own) => {
                let data = own.list_audit(scope, query).await?;
                Ok(Page::merge(
                    data,
                    registry,
                    query.limit,
                    !query.oldest_first,
                    AuditEntry::page_cursor,
                ))
            }
        }
    }

    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        let registry = self
            .shared
            .list_events(scope, after, settled_before, limit)
            .await?;
        match self.own(scope).await? {
            None => Ok(registry),
            Some(own) => {
                let data = own.list_events(scope, after, settled_before, limit).await?;
                Ok(Page::merge(
                    data,
                    registry,
                    limit,
                    false,
                    Event::page_cursor,
                ))
            }
        }
    }

    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        let mut events = match self.own(scope).await? {
            Some(own) => own.claim_events(scope, claim).await?,
            None => Vec::new(),
        };
        events.extend(self.shared.claim_events(scope, claim).await?);
        Ok(events)
    }

    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError> {
        if let Some(own) = self.own(scope).await? {
            match own.record_delivery(scope, event, outcome.clone()).await {
                Err(e) if e.is(MetadataErrorKind::NotFound) => {}
                other => return other,
            }
        }
        self.shared.record_delivery(scope, event, outcome).await
    }

    async fn tenant_usage(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<TenantUsage>, MetadataError> {
        let mut page = self.shared.tenant_usage(after, limit).await?;
        for item in &mut page.items {
            let scope = TenantScope::new(item.tenant);
            // Usage and users of a dedicated tenant are in its database; a
            // tenant whose onboarding has not made it yet has none.
            if matches!(
                item.status,
                TenantStatus::Provisioning | TenantStatus::ProvisioningFailed
            ) {
                continue;
            }
            let Some(own) = self.own(&scope).await? else {
                continue;
            };
            let theirs = own.tenant_usage(None, 1).await?;
            if let Some(counted) = theirs.items.into_iter().find(|t| t.tenant == item.tenant) {
                item.usage = counted.usage;
                item.users = counted.users;
            }
        }
        Ok(page)
    }

    async fn purge_tenant(
        &self,
        id: TenantId,
        record: PlatformRecord,
    ) -> Result<(), MetadataError> {
        let tenant = self.shared.get_tenant(id).await?;
        if tenant.dedicated_database.is_some() {
            if tenant.status != TenantStatus::Cancelled {
                return Err(MetadataError::new(
                    MetadataErrorKind::InvalidState,
                    format!("tenant {} is {}, not cancelled", tenant.slug, tenant.status),
                ));
            }
            // The database first: were the registry row gone first, nothing
            // would name the database any more.
            self.drop_database(&tenant).await?;
        }
        self.shared.purge_tenant(id, record).await?;
        self.forget(&tenant);
        Ok(())
    }

    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        match &self.dedicated {
            Some(dedicated) => Ok(dedicated.provision(tenant).await?),
            None => coffer_ports::single_database_only(tenant),
        }
    }

    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        let Some(dedicated) = &self.dedicated else {
            return coffer_ports::single_database_only(tenant);
        };
        // Close this process's pool before the database goes.
        self.forget(tenant);
        Ok(dedicated.drop_database(tenant).await?)
    }

    async fn list_tenants(
        &self,
        after: Option<PageCursor>,
        limit: u32,
    ) -> Result<Page<Tenant>, MetadataError> {
        self.shared.list_tenants(after, limit).await
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        patch: TenantPatch,
        journal: Journal,
    ) -> Result<Tenant, MetadataError> {
        self.shared.update_tenant(id, patch, journal).await
    }

    async fn upsert_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        roles: &[Role],
    ) -> Result<UserId, MetadataError> {
        self.at(scope)
            .await?
            .upsert_user(scope, subject, roles)
            .await
    }

    async fn usage(&self, scope: &TenantScope) -> Result<Usage, MetadataError> {
        self.at(scope).await?.usage(scope).await
    }

    async fn reserve_upload(
        &self,
        scope: &TenantScope,
        file: NewFile,
        limits: &PlanLimits,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .reserve_upload(scope, file, limits, journal)
            .await
    }

    async fn get_file(&self, scope: &TenantScope, id: FileId) -> Result<StoredFile, MetadataError> {
        self.at(scope).await?.get_file(scope, id).await
    }

    async fn list_files(
        &self,
        scope: &TenantScope,
        query: &FileQuery,
    ) -> Result<Page<FileRecord>, MetadataError> {
        self.at(scope).await?.list_files(scope, query).await
    }

    async fn set_multipart_upload(
        &self,
        scope: &TenantScope,
        id: FileId,
        upload_id: &str,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .set_multipart_upload(scope, id, upload_id)
            .await
    }

    async fn mark_available(
        &self,
        scope: &TenantScope,
        id: FileId,
        facts: ObjectFacts,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .mark_available(scope, id, facts, journal)
            .await
    }

    async fn update_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        patch: FilePatch,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .update_file(scope, id, patch, at, journal)
            .await
    }

    async fn trash_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .trash_file(scope, id, at, journal)
            .await
    }

    async fn restore_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .restore_file(scope, id, at, journal)
            .await
    }

    async fn remove_file(
        &self,
        scope: &TenantScope,
        id: FileId,
        journal: Option<Journal>,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope).await?.remove_file(scope, id, journal).await
    }

    async fn list_grants(
        &self,
        scope: &TenantScope,
        file: FileId,
    ) -> Result<Vec<Grant>, MetadataError> {
        self.at(scope).await?.list_grants(scope, file).await
    }

    async fn put_grant(
        &self,
        scope: &TenantScope,
        grant: NewGrant,
        journal: Journal,
    ) -> Result<Grant, MetadataError> {
        self.at(scope).await?.put_grant(scope, grant, journal).await
    }

    async fn delete_grant(
        &self,
        scope: &TenantScope,
        file: FileId,
        grant: GrantId,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        self.at(scope)
            .await?
            .delete_grant(scope, file, grant, journal)
            .await
    }

    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        self.at(scope).await?.append_audit(scope, entry).await
    }

    async fn get_setting(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<serde_json::Value>, MetadataError> {
        self.shared.get_setting(scope, key).await
    }

    async fn put_setting(
        &self,
        scope: &TenantScope,
        key: &str,
        value: Option<serde_json::Value>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        self.shared.put_setting(scope, key, value, journal).await
    }

    async fn list_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(String, serde_json::Value)>, MetadataError> {
        self.shared.list_settings(scope).await
    }

    async fn get_feature(
        &self,
        scope: &TenantScope,
        key: &str,
    ) -> Result<Option<FeatureFlag>, MetadataError> {
        self.shared.get_feature(scope, key).await
    }

    async fn list_features(&self, scope: &TenantScope) -> Result<Vec<FeatureFlag>, MetadataError> {
        self.shared.list_features(scope).await
    }

    async fn put_feature(
        &self,
        scope: &TenantScope,
        key: &str,
        flag: Option<FeatureFlag>,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        self.shared.put_feature(scope, key, flag, journal).await
    }

    async fn setting_across_tenants(
        &self,
        key: &str,
    ) -> Result<Vec<(TenantId, TenantSlug, serde_json::Value)>, MetadataError> {
        self.shared.setting_across_tenants(key).await
    }

    async fn begin_erase(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<FileRecord, MetadataError> {
        self.at(scope)
            .await?
            .begin_erase(scope, id, at, journal)
            .await
    }

    async fn list_file_objects(
        &self,
        scope: &TenantScope,
        query: &FileObjectQuery,
    ) -> Result<Vec<FileObject>, MetadataError> {
        self.at(scope).await?.list_file_objects(scope, query).await
    }

    async fn mark_object_missing(
        &self,
        scope: &TenantScope,
        id: FileId,
        at: OffsetDateTime,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        self.at(scope)
            .await?
            .mark_object_missing(scope, id, at, journal)
            .await
    }

    async fn try_lock_job(&self, job: &str) -> Result<Option<JobLock>, MetadataError> {
        self.shared.try_lock_job(job).await
    }

    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError> {
        self.shared.get_onboarding(tenant).await
    }

    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        self.shared.claim_onboarding(now, lease).await
    }

    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError> {
        self.shared.update_onboarding(tenant, update, journal).await
    }

    async fn remove_user(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        journal: Journal,
    ) -> Result<(), MetadataError> {
        self.at(scope)
            .await?
            .remove_user(scope, subject, journal)
            .await
    }

    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError> {
        self.shared.record_billing_event(event, effect).await
    }

    async fn check_ready(&self) -> Result<(), MetadataError> {
        self.shared.check_ready().await
    }
}
