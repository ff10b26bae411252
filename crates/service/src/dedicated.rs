//! Dedicated databases: a tenant whose data lives in a database of its own.
//! The database exists before the tenant's registry row and goes before it,
//! so a registry row never names a database that is not there — or, were
//! the row gone first, nothing would name the database any more. A
//! deployment without dedicated databases (`MetadataPorts::databases` is
//! `None`) refuses a tenant that has one.

use coffer_domain::Tenant;
use coffer_ports::{MetadataError, TenantDatabases, databases_for};

/// Make `tenant`'s dedicated database ready, if it has one (the
/// onboarding's `database` step).
///
/// # Errors
/// As [`databases_for`] and [`TenantDatabases::provision_database`].
pub(crate) async fn provision_database(
    databases: Option<&dyn TenantDatabases>,
    tenant: &Tenant,
) -> Result<(), MetadataError> {
    match databases_for(databases, tenant)? {
        Some(databases) => databases.provision_database(tenant).await,
        None => Ok(()),
    }
}

/// Drop `tenant`'s dedicated database with everything in it, if it has
/// one (the `database` step's compensation; purge).
///
/// # Errors
/// As [`databases_for`] and [`TenantDatabases::drop_database`].
pub(crate) async fn drop_database(
    databases: Option<&dyn TenantDatabases>,
    tenant: &Tenant,
) -> Result<(), MetadataError> {
    match databases_for(databases, tenant)? {
        Some(databases) => databases.drop_database(tenant).await,
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use coffer_domain::{
        LimitOverrides, Plan, Region, Subject, TenantId, TenantSlug, TenantStatus,
    };
    use coffer_ports::{
        MockAuditLog, MockBillingLedger, MockEventOutbox, MockFileCatalog, MockGrants,
        MockIntegrity, MockJobLocks, MockMembers, MockMetadataReadiness, MockOnboardingQueue,
        MockTenantDatabases, MockTenantRegistry, MockTenantSettings, NewAudit, OneDatabase,
        TenantData,
    };
    use time::OffsetDateTime;

    use coffer_ports::{
        Journal, MetadataError, MetadataErrorKind, MetadataPorts, NewTenant, TenantDatabases,
    };

    // `MetadataPorts::create_tenant` (in coffer-ports, which has no mocks of
    // its own), as the CLI and the bootstrap use it.

    type Log = Arc<Mutex<Vec<String>>>;

    fn new_tenant(database: Option<&str>) -> NewTenant {
        NewTenant {
            id: TenantId::new_random(),
            slug: TenantSlug::new("acme").unwrap(),
            display_name: "Acme".into(),
            plan: Plan::Enterprise,
            status: TenantStatus::Active,
            region: Region::new("eu-west").unwrap(),
            dedicated_bucket: None,
            dedicated_database: database.map(str::to_owned),
            dedicated_schema: None,
            metadata_region: None,
            limit_overrides: LimitOverrides::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn journal() -> Journal {
        Journal::audit(NewAudit {
            actor: Subject::system(),
            action: "tenant.created".into(),
            file_id: None,
            detail: serde_json::Value::Null,
            request_id: None,
            client_addr: None,
            at: OffsetDateTime::UNIX_EPOCH,
        })
    }

    /// Ports whose registry answers `refuse` (or the tenant) and whose
    /// databases (when `with_databases`) log what they are asked.
    fn ports(log: &Log, refuse: Option<MetadataErrorKind>, with_databases: bool) -> MetadataPorts {
        let mut registry = MockTenantRegistry::new();
        let l = log.clone();
        registry.expect_create_tenant().returning(move |new, _| {
            l.lock()
                .unwrap()
                .push(format!("create_tenant {}", new.slug));
            match refuse {
                Some(kind) => Err(MetadataError::new(kind, "refused")),
                None => Ok(new.planned()),
            }
        });
        let mut databases = MockTenantDatabases::new();
        let l = log.clone();
        databases.expect_provision_database().returning(move |t| {
            l.lock().unwrap().push(format!(
                "provision_database {}",
                t.dedicated_database.as_deref().unwrap_or("-")
            ));
            Ok(())
        });
        let l = log.clone();
        databases.expect_drop_database().returning(move |t| {
            l.lock().unwrap().push(format!(
                "drop_database {}",
                t.dedicated_database.as_deref().unwrap_or("-")
            ));
            Ok(())
        });
        MetadataPorts {
            registry: Arc::new(registry),
            settings: Arc::new(MockTenantSettings::new()),
            onboarding: Arc::new(MockOnboardingQueue::new()),
            scans: Arc::new(coffer_ports::MockScanQueue::new()),
            sessions: Arc::new(coffer_ports::MockUploadSessions::new()),
            links: Arc::new(coffer_ports::MockShareLinks::new()),
            upload_requests: Arc::new(coffer_ports::MockUploadRequests::new()),
            billing: Arc::new(MockBillingLedger::new()),
            undelivered: Arc::new(coffer_ports::MockUndeliveredEvents::new()),
            jobs: Arc::new(MockJobLocks::new()),
            tenant_data: Arc::new(OneDatabase::new(TenantData {
                files: Arc::new(MockFileCatalog::new()),
                members: Arc::new(MockMembers::new()),
                grants: Arc::new(MockGrants::new()),
                audit: Arc::new(MockAuditLog::new()),
                integrity: Arc::new(MockIntegrity::new()),
                events: Arc::new(MockEventOutbox::new()),
                records: Arc::new(coffer_ports::MockRecords::new()),
                versions: Arc::new(coffer_ports::MockFileVersions::new()),
            })),
            databases: with_databases.then(|| Arc::new(databases) as Arc<dyn TenantDatabases>),
            moves: None,
            readiness: Arc::new(MockMetadataReadiness::new()),
        }
    }

    fn seen(log: &Log) -> Vec<String> {
        log.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_dedicated_database_is_provisioned_before_the_registry_row() {
        let log = Log::default();
        let tenant = ports(&log, None, true)
            .create_tenant(new_tenant(Some("coffer_t_acme")), journal())
            .await;
        assert_eq!(
            tenant.unwrap().dedicated_database.as_deref(),
            Some("coffer_t_acme")
        );
        assert_eq!(
            seen(&log),
            ["provision_database coffer_t_acme", "create_tenant acme"]
        );
    }

    #[tokio::test]
    async fn a_refused_row_drops_the_database_again() {
        let log = Log::default();
        let refused = ports(&log, Some(MetadataErrorKind::Conflict), true)
            .create_tenant(new_tenant(Some("coffer_t_acme")), journal())
            .await;
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(MetadataErrorKind::Conflict)
        );
        assert_eq!(
            seen(&log),
            [
                "provision_database coffer_t_acme",
                "create_tenant acme",
                "drop_database coffer_t_acme"
            ]
        );
    }

    #[tokio::test]
    async fn a_tenant_without_one_is_only_a_registry_row() {
        for with_databases in [true, false] {
            let log = Log::default();
            let created = ports(&log, None, with_databases)
                .create_tenant(new_tenant(None), journal())
                .await;
            assert!(created.is_ok(), "{created:?}");
            assert_eq!(seen(&log), ["create_tenant acme"]);
        }
    }

    #[tokio::test]
    async fn a_deployment_without_dedicated_databases_refuses_one() {
        let log = Log::default();
        let refused = ports(&log, None, false)
            .create_tenant(new_tenant(Some("coffer_t_acme")), journal())
            .await;
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(MetadataErrorKind::InvalidState)
        );
        assert_eq!(seen(&log), Vec::<String>::new());
    }
}
