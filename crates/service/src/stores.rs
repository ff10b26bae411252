//! Which object store holds a tenant's objects. A region may have an
//! endpoint of its own (data residency: EU tenants' bytes on an EU store);
//! every other tenant uses the default store. A tenant's region never
//! changes, so neither does its store: every use case, job and repair asks
//! [`Stores::for_tenant`] and never the default store directly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use coffer_domain::{BucketName, Placement, Region, Tenant};
use coffer_ports::{CredentialIssuer, ObjectStore, StoreError};

/// The default object store and the stores of the regions that have one,
/// each with the issuer of its temporary credentials where it has STS.
#[derive(Clone)]
pub struct Stores {
    default: Arc<dyn ObjectStore>,
    regions: BTreeMap<Region, Arc<dyn ObjectStore>>,
    default_issuer: Option<Arc<dyn CredentialIssuer>>,
    region_issuers: BTreeMap<Region, Arc<dyn CredentialIssuer>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("regions", &self.regions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Stores {
    /// One store for every tenant.
    pub fn new(default: Arc<dyn ObjectStore>) -> Self {
        Self {
            default,
            regions: BTreeMap::new(),
            default_issuer: None,
            region_issuers: BTreeMap::new(),
        }
    }

    /// Give the store of `region` (`None`: the default store) an issuer of
    /// temporary credentials.
    #[must_use]
    pub fn with_issuer(
        mut self,
        region: Option<Region>,
        issuer: Arc<dyn CredentialIssuer>,
    ) -> Self {
        match region {
            Some(region) => {
                self.region_issuers.insert(region, issuer);
            }
            None => self.default_issuer = Some(issuer),
        }
        self
    }

    /// The issuer of credentials for `tenant`'s store, if that store has
    /// one. A region with a store of its own never falls back to the
    /// default store's issuer: its credentials would be for another store.
    pub fn issuer_for(&self, tenant: &Tenant) -> Option<&Arc<dyn CredentialIssuer>> {
        if self.has_own_store(&tenant.region) {
            self.region_issuers.get(&tenant.region)
        } else {
            self.default_issuer.as_ref()
        }
    }

    /// Give `region` a store of its own (replacing one set before).
    #[must_use]
    pub fn with_region(mut self, region: Region, store: Arc<dyn ObjectStore>) -> Self {
        self.regions.insert(region, store);
        self
    }

    /// The store every tenant of a region without one of its own uses.
    pub fn default_store(&self) -> &Arc<dyn ObjectStore> {
        &self.default
    }

    /// The store of `region`: its own, or the default.
    pub fn for_region(&self, region: &Region) -> &Arc<dyn ObjectStore> {
        self.regions.get(region).unwrap_or(&self.default)
    }

    /// The store that holds (and must only ever hold) `tenant`'s objects.
    pub fn for_tenant(&self, tenant: &Tenant) -> &Arc<dyn ObjectStore> {
        self.for_region(&tenant.region)
    }

    /// Whether `region` has a store of its own.
    pub fn has_own_store(&self, region: &Region) -> bool {
        self.regions.contains_key(region)
    }

    /// Every bucket of its store `tenant`'s objects may be in. A region
    /// with a store of its own has only ever held its region's bucket (or
    /// the tenant's dedicated one) there: the category and default buckets
    /// belong to the default store, and asking another endpoint about them
    /// fails where bucket names are global (AWS answers with a redirect or
    /// `AccessDenied`), which would stop every repair of the tenant.
    pub fn buckets_of(&self, placement: &Placement, tenant: &Tenant) -> BTreeSet<BucketName> {
        if self.has_own_store(&tenant.region) {
            placement.tenant_buckets(tenant)
        } else {
            placement.buckets_for(tenant)
        }
    }

    /// Whether every store answers; the first that does not fails it.
    ///
    /// # Errors
    /// The store's error, as the store reported it.
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        self.default.check_ready().await?;
        for (region, store) in &self.regions {
            if let Err(err) = store.check_ready().await {
                tracing::warn!(region = %region, error = %err, "a region's object store is not ready");
                return Err(err);
            }
        }
        Ok(())
    }
}
