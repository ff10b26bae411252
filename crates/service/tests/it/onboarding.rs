//! The onboarding job over mocks: steps in order, compensations in reverse
//! on failure, the outcome recorded, retries and the residency check.

use std::sync::{Arc, Mutex};

use coffer_domain::{
    BucketName, LimitOverrides, Onboarding, OnboardingRequest, OnboardingState, OnboardingStep,
    Plan, Region, Role, Subject, Tenant, TenantSlug, TenantStatus,
};
use coffer_ports::{MetadataErrorKind, NewTenant, OnboardingUpdate, StoreErrorKind};
use coffer_service::{CreateTenant, ErrorKind};

use crate::support::*;

fn job(t: &Tenant) -> Onboarding {
    Onboarding {
        tenant_id: t.id,
        state: OnboardingState::Running,
        request: OnboardingRequest {
            admin_subject: Some(Subject::new("boss").unwrap()),
        },
        current_step: None,
        steps_done: vec![],
        attempts: 1,
        last_error: None,
        lease_until: Some(now()),
        queued_at: now(),
        updated_at: now(),
    }
}

fn provisioning() -> Tenant {
    Tenant {
        dedicated_bucket: Some("acme-own".into()),
        dedicated_database: Some("coffer_t_acme".into()),
        ..tenant(TenantStatus::Provisioning)
    }
}

/// What the mocks saw, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// A fixture where `fail` (a step) fails; every call is logged.
fn fixture(t: &Tenant, fail: Option<OnboardingStep>, log: &Log) -> OnboarderFx {
    let mut fx = OnboarderFx::default();
    let row = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(row.clone()));
    let l = log.clone();
    fx.store.expect_ensure_bucket().returning(move |spec| {
        l.lock()
            .unwrap()
            .push(format!("ensure_bucket {}", spec.bucket));
        Ok(())
    });
    let l = log.clone();
    fx.store.expect_remove_bucket().returning(move |b| {
        l.lock().unwrap().push(format!("remove_bucket {b}"));
        Ok(())
    });
    let mut databases = coffer_ports::MockTenantDatabases::new();
    let l = log.clone();
    databases.expect_provision_database().returning(move |t| {
        l.lock().unwrap().push(format!(
            "provision_database {}",
            t.dedicated_database.as_deref().unwrap_or("-")
        ));
        if fail == Some(OnboardingStep::Database) {
            return Err(meta_err(MetadataErrorKind::Unavailable));
        }
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
    fx.databases = Some(databases);
    let l = log.clone();
    fx.members
        .expect_upsert_user()
        .returning(move |_, s, roles| {
            l.lock().unwrap().push(format!("upsert_user {s} {roles:?}"));
            if fail == Some(OnboardingStep::AdminUser) {
                return Err(meta_err(MetadataErrorKind::Unavailable));
            }
            Ok(coffer_domain::UserId::new_random())
        });
    let l = log.clone();
    fx.members.expect_remove_user().returning(move |_, s, _| {
        l.lock().unwrap().push(format!("remove_user {s}"));
        Ok(())
    });
    let l = log.clone();
    let base = job(t);
    fx.onboarding
        .expect_update_onboarding()
        .returning(move |_, u: OnboardingUpdate, _| {
            l.lock().unwrap().push(format!(
                "update {} {:?} {:?} {:?}",
                u.state, u.current_step, u.steps_done, u.tenant_status
            ));
            let step_failing = match u.state {
                OnboardingState::Running => u.current_step == fail && fail.is_some(),
                OnboardingState::Done => fail == Some(OnboardingStep::Activate),
                _ => false,
            };
            let failed_in_its_work = matches!(
                fail,
                Some(OnboardingStep::AdminUser | OnboardingStep::Database)
            );
            if step_failing && !failed_in_its_work {
                return Err(meta_err(MetadataErrorKind::Unavailable));
            }
            Ok(Onboarding {
                state: u.state,
                current_step: u.current_step,
                steps_done: u.steps_done,
                last_error: u.last_error,
                ..base.clone()
            })
        });
    fx
}

#[tokio::test]
async fn the_steps_run_in_order_and_the_tenant_becomes_active() {
    let t = provisioning();
    let log = Log::default();
    let app = fixture(&t, None, &log).build();
    let done = app.run_onboarding(job(&t)).await.unwrap();
    assert_eq!(done.state, OnboardingState::Done);
    assert_eq!(done.steps_done, OnboardingStep::ALL);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "ensure_bucket acme-own",
            "update running Some(Placement) [Placement] None",
            "provision_database coffer_t_acme",
            "update running Some(Database) [Placement, Database] None",
            "upsert_user boss [Admin]",
            "update running Some(AdminUser) [Placement, Database, AdminUser] None",
            "update done None [Placement, Database, AdminUser, Activate] Some(Active)",
        ]
    );
}

#[tokio::test]
async fn a_failed_step_undoes_what_was_made_in_reverse_and_records_the_failure() {
    let cases = [
        (OnboardingStep::Placement, vec!["remove_bucket acme-own"]),
        (
            OnboardingStep::Database,
            vec!["drop_database coffer_t_acme", "remove_bucket acme-own"],
        ),
        (
            OnboardingStep::AdminUser,
            vec![
                "remove_user boss",
                "drop_database coffer_t_acme",
                "remove_bucket acme-own",
            ],
        ),
        (
            OnboardingStep::Activate,
            vec![
                "remove_user boss",
                "drop_database coffer_t_acme",
                "remove_bucket acme-own",
            ],
        ),
    ];
    for (step, undone) in cases {
        let t = provisioning();
        let log = Log::default();
        let app = fixture(&t, Some(step), &log).build();
        let failed = app.run_onboarding(job(&t)).await.unwrap();
        assert_eq!(failed.state, OnboardingState::Failed, "{step}");
        assert_eq!(failed.current_step, Some(step));
        assert_eq!(failed.steps_done, Vec::<OnboardingStep>::new());
        assert!(
            failed
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(&format!("{step}: "))),
            "{failed:?}"
        );
        let log = log.lock().unwrap().clone();
        let compensations: Vec<&str> = log
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("remove_") || l.starts_with("drop_"))
            .collect();
        assert_eq!(compensations, undone, "{step}: {log:?}");
        assert_eq!(
            log.last().map(String::as_str),
            Some(format!("update failed Some({step:?}) [] Some(ProvisioningFailed)").as_str()),
            "{step}"
        );
    }
}

#[tokio::test]
async fn a_compensation_that_fails_is_reported_and_left_on_record() {
    let t = provisioning();
    let log = Log::default();
    let mut fx = fixture(&t, Some(OnboardingStep::AdminUser), &log);
    fx.store.checkpoint();
    fx.store.expect_ensure_bucket().returning(|_| Ok(()));
    fx.store
        .expect_remove_bucket()
        .returning(|_| Err(store_err(StoreErrorKind::Unavailable)));
    let failed = fx.build().run_onboarding(job(&t)).await.unwrap();
    assert_eq!(failed.state, OnboardingState::Failed);
    assert_eq!(failed.steps_done, [OnboardingStep::Placement]);
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("undoing placement")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_non_empty_dedicated_bucket_is_left_in_place() {
    let t = provisioning();
    let log = Log::default();
    let mut fx = fixture(&t, Some(OnboardingStep::Activate), &log);
    fx.store.checkpoint();
    fx.store.expect_ensure_bucket().returning(|_| Ok(()));
    fx.store
        .expect_remove_bucket()
        .returning(|_| Err(store_err(StoreErrorKind::Conflict)));
    let failed = fx.build().run_onboarding(job(&t)).await.unwrap();
    assert_eq!(failed.steps_done, Vec::<OnboardingStep>::new());
}

fn request(region: &str) -> CreateTenant {
    CreateTenant {
        slug: TenantSlug::new("globex").unwrap(),
        display_name: "Globex".into(),
        plan: Plan::Enterprise,
        region: Region::new(region).unwrap(),
        limit_overrides: LimitOverrides::default(),
        dedicated_bucket: Some(BucketName::new("globex-own").unwrap()),
        dedicated_database: None,
        dedicated_schema: None,
        admin_subject: Some(Subject::new("boss").unwrap()),
    }
}

/// The new tenant `create_tenant` queued for `req` with `fx`'s
/// configuration (the view it answered is the same tenant).
async fn queued_as(
    mut fx: OnboarderFx,
    req: CreateTenant,
) -> Result<NewTenant, coffer_service::ServiceError> {
    let queued = Arc::new(Mutex::new(None));
    let seen = queued.clone();
    fx.onboarding
        .expect_create_onboarding()
        .returning(move |n, o, _| {
            *seen.lock().unwrap() = Some(n.clone());
            let t = n.planned();
            let mut j = job(&t);
            j.request = o.request;
            Ok((t, j))
        });
    let t = fx.build().create_tenant(&platform_admin(), req).await?;
    let new = queued.lock().unwrap().clone().unwrap();
    assert_eq!(t, new.planned());
    Ok(new)
}

/// What `create_tenant` put into the new tenant's `dedicated_database`,
/// for a request of `plan` asking `asked`, with `placement` configured.
async fn database_chosen(
    placement: Option<coffer_service::DedicatedPolicy>,
    plan: Plan,
    asked: Option<bool>,
) -> Result<Option<String>, coffer_service::ServiceError> {
    let mut fx = OnboarderFx::default();
    fx.config.dedicated_databases = placement;
    let req = CreateTenant {
        plan,
        dedicated_database: asked,
        ..request("eu-west")
    };
    Ok(queued_as(fx, req).await?.dedicated_database)
}

#[tokio::test]
async fn dedicated_databases_follow_the_plan_unless_the_request_says_otherwise() {
    let enterprise = || coffer_service::DedicatedPolicy::new("coffer_t_", [Plan::Enterprise]).ok();
    let named = database_chosen(enterprise(), Plan::Enterprise, None)
        .await
        .unwrap();
    let name = named.expect("an enterprise tenant gets its own database");
    assert!(
        name.starts_with("coffer_t_") && name.len() == "coffer_t_".len() + 32,
        "{name}"
    );
    assert_eq!(
        database_chosen(enterprise(), Plan::Starter, None)
            .await
            .unwrap(),
        None
    );
    assert!(
        database_chosen(enterprise(), Plan::Starter, Some(true))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        database_chosen(enterprise(), Plan::Enterprise, Some(false))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        database_chosen(None, Plan::Enterprise, None).await.unwrap(),
        None
    );
    assert_err(
        database_chosen(None, Plan::Enterprise, Some(true)).await,
        ErrorKind::Invalid,
        "dedicated_database_unavailable",
    );
}

/// What `create_tenant` put into the new tenant's `(dedicated_database,
/// dedicated_schema)`, for a request of `plan` asking `asked` (database,
/// schema), with both rules configured as given.
async fn homes_chosen(
    databases: Option<coffer_service::DedicatedPolicy>,
    schemas: Option<coffer_service::DedicatedPolicy>,
    plan: Plan,
    asked: (Option<bool>, Option<bool>),
) -> Result<(Option<String>, Option<String>), coffer_service::ServiceError> {
    let mut fx = OnboarderFx::default();
    fx.config.dedicated_databases = databases;
    fx.config.dedicated_schemas = schemas;
    let req = CreateTenant {
        plan,
        dedicated_database: asked.0,
        dedicated_schema: asked.1,
        ..request("eu-west")
    };
    let new = queued_as(fx, req).await?;
    Ok((new.dedicated_database, new.dedicated_schema))
}

#[tokio::test]
async fn schemas_follow_the_plan_and_never_come_with_a_database() {
    use coffer_service::DedicatedPolicy;
    let enterprise = || DedicatedPolicy::new("coffer_t_", [Plan::Enterprise]).ok();
    let professional = || DedicatedPolicy::for_schemas("coffer_s_", [Plan::Professional]).ok();
    let (db, schema) = homes_chosen(
        enterprise(),
        professional(),
        Plan::Professional,
        (None, None),
    )
    .await
    .unwrap();
    let schema = schema.expect("a professional tenant gets its own schema");
    assert!(db.is_none());
    assert!(
        schema.starts_with("coffer_s_") && schema.len() == "coffer_s_".len() + 32,
        "{schema}"
    );
    // An enterprise tenant gets its database, and so no schema.
    let (db, schema) = homes_chosen(enterprise(), professional(), Plan::Enterprise, (None, None))
        .await
        .unwrap();
    assert!(db.is_some() && schema.is_none(), "{db:?} {schema:?}");
    // Starter: neither, unless asked.
    assert_eq!(
        homes_chosen(enterprise(), professional(), Plan::Starter, (None, None))
            .await
            .unwrap(),
        (None, None)
    );
    let (_, asked) = homes_chosen(None, professional(), Plan::Starter, (None, Some(true)))
        .await
        .unwrap();
    assert!(asked.is_some());
    assert_eq!(
        homes_chosen(
            None,
            professional(),
            Plan::Professional,
            (None, Some(false))
        )
        .await
        .unwrap(),
        (None, None)
    );
    assert_err(
        homes_chosen(None, None, Plan::Professional, (None, Some(true))).await,
        ErrorKind::Invalid,
        "dedicated_schema_unavailable",
    );
    assert_err(
        homes_chosen(
            enterprise(),
            professional(),
            Plan::Starter,
            (Some(true), Some(true)),
        )
        .await,
        ErrorKind::Invalid,
        "validation_failed",
    );
    for bad in ["", "9x", "a-b", &"x".repeat(32)] {
        assert!(DedicatedPolicy::for_schemas(bad, []).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn regional_databases_place_their_regions_tenants_and_refuse_other_regions() {
    let placed = |region: &str, database: Option<bool>| {
        let mut fx = OnboarderFx::default();
        fx.config.metadata_regions = vec![Region::new("eu-west").unwrap()];
        fx.config.dedicated_databases =
            coffer_service::DedicatedPolicy::new("coffer_t_", [Plan::Enterprise]).ok();
        let req = CreateTenant {
            plan: Plan::Starter,
            dedicated_database: database,
            ..request(region)
        };
        async move { queued_as(fx, req).await.map(|new| new.metadata_region) }
    };
    assert_eq!(
        placed("eu-west", None).await.unwrap(),
        Some(Region::new("eu-west").unwrap()),
        "its region's database holds its data"
    );
    assert_eq!(
        placed("eu-west", Some(true)).await.unwrap(),
        None,
        "a database of its own is made on its region's server instead"
    );
    assert_err(
        placed("us-east", None).await,
        ErrorKind::Invalid,
        "region_without_database",
    );
}

#[test]
fn database_prefixes_are_plain_identifiers() {
    use coffer_service::DedicatedPolicy;
    for good in ["coffer_t_", "t", "_x9"] {
        assert!(DedicatedPolicy::new(good, []).is_ok(), "{good}");
    }
    for bad in ["", "9x", "Coffer", "a-b", "a;drop", &"x".repeat(32)] {
        assert!(DedicatedPolicy::new(bad, []).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn create_queues_a_provisioning_tenant_and_makes_nothing_yet() {
    let mut fx = OnboarderFx::default();
    fx.store.expect_ensure_bucket().never();
    fx.members.expect_upsert_user().never();
    fx.onboarding
        .expect_create_onboarding()
        .times(1)
        .withf(|n, o, _| {
            n.status == TenantStatus::Provisioning
                && n.dedicated_bucket.as_deref() == Some("globex-own")
                && o.request.admin_subject.as_ref().map(Subject::as_str) == Some("boss")
        })
        .returning(|n, o, _| {
            let t = Tenant {
                id: n.id,
                slug: n.slug,
                status: n.status,
                ..tenant(TenantStatus::Provisioning)
            };
            let mut j = job(&t);
            j.state = OnboardingState::Queued;
            j.request = o.request;
            Ok((t, j))
        });
    let app = fx.build();
    let t = app
        .create_tenant(&platform_admin(), request("eu-west"))
        .await
        .unwrap();
    assert_eq!(t.status, TenantStatus::Provisioning);
}

#[tokio::test]
async fn a_region_without_placement_is_refused_at_request_time() {
    let mut fx = OnboarderFx::default();
    fx.config.placement.regions.insert(
        Region::new("eu-west").unwrap(),
        BucketName::new("coffer-eu").unwrap(),
    );
    fx.onboarding.expect_create_onboarding().never();
    let app = fx.build();
    assert_err(
        app.create_tenant(&platform_admin(), request("us-east"))
            .await,
        ErrorKind::Invalid,
        "region_not_placed",
    );
}

#[tokio::test]
async fn only_a_failed_onboarding_is_retried() {
    let t = tenant(TenantStatus::ProvisioningFailed);
    let mut fx = OnboarderFx::default();
    let row = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(row.clone()));
    let mut failed = job(&t);
    failed.state = OnboardingState::Failed;
    fx.onboarding
        .expect_get_onboarding()
        .returning(move |_| Ok(failed.clone()));
    let mut calls = 0;
    fx.onboarding
        .expect_update_onboarding()
        .times(2)
        .withf(|_, u, _| {
            u.expected == OnboardingState::Failed
                && u.state == OnboardingState::Queued
                && u.tenant_status == Some(TenantStatus::Provisioning)
        })
        .returning(move |_, _, _| {
            calls += 1;
            if calls == 1 {
                Ok(job(&tenant(TenantStatus::Provisioning)))
            } else {
                Err(meta_err(MetadataErrorKind::InvalidState))
            }
        });
    let app = fx.build();
    app.retry_onboarding(&platform_admin(), t.id).await.unwrap();
    assert_err(
        app.retry_onboarding(&platform_admin(), t.id).await,
        ErrorKind::Conflict,
        "not_failed",
    );
    let member = caller(&t, "boss", &[Role::Admin]);
    assert_err(
        app.retry_onboarding(&member, t.id).await,
        ErrorKind::Forbidden,
        "platform_admin_required",
    );
}

#[tokio::test]
async fn a_dedicated_bucket_is_made_and_undone_on_the_regions_own_store() {
    // eu-west has an endpoint of its own: its tenants' dedicated buckets
    // are made there, and undone there, never on the default store.
    let t = provisioning();
    let log = Log::default();
    let mut fx = fixture(&t, Some(OnboardingStep::AdminUser), &log);
    let eu_west = Region::new("eu-west").unwrap();
    fx.config
        .placement
        .regions
        .insert(eu_west.clone(), BucketName::new("coffer-eu").unwrap());
    fx.store.checkpoint();
    fx.store.expect_ensure_bucket().never();
    fx.store.expect_remove_bucket().never();
    let mut eu = coffer_ports::MockObjectStore::new();
    let l = log.clone();
    eu.expect_ensure_bucket().times(1).returning(move |spec| {
        l.lock()
            .unwrap()
            .push(format!("eu ensure_bucket {}", spec.bucket));
        Ok(())
    });
    let l = log.clone();
    eu.expect_remove_bucket().times(1).returning(move |b| {
        l.lock().unwrap().push(format!("eu remove_bucket {b}"));
        Ok(())
    });
    fx.regions.push((eu_west, eu));
    let failed = fx.build().run_onboarding(job(&t)).await.unwrap();
    assert_eq!(failed.state, OnboardingState::Failed);
    let log = log.lock().unwrap().clone();
    let buckets: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains("_bucket"))
        .collect();
    assert_eq!(
        buckets,
        ["eu ensure_bucket acme-own", "eu remove_bucket acme-own"]
    );
}

#[tokio::test]
async fn a_dedicated_database_is_refused_where_the_deployment_has_none() {
    let t = provisioning();
    let log = Log::default();
    let mut fx = fixture(&t, None, &log);
    fx.databases = None;
    let failed = fx.build().run_onboarding(job(&t)).await.unwrap();
    assert_eq!(failed.state, OnboardingState::Failed);
    assert_eq!(failed.current_step, Some(OnboardingStep::Database));
    // Neither made nor undone: the step stays on record as left over.
    assert_eq!(failed.steps_done, [OnboardingStep::Database]);
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("database: ") && e.contains("invalid_state")),
        "{failed:?}"
    );
    let log = log.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("_database")), "{log:?}");
    assert!(
        log.contains(&"remove_bucket acme-own".to_owned()),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_tenant_in_the_shared_database_needs_no_dedicated_databases() {
    let t = Tenant {
        dedicated_database: None,
        ..provisioning()
    };
    let log = Log::default();
    let mut fx = fixture(&t, None, &log);
    fx.databases = None;
    let done = fx.build().run_onboarding(job(&t)).await.unwrap();
    assert_eq!(done.state, OnboardingState::Done);
    let log = log.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("_database")), "{log:?}");
}
