//! Which moves the Mover queues: where a plan change sends a tenant, and
//! the moves it refuses (docs/tenants-placement.md).

use std::sync::{Arc, Mutex};

use coffer_domain::{MoveState, Plan, Tenant, TenantMove, TenantPlacement, TenantStatus};
use coffer_ports::{
    MockMoveQueue, MockObjectStore, MockTenantRegistry, MockTenantRowCopier, TenantMoves,
};
use coffer_service::{DedicatedPolicy, ErrorKind, MoveTenant, Mover};

use crate::support::*;

/// The moves queued, by target.
type Queued = Arc<Mutex<Vec<TenantPlacement>>>;

fn mover(tenant: &Tenant, with_moves: bool, queued: &Queued) -> Mover {
    let mut config = Config::default().0;
    config.dedicated_databases = DedicatedPolicy::new("coffer_t_", [Plan::Enterprise]).ok();
    // A regional tenant's deployment has regional databases.
    config.metadata_regions = tenant.metadata_region.iter().cloned().collect();
    let mut registry = MockTenantRegistry::new();
    let found = tenant.clone();
    registry
        .expect_get_tenant()
        .returning(move |_| Ok(found.clone()));
    let mut queue = MockMoveQueue::new();
    let seen = queued.clone();
    queue.expect_queue_move().returning(move |tenant, new, _| {
        seen.lock().unwrap().push(new.target.clone());
        Ok(TenantMove {
            tenant_id: tenant,
            source: new.source,
            target: new.target,
            state: MoveState::Queued,
            steps_done: Vec::new(),
            current_step: None,
            attempts: 0,
            last_error: None,
            lease_until: None,
            queued_at: new.queued_at,
            updated_at: new.queued_at,
        })
    });
    let moves = with_moves.then(|| TenantMoves {
        queue: Arc::new(queue),
        rows: Arc::new(MockTenantRowCopier::new()),
    });
    let config = Arc::new(config);
    Mover::new(
        Arc::new(registry),
        moves,
        None,
        stores(MockObjectStore::new(), vec![]),
        caches(&config),
        clock(),
        config,
    )
}

#[tokio::test]
async fn an_upgrade_to_a_plan_with_a_database_queues_the_move_there() {
    let tenant = Tenant {
        plan: Plan::Enterprise,
        ..tenant(TenantStatus::Active)
    };
    let queued = Queued::default();
    let moved = mover(&tenant, true, &queued)
        .follow_plan(Some(&platform_admin()), &tenant)
        .await
        .unwrap()
        .expect("a move");
    let expected = format!("coffer_t_{}", tenant.id.as_uuid().simple());
    assert_eq!(
        moved.target.dedicated_database.as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(moved.source, TenantPlacement::of(&tenant));
    assert!(moved.source.in_shared_tables());
    assert_eq!(queued.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_plan_whose_placement_is_the_same_a_home_apart_or_one_placement_moves_nothing() {
    let queued = Queued::default();
    let starter = tenant(TenantStatus::Active);
    assert!(
        mover(&starter, true, &queued)
            .follow_plan(Some(&platform_admin()), &starter)
            .await
            .unwrap()
            .is_none()
    );
    // A downgraded Enterprise tenant keeps its database.
    let apart = Tenant {
        dedicated_database: Some("coffer_t_x".into()),
        ..tenant(TenantStatus::Active)
    };
    assert!(
        mover(&apart, true, &queued)
            .follow_plan(Some(&platform_admin()), &apart)
            .await
            .unwrap()
            .is_none()
    );
    let enterprise = Tenant {
        plan: Plan::Enterprise,
        ..tenant(TenantStatus::Active)
    };
    assert!(
        mover(&enterprise, false, &queued)
            .follow_plan(Some(&platform_admin()), &enterprise)
            .await
            .unwrap()
            .is_none()
    );
    assert!(queued.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_tenant_with_a_home_of_its_own_moves_further_apart_never_back() {
    let queued = Queued::default();
    let admin = platform_admin();
    // A Professional tenant in its schema, upgraded: to its database.
    let in_schema = Tenant {
        plan: Plan::Enterprise,
        dedicated_schema: Some("coffer_s_x".into()),
        ..tenant(TenantStatus::Active)
    };
    let moved = mover(&in_schema, true, &queued)
        .follow_plan(None, &in_schema)
        .await
        .unwrap()
        .expect("a move");
    assert!(moved.target.dedicated_database.is_some());
    assert_eq!(moved.target.dedicated_schema, None);
    assert_eq!(moved.source.dedicated_schema.as_deref(), Some("coffer_s_x"));
    // A regional tenant (its home is its region's shared tables) asked
    // to its own database, and back into its region's shared tables.
    let regional = Tenant {
        metadata_region: Some(coffer_domain::Region::new("eu-west").unwrap()),
        ..tenant(TenantStatus::Active)
    };
    let to_database = MoveTenant {
        dedicated_database: Some(true),
        ..MoveTenant::default()
    };
    mover(&regional, true, &queued)
        .request_move(&admin, regional.id, to_database)
        .await
        .unwrap();
    let in_database = Tenant {
        dedicated_database: Some("coffer_t_x".into()),
        ..regional.clone()
    };
    // Back into its region's shared tables: the regional database.
    let back = mover(&in_database, true, &queued)
        .request_move(
            &admin,
            in_database.id,
            MoveTenant {
                dedicated_database: Some(false),
                ..MoveTenant::default()
            },
        )
        .await
        .unwrap();
    assert!(back.target.in_shared_tables());
    assert_eq!(back.target.metadata_region, regional.metadata_region);
    // A downgrade alone moves nobody back.
    let downgraded = Tenant {
        plan: Plan::Starter,
        ..in_database
    };
    assert!(
        mover(&downgraded, true, &queued)
            .follow_plan(None, &downgraded)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(queued.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn asked_moves_are_refused_where_there_is_nowhere_to_go() {
    let queued = Queued::default();
    let admin = platform_admin();
    let starter = tenant(TenantStatus::Active);
    let to_database = MoveTenant {
        dedicated_database: Some(true),
        ..MoveTenant::default()
    };
    assert_err(
        mover(&starter, false, &queued)
            .request_move(&admin, starter.id, to_database.clone())
            .await,
        ErrorKind::Conflict,
        "move_unsupported",
    );
    assert_err(
        mover(&starter, true, &queued)
            .request_move(&admin, starter.id, MoveTenant::default())
            .await,
        ErrorKind::Conflict,
        "already_placed",
    );
    // Out of a schema of its own, never back into the registry's tables,
    // where its former chain would meet the one it takes along.
    let apart = Tenant {
        dedicated_schema: Some("coffer_s_x".into()),
        ..tenant(TenantStatus::Active)
    };
    let to_shared = MoveTenant {
        dedicated_database: Some(false),
        dedicated_schema: Some(false),
        ..MoveTenant::default()
    };
    assert_err(
        mover(&apart, true, &queued)
            .request_move(&admin, apart.id, to_shared.clone())
            .await,
        ErrorKind::Conflict,
        "move_unsupported",
    );
    let suspended = tenant(TenantStatus::Suspended);
    assert_err(
        mover(&suspended, true, &queued)
            .request_move(&admin, suspended.id, to_database.clone())
            .await,
        ErrorKind::Conflict,
        "invalid_transition",
    );
    assert_err(
        mover(&starter, true, &queued)
            .request_move(
                &caller(&starter, "boss", &[coffer_domain::Role::Admin]),
                starter.id,
                to_database,
            )
            .await,
        ErrorKind::Forbidden,
        "platform_admin_required",
    );
    assert!(queued.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_region_change_is_confirmed_and_only_for_a_tenant_in_shared_tables() {
    let queued = Queued::default();
    let admin = platform_admin();
    let us = coffer_domain::Region::new("us-east").unwrap();
    let to_us = |confirm| MoveTenant {
        region: Some(us.clone()),
        confirm_region_change: confirm,
        ..MoveTenant::default()
    };
    let starter = tenant(TenantStatus::Active);
    assert_err(
        mover(&starter, true, &queued)
            .request_move(&admin, starter.id, to_us(false))
            .await,
        ErrorKind::Invalid,
        "region_change_unconfirmed",
    );
    let in_schema = Tenant {
        dedicated_schema: Some("coffer_s_x".into()),
        ..tenant(TenantStatus::Active)
    };
    assert_err(
        mover(&in_schema, true, &queued)
            .request_move(&admin, in_schema.id, to_us(true))
            .await,
        ErrorKind::Conflict,
        "move_unsupported",
    );
    assert!(queued.lock().unwrap().is_empty());
    let moved = mover(&starter, true, &queued)
        .request_move(&admin, starter.id, to_us(true))
        .await
        .unwrap();
    assert_eq!(moved.target.region, Some(us));
    assert_eq!(moved.source.region, Some(starter.region.clone()));
}
