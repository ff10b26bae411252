//! Which database (and schema) holds a tenant's data, as `coffer serve`
//! runs on PostgreSQL: the shared database holds the registry (tenants,
//! settings, feature flags, onboarding, billing, job locks) and the data of
//! every tenant without a home of its own; each dedicated database, and
//! each tenant schema in the shared database, holds its tenant's files,
//! users, grants, usage and their audit log and events
//! (docs/tenants-placement.md).
//!
//! The tenant row names its database or schema, and that never changes, so
//! the stores of either are opened once and kept for the life of the
//! process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use coffer_domain::{PageCursor, Region, Tenant, TenantId};
use coffer_ports::{
    MetadataError, MetadataErrorKind, MetadataPorts, Pending, Subscribed, Subscriber, TenantData,
    TenantDataResolver, TenantDatabases, TenantMoves, TenantRegistry, Undelivered,
    UndeliveredEvents, databases_for,
};
use time::OffsetDateTime;

use crate::dedicated::DedicatedDatabases;
use crate::error::PgError;
use crate::file_cache::CachedFiles;
use crate::merged::{MergedAuditLog, MergedOutbox};
use crate::migrate::MigrateOptions;
use crate::regions::RegionalDatabase;
use crate::schemas::DedicatedSchemas;
use crate::store::PgMetadataStore;

/// Routes each tenant's data to the shared database or to its own, and
/// makes and drops the dedicated databases.
pub struct DatabaseRouter {
    shared: PgMetadataStore,
    /// The data of every tenant without a database of its own.
    shared_data: Arc<TenantData>,
    dedicated: Option<DedicatedDatabases>,
    /// The data of each dedicated database, by its name, opened on first use.
    opened: Arc<RwLock<HashMap<String, Opened>>>,
    schemas: Option<DedicatedSchemas>,
    /// The data of each tenant schema, by its name, made on first use (on
    /// the shared pool).
    in_schemas: RwLock<HashMap<String, Opened>>,
    /// Each region's shared database, with the stores of its tenants.
    regions: BTreeMap<Region, Regional>,
}

/// A region's shared database and the stores its tenants share.
struct Regional {
    database: RegionalDatabase,
    data: Arc<TenantData>,
}

/// A dedicated database's stores and the pool behind them.
#[derive(Clone)]
struct Opened {
    data: Arc<TenantData>,
    pool: PgMetadataStore,
}

/// The pools of the dedicated databases this process has open, for an
/// operator's gauges (shares the router's map; reading takes its lock briefly).
#[derive(Clone)]
pub struct DedicatedPools(Arc<RwLock<HashMap<String, Opened>>>);

impl std::fmt::Debug for DedicatedPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DedicatedPools").finish_non_exhaustive()
    }
}

impl DedicatedPools {
    /// How many pools are open, and their connections summed.
    pub fn stats(&self) -> (usize, crate::store::PoolStats) {
        let mut sum = crate::store::PoolStats::default();
        let Ok(opened) = self.0.read() else {
            return (0, sum);
        };
        for stats in opened.values().map(|o| o.pool.pool_stats()) {
            sum.max_size += stats.max_size;
            sum.open += stats.open;
            sum.idle += stats.idle;
            sum.waiting += stats.waiting;
        }
        (opened.len(), sum)
    }
}

impl std::fmt::Debug for DatabaseRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseRouter")
            .field("shared", &self.shared)
            .field("dedicated", &self.dedicated.is_some())
            .field("schemas", &self.schemas.is_some())
            .finish_non_exhaustive()
    }
}

fn unavailable(message: String) -> MetadataError {
    MetadataError::new(MetadataErrorKind::Unavailable, message)
}

impl DatabaseRouter {
    /// Without `dedicated`, a tenant with a database of its own is refused
    /// (`Unavailable`).
    pub fn new(shared: PgMetadataStore, dedicated: Option<DedicatedDatabases>) -> Self {
        Self {
            // The hot reads of the shared database's tenants answer from
            // this instance's file cache (file_cache.rs).
            shared_data: Arc::new(TenantData {
                files: Arc::new(CachedFiles::new(shared.clone())),
                ..TenantData::in_one(Arc::new(shared.clone()))
            }),
            shared,
            dedicated,
            opened: Arc::default(),
            schemas: None,
            in_schemas: RwLock::default(),
            regions: BTreeMap::new(),
        }
    }

    /// A shared database per region: the data of the tenants the registry
    /// places there (`Tenant::metadata_region`). A tenant placed in a
    /// region missing here is refused (`Unavailable`).
    #[must_use]
    pub fn with_regions(mut self, regions: BTreeMap<Region, RegionalDatabase>) -> Self {
        self.regions = regions
            .into_iter()
            .map(|(region, database)| {
                let data = self.data_over(&database.store);
                (region, Regional { database, data })
            })
            .collect();
        self
    }

    /// The shared database of `tenant`'s metadata region.
    fn regional(&self, tenant: &Tenant, region: &Region) -> Result<&Regional, MetadataError> {
        self.regions.get(region).ok_or_else(|| {
            unavailable(format!(
                "tenant {} keeps its data in the database of region {region}, and none is configured for it (metadata.regions)",
                tenant.slug
            ))
        })
    }

    /// Where `tenant`'s schema is made: its region's database, else the
    /// registry's. `Unavailable` when schemas are not configured.
    fn schemas_for(&self, tenant: &Tenant) -> Result<DedicatedSchemas, MetadataError> {
        let Some(schemas) = &self.schemas else {
            return Err(unavailable(format!(
                "tenant {} has a schema of its own, and no tenant schemas are configured (metadata.schemas)",
                tenant.slug
            )));
        };
        match &tenant.metadata_region {
            Some(region) => Ok(self.regional(tenant, region)?.database.schemas()),
            None => Ok(schemas.clone()),
        }
    }

    /// Apply the pending migrations to every region's shared database,
    /// going on past failures: each region's outcome, in name order.
    pub async fn migrate_regions(
        &self,
        options: &MigrateOptions,
    ) -> Vec<(Region, Result<Vec<String>, PgError>)> {
        let mut outcomes = Vec::new();
        for (region, regional) in &self.regions {
            let outcome = regional.database.migrate(options.clone()).await;
            outcomes.push((region.clone(), outcome));
        }
        outcomes
    }

    /// Tenant schemas in the shared database, where `schemas` is `Some`;
    /// without, a tenant with a schema of its own is refused (`Unavailable`).
    #[must_use]
    pub fn with_schemas(mut self, schemas: Option<DedicatedSchemas>) -> Self {
        self.schemas = schemas;
        self
    }

    /// A view of the dedicated databases' pools, for metrics.
    pub fn dedicated_pools(&self) -> DedicatedPools {
        DedicatedPools(self.opened.clone())
    }

    /// Every metadata port of the deployment: the registry-level ports are
    /// the shared store itself, a tenant's data comes through this router,
    /// and dedicated databases are offered only where they are configured.
    pub fn ports(self) -> MetadataPorts {
        let shared = Arc::new(self.shared.clone());
        let configured =
            self.dedicated.is_some() || self.schemas.is_some() || !self.regions.is_empty();
        let router = Arc::new(self);
        MetadataPorts {
            tenant_data: router.clone(),
            undelivered: router.clone(),
            moves: configured.then(|| TenantMoves {
                queue: shared.clone(),
                rows: router.clone(),
            }),
            databases: configured.then_some(router as Arc<dyn TenantDatabases>),
            // The registry-level ports; its one-database resolver is replaced.
            ..MetadataPorts::in_one(shared)
        }
    }

    /// Close this process's pool of the tenant's database (when the last
    /// unit of work holding its stores ends).
    fn forget(&self, tenant: &Tenant) {
        if let (Some(database), Ok(mut opened)) = (&tenant.dedicated_database, self.opened.write())
        {
            opened.remove(database);
        }
        if let (Some(schema), Ok(mut opened)) = (&tenant.dedicated_schema, self.in_schemas.write())
        {
            opened.remove(schema);
        }
    }

    /// Apply the pending migrations to the dedicated database or schema of
    /// every tenant that has one, going on past failures: each tenant's
    /// outcome (the versions applied, or the error), oldest tenant first.
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
                let outcome = match (
                    &tenant.dedicated_database,
                    &tenant.dedicated_schema,
                    &self.dedicated,
                    &self.schemas,
                ) {
                    (None, None, _, _) => continue,
                    (Some(_), _, Some(dedicated), _) => dedicated.migrate(&tenant).await,
                    (Some(_), _, None, _) => Err(PgError::InvalidState(
                        "no dedicated databases are configured (metadata.dedicated)".to_owned(),
                    )),
                    (None, Some(_), _, _) => match self.schemas_for(&tenant) {
                        Ok(schemas) => schemas.migrate(&tenant).await,
                        Err(err) => Err(PgError::InvalidState(err.to_string())),
                    },
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

impl DatabaseRouter {
    /// The stores of `tenant`'s own database or schema, opened on first
    /// use; `None` for a tenant whose data is in the shared tables.
    fn own(&self, tenant: &Tenant) -> Result<Option<Opened>, MetadataError> {
        match (
            &tenant.dedicated_database,
            &tenant.dedicated_schema,
            &tenant.metadata_region,
        ) {
            (Some(database), _, _) => self.open(tenant, database).map(Some),
            (None, Some(schema), _) => self.open_schema(tenant, schema).map(Some),
            (None, None, Some(region)) => {
                let regional = self.regional(tenant, region)?;
                Ok(Some(Opened {
                    data: regional.data.clone(),
                    pool: regional.database.store.clone(),
                }))
            }
            (None, None, None) => Ok(None),
        }
    }

    /// The store that holds `tenant`'s rows as its row places them.
    pub(crate) fn store_of(&self, tenant: &Tenant) -> Result<PgMetadataStore, MetadataError> {
        Ok(self
            .own(tenant)?
            .map_or_else(|| self.shared.clone(), |own| own.pool))
    }

    /// A tenant's stores over `own`: its audit log and events merged with
    /// what the registry recorded of it.
    fn data_over(&self, own: &PgMetadataStore) -> Arc<TenantData> {
        Arc::new(TenantData {
            files: Arc::new(own.clone()),
            members: Arc::new(own.clone()),
            grants: Arc::new(own.clone()),
            integrity: Arc::new(own.clone()),
            records: Arc::new(own.clone()),
            versions: Arc::new(own.clone()),
            audit: Arc::new(MergedAuditLog {
                own: own.clone(),
                shared: self.shared.clone(),
            }),
            events: Arc::new(MergedOutbox {
                own: own.clone(),
                shared: self.shared.clone(),
            }),
        })
    }

    /// The stores of `tenant`'s schema (`schema`) in the shared database
    /// of its region, or else the registry's.
    fn open_schema(&self, tenant: &Tenant, schema: &str) -> Result<Opened, MetadataError> {
        if let Some(opened) = self
            .in_schemas
            .read()
            .ok()
            .and_then(|o| o.get(schema).cloned())
        {
            return Ok(opened);
        }
        if self.schemas.is_none() {
            return Err(unavailable(format!(
                "tenant {} has the schema {schema}, and no tenant schemas are configured (metadata.schemas)",
                tenant.id
            )));
        }
        let base = match &tenant.metadata_region {
            Some(region) => &self.regional(tenant, region)?.database.store,
            None => &self.shared,
        };
        let own = base.in_schema(schema)?;
        let data = self.data_over(&own);
        let mut opened = self
            .in_schemas
            .write()
            .map_err(|_| unavailable("the map of opened schemas is poisoned".to_owned()))?;
        Ok(opened
            .entry(schema.to_owned())
            .or_insert(Opened { data, pool: own })
            .clone())
    }

    /// The stores of `tenant`'s own database (`database`) and the pool
    /// behind them, opened on first use.
    fn open(&self, tenant: &Tenant, database: &str) -> Result<Opened, MetadataError> {
        if let Some(opened) = self
            .opened
            .read()
            .ok()
            .and_then(|o| o.get(database).cloned())
        {
            return Ok(opened);
        }
        let Some(dedicated) = &self.dedicated else {
            return Err(unavailable(format!(
                "tenant {} has the dedicated database {database}, and no dedicated databases are configured (metadata.dedicated)",
                tenant.id
            )));
        };
        let url = dedicated.server_for(&tenant.region).app_url_of(database);
        let own = PgMetadataStore::connect_with(&url, dedicated.pool)?;
        let data = self.data_over(&own);
        let pool = own;
        let mut opened = self
            .opened
            .write()
            .map_err(|_| unavailable("the map of opened databases is poisoned".to_owned()))?;
        // Another unit of work may have opened it meanwhile: keep one pool.
        Ok(opened
            .entry(database.to_owned())
            .or_insert(Opened { data, pool })
            .clone())
    }

    /// What of `subscriber`'s events in its own database is undelivered;
    /// due when the database cannot be asked, so that the tenant's turn
    /// meets the failure and reports it, as it would without this question.
    async fn undelivered_in_own(
        &self,
        now: OffsetDateTime,
        tenant: &Tenant,
        subscriber: Subscriber,
    ) -> Option<Undelivered> {
        let asked = match self.own(tenant) {
            Ok(Some(opened)) => opened.pool.undelivered_events(now, &[subscriber]).await,
            Ok(None) => Ok(Vec::new()),
            Err(err) => Err(err),
        };
        match asked {
            Ok(found) => found.into_iter().next(),
            Err(err) => {
                tracing::debug!(tenant = %tenant.slug, error = %err, "its own database cannot say what awaits delivery; given a turn");
                Some(Undelivered {
                    tenant: tenant.id,
                    awaiting: true,
                    due: true,
                    dead: false,
                })
            }
        }
    }
}

impl DatabaseRouter {
    /// What of `tenant`'s events in its own database is pending; due when
    /// the database cannot be asked (see [`DatabaseRouter::undelivered_in_own`]).
    async fn pending_in_own(
        &self,
        now: OffsetDateTime,
        dead_since: OffsetDateTime,
        tenant: &Tenant,
        subscribed: Arc<dyn Subscribed>,
    ) -> Vec<Pending> {
        let asked = match self.own(tenant) {
            Ok(Some(opened)) => {
                opened
                    .pool
                    .pending_events(now, dead_since, subscribed)
                    .await
            }
            Ok(None) => Ok(Vec::new()),
            Err(err) => Err(err),
        };
        match asked {
            // Its own database holds its events only.
            Ok(found) => found
                .into_iter()
                .filter(|p| p.tenant == tenant.id)
                .collect(),
            Err(err) => {
                tracing::debug!(tenant = %tenant.slug, error = %err, "its own database cannot say what is pending; given a turn");
                vec![Pending {
                    tenant: tenant.id,
                    oldest: None,
                    due: true,
                    dead_lately: false,
                }]
            }
        }
    }
}

/// A region's answer; nothing when its database cannot be asked, so that
/// the other regions' tenants still get their turns (this region's wait
/// for the next round, and the failure is logged).
async fn answered_or_skipped<T>(
    region: &Region,
    asked: impl std::future::Future<Output = Result<Vec<T>, MetadataError>>,
) -> Vec<T> {
    match asked.await {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(%region, error = %err, "the region's database cannot say what awaits delivery; its tenants wait a round");
            Vec::new()
        }
    }
}

/// The answers of several databases, one per tenant: `fold` merges a
/// tenant's further answers into its first.
fn merged<T>(
    answers: impl IntoIterator<Item = T>,
    tenant: impl Fn(&T) -> TenantId,
    fold: impl Fn(&mut T, T),
) -> Vec<T> {
    let mut merged: HashMap<TenantId, T> = HashMap::new();
    for found in answers {
        match merged.entry(tenant(&found)) {
            std::collections::hash_map::Entry::Occupied(mut first) => fold(first.get_mut(), found),
            std::collections::hash_map::Entry::Vacant(none) => {
                none.insert(found);
            }
        }
    }
    merged.into_values().collect()
}

#[async_trait]
impl TenantDataResolver for DatabaseRouter {
    async fn tenant_data(&self, tenant: &Tenant) -> Result<Arc<TenantData>, MetadataError> {
        Ok(match self.own(tenant)? {
            None => self.shared_data.clone(),
            Some(own) => own.data,
        })
    }
}

/// One question to the shared database (every tenant's events there,
/// those of the registry's changes to dedicated tenants included) and one
/// to the tenants table for the subscribers with a database of their own,
/// then one to each of those databases, all at once: a round's cost grows
/// with the dedicated tenants with a webhook, never with the shared ones.
#[async_trait]
impl UndeliveredEvents for DatabaseRouter {
    /// The shared database's answer (every tenant's events there), and that
    /// of the own database of each dedicated tenant with a webhook, asked
    /// all at once: besides the tenants with something pending, a round's
    /// cost grows with the dedicated tenants with a webhook only.
    async fn pending_events(
        &self,
        now: OffsetDateTime,
        dead_since: OffsetDateTime,
        subscribed: Arc<dyn Subscribed>,
    ) -> Result<Vec<Pending>, MetadataError> {
        let (shared, dedicated) = futures::future::try_join(
            self.shared
                .pending_events(now, dead_since, subscribed.clone()),
            self.shared.dedicated_tenants(),
        )
        .await?;
        let own = futures::future::join_all(
            dedicated
                .iter()
                .filter(|tenant| subscribed.subscribed(tenant.id))
                .map(|tenant| self.pending_in_own(now, dead_since, tenant, subscribed.clone())),
        );
        let regional = futures::future::join_all(self.regions.iter().map(|(region, r)| {
            let asked = r
                .database
                .store
                .pending_events(now, dead_since, subscribed.clone());
            answered_or_skipped(region, asked)
        }));
        let (own, regional) = futures::future::join(own, regional).await;
        Ok(merged(
            shared
                .into_iter()
                .chain(own.into_iter().flatten())
                .chain(regional.into_iter().flatten()),
            |p| p.tenant,
            |p, found| {
                p.oldest = match (p.oldest, found.oldest) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                p.due |= found.due;
                p.dead_lately |= found.dead_lately;
            },
        ))
    }

    async fn undelivered_events(
        &self,
        now: OffsetDateTime,
        subscribers: &[Subscriber],
    ) -> Result<Vec<Undelivered>, MetadataError> {
        let (shared, dedicated) = futures::future::try_join(
            self.shared.undelivered_events(now, subscribers),
            self.shared.dedicated_tenants(),
        )
        .await?;
        let by_id: HashMap<TenantId, Subscriber> =
            subscribers.iter().map(|s| (s.tenant, *s)).collect();
        let own = futures::future::join_all(dedicated.iter().filter_map(|tenant| {
            let subscriber = *by_id.get(&tenant.id)?;
            Some(self.undelivered_in_own(now, tenant, subscriber))
        }));
        let regional = futures::future::join_all(self.regions.iter().map(|(region, r)| {
            answered_or_skipped(
                region,
                r.database.store.undelivered_events(now, subscribers),
            )
        }));
        let (own, regional) = futures::future::join(own, regional).await;
        // What any database holds undelivered.
        Ok(merged(
            shared
                .into_iter()
                .chain(own.into_iter().flatten())
                .chain(regional.into_iter().flatten()),
            |u| u.tenant,
            |u, found| {
                u.awaiting |= found.awaiting;
                u.due |= found.due;
                u.dead |= found.dead;
            },
        ))
    }
}

#[async_trait]
impl TenantDatabases for DatabaseRouter {
    async fn provision_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        match (&self.dedicated, &tenant.metadata_region) {
            (Some(dedicated), _) if tenant.dedicated_database.is_some() => {
                Ok(dedicated.provision(tenant).await?)
            }
            _ if tenant.dedicated_schema.is_some() => {
                Ok(self.schemas_for(tenant)?.provision(tenant).await?)
            }
            (_, Some(region)) if tenant.dedicated_database.is_none() => Ok(self
                .regional(tenant, region)?
                .database
                .provision(tenant)
                .await?),
            // Nothing to make for a tenant without a home apart; one with a
            // home this deployment does not have is refused.
            _ if !tenant.keeps_data_apart() => Ok(()),
            _ => databases_for(None, tenant).map(|_| ()),
        }
    }

    async fn drop_database(&self, tenant: &Tenant) -> Result<(), MetadataError> {
        // Close this process's pool (or forget its stores) before it goes.
        self.forget(tenant);
        match (&self.dedicated, &tenant.metadata_region) {
            (Some(dedicated), _) if tenant.dedicated_database.is_some() => {
                Ok(dedicated.drop_database(tenant).await?)
            }
            _ if tenant.dedicated_schema.is_some() => {
                Ok(self.schemas_for(tenant)?.drop_schema(tenant).await?)
            }
            (_, Some(region)) if tenant.dedicated_database.is_none() => Ok(self
                .regional(tenant, region)?
                .database
                .remove_tenant(tenant)
                .await?),
            _ if !tenant.keeps_data_apart() => Ok(()),
            _ => databases_for(None, tenant).map(|_| ()),
        }
    }
}
