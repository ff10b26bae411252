//! Moving a tenant's rows from the shared tables to a home of its own (a
//! schema here; a dedicated database goes through the same store code),
//! and the queue of moves.

use coffer_domain::{MoveState, MoveStep, Role, Subject, Tenant, TenantPlacement};
use coffer_ports::{
    MetadataErrorKind, MetadataPorts, MoveProgress, NewMove, TableCopy, TenantMoves, TenantScope,
};
use coffer_postgres::testing::TestDb;
use coffer_postgres::{DatabaseRouter, DedicatedSchemas};
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::support::{at, limits, new_file, new_tenant, record};

fn ports(db: &TestDb) -> MetadataPorts {
    DatabaseRouter::new(db.store(4).unwrap(), None)
        .with_schemas(Some(DedicatedSchemas {
            owner_url: db.owner_url(),
        }))
        .ports()
}

/// Users, files (one a version of another, whose id sorts first), a grant.
async fn fill(ports: &MetadataPorts, db: &TestDb, tenant: &Tenant) {
    let scope = TenantScope::new(tenant.id);
    let data = ports.tenant_data.tenant_data(tenant).await.unwrap();
    for who in ["owner", "reader"] {
        data.members
            .upsert_user(&scope, &Subject::new(who).unwrap(), &[Role::Editor])
            .await
            .unwrap();
    }
    let owner = data
        .members
        .upsert_user(&scope, &Subject::new("owner").unwrap(), &[Role::Editor])
        .await
        .unwrap();
    for name in ["a.pdf", "b.pdf", "c.pdf"] {
        data.files
            .reserve_upload(
                &scope,
                new_file(tenant, owner, name, 5),
                &limits(),
                record(),
            )
            .await
            .unwrap();
    }
    let mut conn = AsyncPgConnection::establish(&db.owner_url()).await.unwrap();
    conn.batch_execute(&format!(
        "SET coffer.tenant_id = '{}'; SET coffer.platform = 'on'",
        tenant.id
    ))
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO files (id, tenant_id, owner_id, owner_subject, category, path, filename, \
           content_type, size_bytes, visibility, metadata, status, bucket, object_key, created_at, \
           updated_at, version, version_of) \
         SELECT ('00000000-' || substr(tenant_id::text, 10))::uuid, tenant_id, owner_id, owner_subject, category, \
           path, 'v2-' || filename, content_type, size_bytes, visibility, metadata, status, bucket, \
           object_key || '-v2', created_at, updated_at, 2, id \
         FROM files WHERE tenant_id = $1 AND filename = 'c.pdf'",
    )
    .bind::<SqlUuid, _>(*tenant.id.as_uuid())
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO grants (id, tenant_id, file_id, subject, access, created_by, created_at) \
         SELECT gen_random_uuid(), tenant_id, id, 'user:reader', 'read', 'owner', now() \
         FROM files WHERE tenant_id = $1 AND filename = 'a.pdf'",
    )
    .bind::<SqlUuid, _>(*tenant.id.as_uuid())
    .execute(&mut conn)
    .await
    .unwrap();
}

fn rows_of(counts: &[TableCopy], table: &str) -> u64 {
    counts.iter().find(|c| c.table == table).unwrap().rows
}

fn schema_of(tenant: &Tenant) -> TenantPlacement {
    TenantPlacement {
        dedicated_schema: Some(format!("coffer_s_{}", tenant.id.as_uuid().simple())),
        dedicated_bucket: Some("acme-own".into()),
        ..TenantPlacement::default()
    }
}

#[tokio::test]
async fn a_shared_tenants_rows_are_copied_whole_once_however_often_and_removed_after() {
    let db = TestDb::new().await;
    let ports = ports(&db);
    let TenantMoves { rows, .. } = ports.moves.clone().expect("moves with schemas");
    let tenant = ports
        .create_tenant(new_tenant("moving", 0), record())
        .await
        .unwrap();
    let neighbour = ports
        .create_tenant(new_tenant("staying", 0), record())
        .await
        .unwrap();
    fill(&ports, &db, &tenant).await;
    fill(&ports, &db, &neighbour).await;
    let (source, target) = (TenantPlacement::default(), schema_of(&tenant));
    ports
        .databases
        .as_ref()
        .unwrap()
        .provision_database(&target.apply_to(&tenant))
        .await
        .unwrap();

    let before = rows.count_rows(&tenant, &source).await.unwrap();
    let neighbours = rows.count_rows(&neighbour, &source).await.unwrap();
    assert_eq!(rows_of(&before, "users"), 2);
    assert_eq!(rows_of(&before, "files"), 4);
    assert_eq!(rows_of(&before, "grants"), 1);
    // Twice: the second attempt replaces the first's copy, doubling nothing.
    for _ in 0..2 {
        let copied = rows
            .copy_rows(&tenant, &source, &target, Some("acme-own".into()))
            .await
            .unwrap();
        assert_eq!(copied, before, "every table the same, row for row");
    }
    let schema = target.dedicated_schema.clone().unwrap();
    let id = *tenant.id.as_uuid();
    assert_eq!(
        db.count_rows(db.name(), &format!("{schema}.files"), id)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        db.count_rows(db.name(), &format!("{schema}.file_terms"), id)
            .await
            .unwrap(),
        db.count_rows(db.name(), "public.file_terms", id)
            .await
            .unwrap(),
        "the search terms remade by the target's trigger"
    );
    // The copy names the new bucket; the source keeps the old one.
    let moved = rows.object_refs(&tenant, &target).await.unwrap();
    assert!(!moved.is_empty() && moved.iter().all(|o| o.bucket == "acme-own"));
    let left = rows.object_refs(&tenant, &source).await.unwrap();
    assert!(left.iter().all(|o| o.bucket != "acme-own"));

    // A write that reached the source after the copy is seen.
    let data = ports.tenant_data.tenant_data(&tenant).await.unwrap();
    data.members
        .upsert_user(
            &TenantScope::new(tenant.id),
            &Subject::new("late").unwrap(),
            &[Role::Viewer],
        )
        .await
        .unwrap();
    assert_ne!(
        rows.count_rows(&tenant, &source).await.unwrap(),
        rows.count_rows(&tenant, &target).await.unwrap()
    );

    rows.remove_rows(&tenant, &source).await.unwrap();
    let gone = rows.count_rows(&tenant, &source).await.unwrap();
    for table in ["users", "files", "grants", "file_versions", "legal_holds"] {
        assert_eq!(rows_of(&gone, table), 0, "{table} removed from the source");
    }
    assert_eq!(rows_of(&gone, "usage_counters"), 1, "zeroed counters stay");
    assert_eq!(
        rows.count_rows(&neighbour, &source).await.unwrap(),
        neighbours,
        "the neighbour's rows untouched"
    );
    // Placed at the target, the tenant's stores are the schema's.
    let placed = target.apply_to(&tenant);
    let data = ports.tenant_data.tenant_data(&placed).await.unwrap();
    assert_eq!(
        data.members
            .count_users(&TenantScope::new(tenant.id))
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_move_is_queued_once_claimed_and_switches_the_row_with_its_writes() {
    let db = TestDb::new().await;
    let ports = ports(&db);
    let TenantMoves { queue, .. } = ports.moves.clone().unwrap();
    let tenant = ports
        .create_tenant(new_tenant("queued", 0), record())
        .await
        .unwrap();
    let target = schema_of(&tenant);
    let new = NewMove {
        source: TenantPlacement::default(),
        target: target.clone(),
        queued_at: at(1),
    };
    queue
        .queue_move(tenant.id, new.clone(), record())
        .await
        .unwrap();
    let again = queue.queue_move(tenant.id, new.clone(), record()).await;
    assert!(again.unwrap_err().is(MetadataErrorKind::Conflict));
    let claimed = queue
        .claim_move(at(2), time::Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((claimed.state, claimed.attempts), (MoveState::Running, 1));
    assert!(
        queue
            .claim_move(at(3), time::Duration::minutes(1))
            .await
            .unwrap()
            .is_none(),
        "leased"
    );
    let progress = |steps: Vec<MoveStep>, frozen, placement| MoveProgress {
        state: MoveState::Running,
        steps_done: steps,
        current_step: None,
        last_error: None,
        writes_frozen_at: frozen,
        placement,
        lease_until: Some(at(64)),
        at: at(4),
    };
    queue
        .record_move(
            tenant.id,
            progress(
                vec![MoveStep::Provision, MoveStep::Freeze],
                Some(Some(at(4))),
                None,
            ),
            Some(record()),
        )
        .await
        .unwrap();
    let frozen = ports.registry.get_tenant(tenant.id).await.unwrap();
    assert_eq!(frozen.writes_frozen_at, Some(at(4)));
    assert_eq!(frozen.dedicated_schema, None);
    let switched = queue
        .record_move(
            tenant.id,
            progress(
                TenantMoveSteps::through_switch(),
                Some(None),
                Some(target.clone()),
            ),
            None,
        )
        .await
        .unwrap();
    assert!(switched.switched());
    let row = ports.registry.get_tenant(tenant.id).await.unwrap();
    assert_eq!(row.writes_frozen_at, None);
    // A move that names no region keeps the tenant's.
    assert_eq!(
        TenantPlacement::of(&row),
        TenantPlacement::of(&target.apply_to(&row))
    );
    assert_eq!(row.dedicated_schema, target.dedicated_schema);
    // Each step renewed the lease past the claim's (at 62 s).
    assert!(
        queue
            .claim_move(at(63), time::Duration::minutes(1))
            .await
            .unwrap()
            .is_none(),
        "renewed"
    );
    // A worker that died leaves its lease to run out; then it is claimed again.
    let reclaimed = queue
        .claim_move(at(200), time::Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reclaimed.attempts, 2);
    assert_eq!(reclaimed.next_step(), Some(MoveStep::RemoveSource));
    let done = queue
        .record_move(
            tenant.id,
            MoveProgress {
                state: MoveState::Done,
                ..progress(coffer_domain::TenantMove::STEPS.to_vec(), None, None)
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(done.placement_status(), "placed");
    assert_eq!(done.lease_until, None);
    assert!(
        queue
            .record_move(tenant.id, progress(vec![], None, None), None)
            .await
            .unwrap_err()
            .is(MetadataErrorKind::InvalidState),
        "a finished move takes no more progress"
    );
}

struct TenantMoveSteps;

impl TenantMoveSteps {
    fn through_switch() -> Vec<MoveStep> {
        coffer_domain::TenantMove::STEPS
            .iter()
            .copied()
            .take_while(|s| *s != MoveStep::RemoveSource)
            .collect()
    }
}

/// A journal entry announced as an event, for the chain and the outbox.
fn announced(n: u32) -> coffer_ports::Journal {
    let audit = record().audit;
    coffer_ports::Journal::announced(
        coffer_ports::NewAudit {
            action: format!("test.entry_{n}"),
            ..audit
        },
        coffer_ports::NewEvent {
            id: uuid::Uuid::now_v7(),
            kind: "test.entry".into(),
            data: serde_json::json!({ "n": n }),
        },
    )
}

#[tokio::test]
async fn a_chain_carried_from_a_home_is_whole_and_its_sealed_source_takes_no_more() {
    use coffer_ports::AuditChain;
    let db = TestDb::new().await;
    let ports = ports(&db);
    let TenantMoves { rows, .. } = ports.moves.clone().expect("moves with schemas");
    let tenant = ports
        .create_tenant(new_tenant("carried", 0), record())
        .await
        .unwrap();
    let simple = tenant.id.as_uuid().simple();
    let place = |name: String| TenantPlacement {
        dedicated_schema: Some(name),
        ..TenantPlacement::default()
    };
    let (source, target) = (
        place(format!("coffer_s_{simple}")),
        place(format!("coffer_m_{simple}")),
    );
    let databases = ports.databases.clone().unwrap();
    let at_source = source.apply_to(&tenant);
    let at_target = target.apply_to(&tenant);
    databases.provision_database(&at_source).await.unwrap();
    databases.provision_database(&at_target).await.unwrap();
    let scope = TenantScope::new(tenant.id);
    let from = ports.tenant_data.tenant_data(&at_source).await.unwrap();
    let to = ports.tenant_data.tenant_data(&at_target).await.unwrap();
    for n in 0..7 {
        from.events
            .record_journal(&scope, announced(n))
            .await
            .unwrap();
    }

    // The bulk, twice: the second finds nothing left to copy.
    let carried = rows
        .carry_chain(&tenant, &source, &target, false)
        .await
        .unwrap();
    assert_eq!((carried.seq, carried.copied), (7, 7));
    let again = rows
        .carry_chain(&tenant, &source, &target, false)
        .await
        .unwrap();
    assert_eq!((again.seq, again.copied), (7, 0));

    // Reads go on appending at the source; the sealed carry takes them too.
    for n in 7..10 {
        from.audit
            .append_audit(&scope, announced(n).audit)
            .await
            .unwrap();
    }
    let sealed = rows
        .carry_chain(&tenant, &source, &target, true)
        .await
        .unwrap();
    assert_eq!((sealed.seq, sealed.copied), (10, 3));
    let err = from
        .audit
        .append_audit(&scope, announced(10).audit)
        .await
        .unwrap_err();
    assert!(err.is(MetadataErrorKind::Moving), "{err}");

    // The target's chain is the source's, entry for entry, and its head
    // takes the next entry.
    let main = |heads: Vec<coffer_ports::ChainHead>| {
        heads
            .into_iter()
            .find(|h| h.chain == AuditChain::Main)
            .unwrap()
    };
    let (a, b) = (
        main(from.audit.chain_heads(&scope).await.unwrap()),
        main(to.audit.chain_heads(&scope).await.unwrap()),
    );
    assert_eq!((a.seq, a.hash), (b.seq, b.hash));
    let (a, b) = (
        from.audit
            .read_chain(&scope, AuditChain::Main, 0, 100)
            .await
            .unwrap(),
        to.audit
            .read_chain(&scope, AuditChain::Main, 0, 100)
            .await
            .unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(b.len(), 10);
    to.audit
        .append_audit(&scope, announced(11).audit)
        .await
        .unwrap();
    assert_eq!(main(to.audit.chain_heads(&scope).await.unwrap()).seq, 11);
    // Every event came along, once.
    let events = to
        .events
        .list_events(&scope, None, at(1_000_000), 100)
        .await
        .unwrap();
    assert_eq!(
        events
            .items
            .iter()
            .filter(|e| e.kind == "test.entry")
            .count(),
        7
    );

    // A move given up before its switch lifts the seal.
    rows.unseal_chain(&tenant, &source).await.unwrap();
    from.audit
        .append_audit(&scope, announced(12).audit)
        .await
        .unwrap();
}
