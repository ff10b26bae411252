//! Moving a tenant to another placement as a job (docs/tenants-placement.md):
//! a platform administrator (or a plan change) queues it, a worker
//! ([`Mover::move_pending`], inside `coffer serve`) claims it and runs the
//! steps in order — provision the target, freeze writes, copy rows, copy
//! objects, verify, switch, remove the source. Every step is safe to run
//! again, so a worker that dies anywhere leaves a move the next one
//! finishes; a step that keeps failing stops the move with writes open and
//! the tenant where it was.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{
    BucketName, ContentType, ErrorCode, MoveState, MoveStep, ObjectKey, Plan, Region, Tenant,
    TenantId, TenantMove, TenantPlacement, TenantStatus,
};
use coffer_ports::{
    Clock, Journal, MetadataErrorKind, MoveProgress, NewMove, ObjectLocation, ObjectRef,
    StoreErrorKind, TableCopy, TenantDatabases, TenantMoves, TenantRegistry,
};
use futures::StreamExt as _;
use serde_json::json;

use crate::onboarding::{Onboarder, ensure_dedicated_bucket, region_not_placed};
use crate::recorder::{Recorder, system_journal};
use crate::tenants::load_tenant;
use crate::{Caller, ErrorKind, ServiceConfig, ServiceError, Stores, TenantCaches, stream};

/// At most this many moves are run per worker round.
const ROUND: usize = 10;
/// Runs of a move (a retry after a failed step, or a reclaimed lease,
/// counts) before it stops as failed.
const MAX_ATTEMPTS: u32 = 5;

/// Where a platform administrator asks a tenant to go. `None` follows the
/// configured plans, as at onboarding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MoveTenant {
    pub dedicated_database: Option<bool>,
    pub dedicated_schema: Option<bool>,
    /// A bucket of its own for its objects; `None` keeps the one it has.
    pub dedicated_bucket: Option<BucketName>,
    /// Another region for the tenant: its objects (and its rows, with
    /// regional databases) go there. `None` keeps the one it has.
    pub region: Option<Region>,
    /// Residency is a promise to the tenant: a region change is made only
    /// when the request says so in as many words.
    pub confirm_region_change: bool,
}

/// Tenants changing placement.
#[derive(Clone)]
pub struct Mover {
    registry: Arc<dyn TenantRegistry>,
    moves: Option<TenantMoves>,
    databases: Option<Arc<dyn TenantDatabases>>,
    stores: Arc<Stores>,
    caches: Arc<TenantCaches>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl std::fmt::Debug for Mover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mover")
            .field("moves", &self.moves.is_some())
            .finish_non_exhaustive()
    }
}

fn unsupported(detail: impl Into<String>) -> ServiceError {
    ServiceError::conflict(ErrorCode::MoveUnsupported, detail)
}

impl Mover {
    pub fn new(
        registry: Arc<dyn TenantRegistry>,
        moves: Option<TenantMoves>,
        databases: Option<Arc<dyn TenantDatabases>>,
        stores: Arc<Stores>,
        caches: Arc<TenantCaches>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            registry,
            moves,
            databases,
            stores,
            caches,
            recorder: Recorder::new(clock.clone()),
            clock,
            config,
        }
    }

    fn ports(&self) -> Result<&TenantMoves, ServiceError> {
        self.moves.as_ref().ok_or_else(|| {
            unsupported("this deployment has one placement (no dedicated databases or schemas are configured)")
        })
    }

    /// Where `tenant` goes for `request` under `plan`.
    fn placement_for(
        &self,
        tenant: &Tenant,
        plan: Plan,
        request: &MoveTenant,
    ) -> Result<TenantPlacement, ServiceError> {
        let source = TenantPlacement::of(tenant);
        let region = request
            .region
            .clone()
            .unwrap_or_else(|| tenant.region.clone());
        let database = Onboarder::dedicated_database(
            &self.config,
            tenant.id,
            plan,
            request.dedicated_database,
        )?;
        let schema = Onboarder::dedicated_schema(
            &self.config,
            tenant.id,
            plan,
            request.dedicated_schema,
            database.as_ref(),
        )?;
        Ok(TenantPlacement {
            dedicated_bucket: request
                .dedicated_bucket
                .clone()
                .map(String::from)
                .or(source.dedicated_bucket),
            // Its region's shared database holds it unless it has a
            // database of its own, as at onboarding.
            metadata_region: (database.is_none() && !self.config.metadata_regions.is_empty())
                .then(|| region.clone()),
            region: Some(region),
            dedicated_database: database,
            dedicated_schema: schema,
        })
    }

    /// Where `tenant` goes for `request` under `plan`; the move refused
    /// when it has nowhere else to go, or where it may not go.
    fn target_of(
        &self,
        tenant: &Tenant,
        plan: Plan,
        request: &MoveTenant,
    ) -> Result<TenantPlacement, ServiceError> {
        let source = TenantPlacement::of(tenant);
        let target = self.placement_for(tenant, plan, request)?;
        if target == source {
            return Err(ServiceError::conflict(
                ErrorCode::AlreadyPlaced,
                "the tenant is placed there already",
            ));
        }
        if target.chain_in_registry() && !source.chain_in_registry() {
            // Its audit chain from before it left is still there, as the
            // registry's chain of the tenant: one chain a table may hold.
            return Err(unsupported(
                "a tenant that has left the registry's shared tables is never moved back into them (docs/tenants-placement.md)",
            ));
        }
        if source.dedicated_bucket.is_some() && target.dedicated_bucket != source.dedicated_bucket {
            return Err(unsupported("a tenant with a bucket of its own keeps it"));
        }
        if source.changes_region(&target) {
            self.check_region_change(&source, &target, request)?;
        }
        Ok(target)
    }

    /// A region change: confirmed, to a region this deployment serves, of
    /// a tenant whose rows are in shared tables and whose objects are in
    /// its region's buckets.
    fn check_region_change(
        &self,
        source: &TenantPlacement,
        target: &TenantPlacement,
        request: &MoveTenant,
    ) -> Result<(), ServiceError> {
        let Some(region) = &target.region else {
            return Ok(());
        };
        if !request.confirm_region_change {
            return Err(ServiceError::invalid(
                ErrorCode::RegionChangeUnconfirmed,
                format!(
                    "moving the tenant to region {region} changes where its data is kept: say so with \"confirm_region_change\": true"
                ),
            ));
        }
        if source.isolation() > 0 || target.isolation() > 0 {
            return Err(unsupported(
                "a tenant with a database or schema of its own does not change region (docs/tenants-placement.md)",
            ));
        }
        if source.dedicated_bucket.is_some() {
            return Err(unsupported(
                "a tenant with a bucket of its own does not change region: its bucket is in its region",
            ));
        }
        if !self.config.placement.serves_region(region) {
            return Err(region_not_placed(region));
        }
        let regions = &self.config.metadata_regions;
        if !regions.is_empty() && !regions.contains(region) {
            return Err(ServiceError::invalid(
                ErrorCode::RegionWithoutDatabase,
                format!("no database is configured for region {region} (metadata.regions)"),
            ));
        }
        Ok(())
    }

    /// Queue a move of tenant `id` (platform admins).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Conflict` (`move_in_progress`,
    /// `already_placed`, `move_unsupported`) or `Invalid` for a placement
    /// that is not configured.
    pub async fn request_move(
        &self,
        caller: &Caller,
        id: TenantId,
        request: MoveTenant,
    ) -> Result<TenantMove, ServiceError> {
        caller.require_platform_admin()?;
        let tenant = load_tenant(self.registry.as_ref(), id).await?;
        self.queue(Some(caller), &tenant, tenant.plan, &request)
            .await
    }

    /// After a plan change (by `caller`, or by a billing event when
    /// `None`): queue the move its new plan's placement calls for, if it
    /// keeps the tenant further apart than now (schema, then database): a
    /// downgrade keeps the home it has. One that is not active waits until
    /// it is, and a deployment with one placement moves nothing.
    ///
    /// # Errors
    /// As [`Mover::request_move`], but never for a tenant that stays.
    pub async fn follow_plan(
        &self,
        caller: Option<&Caller>,
        tenant: &Tenant,
    ) -> Result<Option<TenantMove>, ServiceError> {
        if self.moves.is_none() || tenant.status != TenantStatus::Active {
            return Ok(None);
        }
        let stays = |err: &ServiceError| {
            // Placed there already, or a move (asked for before) under way:
            // the plan change itself stands.
            matches!(
                err.code,
                ErrorCode::AlreadyPlaced | ErrorCode::MoveInProgress
            )
        };
        let target = self.placement_for(tenant, tenant.plan, &MoveTenant::default())?;
        if target.isolation() <= TenantPlacement::of(tenant).isolation() {
            return Ok(None);
        }
        match self
            .queue(caller, tenant, tenant.plan, &MoveTenant::default())
            .await
        {
            Err(err) if stays(&err) => Ok(None),
            other => other.map(Some),
        }
    }

    async fn queue(
        &self,
        caller: Option<&Caller>,
        tenant: &Tenant,
        plan: Plan,
        request: &MoveTenant,
    ) -> Result<TenantMove, ServiceError> {
        let ports = self.ports()?;
        if tenant.status != TenantStatus::Active {
            return Err(ServiceError::conflict(
                ErrorCode::InvalidTransition,
                format!("a {} tenant is not moved", tenant.status),
            ));
        }
        let target = self.target_of(tenant, plan, request)?;
        let detail = json!({ "from": TenantPlacement::of(tenant), "to": target });
        let journal = match caller {
            Some(caller) => self
                .recorder
                .journal(caller, "tenant.move_queued", None, detail),
            None => system_journal(self.clock.now(), "tenant.move_queued", detail),
        };
        let new = NewMove {
            source: TenantPlacement::of(tenant),
            target,
            queued_at: self.clock.now(),
        };
        ports
            .queue
            .queue_move(tenant.id, new, journal)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::Conflict) {
                    ServiceError::conflict(ErrorCode::MoveInProgress, err.to_string())
                } else {
                    err.into()
                }
            })
    }

    /// The tenant's last move, if it was ever moved (platform path).
    ///
    /// # Errors
    /// The store's.
    pub async fn move_of(&self, id: TenantId) -> Result<Option<TenantMove>, ServiceError> {
        let Some(ports) = &self.moves else {
            return Ok(None);
        };
        match ports.queue.get_move(id).await {
            Ok(job) => Ok(Some(job)),
            Err(err) if err.is(MetadataErrorKind::NotFound) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Claim and run moves until none is due (at most a round's worth).
    /// Returns how many ran.
    ///
    /// # Errors
    /// The registry failing to claim or record; what was left running is
    /// claimed again once its lease ends.
    pub async fn move_pending(&self) -> Result<usize, ServiceError> {
        let Some(ports) = &self.moves else {
            return Ok(0);
        };
        let mut ran = 0;
        while ran < ROUND {
            let Some(job) = ports
                .queue
                .claim_move(self.clock.now(), self.lease())
                .await?
            else {
                break;
            };
            self.run(ports, job).await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// How long a worker holds a move between two steps: the onboarding
    /// lease, which must outlast the longest step (a big tenant's copy).
    fn lease(&self) -> time::Duration {
        time::Duration::try_from(self.config.onboarding_lease).unwrap_or(time::Duration::MINUTE)
    }

    async fn run(&self, ports: &TenantMoves, mut job: TenantMove) -> Result<(), ServiceError> {
        let id = job.tenant_id;
        while let Some(step) = job.next_step() {
            job = self
                .record(ports, &job, job.steps_done.clone(), Some(step), None)
                .await?;
            // The tenant row as it is now: at the source until the switch.
            let tenant = load_tenant(self.registry.as_ref(), id).await?;
            match self.do_step(ports, step, &tenant, &job).await {
                Ok(StepDone { redo }) => {
                    let mut done = job.steps_done.clone();
                    if let Some(from) = redo {
                        // Verification found the copy stale: copy again.
                        done.retain(|s| *s < from);
                    } else {
                        done.push(step);
                    }
                    let change = if redo.is_some() {
                        RowChange::default()
                    } else {
                        self.change_of(step, &job)
                    };
                    job = self.record(ports, &job, done, None, Some(change)).await?;
                    if redo.is_some() {
                        return self
                            .retry_or_fail(
                                ports,
                                &job,
                                step,
                                "the source changed while it was copied",
                            )
                            .await;
                    }
                }
                Err(err) => {
                    tracing::warn!(tenant = %id, step = %step, error = %err, "a move step failed");
                    return self
                        .retry_or_fail(ports, &job, step, &err.to_string())
                        .await;
                }
            }
        }
        let at = self.clock.now();
        ports
            .queue
            .record_move(
                id,
                MoveProgress {
                    state: MoveState::Done,
                    steps_done: job.steps_done.clone(),
                    current_step: None,
                    last_error: None,
                    writes_frozen_at: None,
                    placement: None,
                    lease_until: None,
                    at,
                },
                Some(system_journal(
                    at,
                    "tenant.move_done",
                    json!({ "to": job.target }),
                )),
            )
            .await?;
        Ok(())
    }

    /// What a finished step changes on the tenant row.
    fn change_of(&self, step: MoveStep, job: &TenantMove) -> RowChange {
        let at = self.clock.now();
        match step {
            MoveStep::Freeze => RowChange {
                writes_frozen_at: Some(Some(at)),
                placement: None,
                journal: Some(system_journal(
                    at,
                    "tenant.writes_frozen",
                    json!({ "to": job.target }),
                )),
            },
            MoveStep::Switch => RowChange {
                writes_frozen_at: Some(None),
                placement: Some(job.target.clone()),
                journal: Some(system_journal(
                    at,
                    "tenant.moved",
                    json!({ "from": job.source, "to": job.target }),
                )),
            },
            _ => RowChange::default(),
        }
    }

    async fn record(
        &self,
        ports: &TenantMoves,
        job: &TenantMove,
        steps_done: Vec<MoveStep>,
        current_step: Option<MoveStep>,
        change: Option<RowChange>,
    ) -> Result<TenantMove, ServiceError> {
        let change = change.unwrap_or_default();
        let moved = ports
            .queue
            .record_move(
                job.tenant_id,
                MoveProgress {
                    state: MoveState::Running,
                    steps_done,
                    current_step: current_step.or(job.current_step),
                    last_error: job.last_error.clone(),
                    writes_frozen_at: change.writes_frozen_at,
                    placement: change.placement,
                    // Renewed at every step: a worker alive is never
                    // taken over between two steps.
                    lease_until: Some(self.clock.now() + self.lease()),
                    at: self.clock.now(),
                },
                change.journal,
            )
            .await?;
        if change.writes_frozen_at.is_some() {
            self.caches.forget_tenant_id(job.tenant_id);
        }
        Ok(moved)
    }

    /// A failed step: queued again for the next round, or — past the
    /// attempts — stopped with writes open (unless the switch was made,
    /// after which only the source's removal is left, and it is retried).
    async fn retry_or_fail(
        &self,
        ports: &TenantMoves,
        job: &TenantMove,
        step: MoveStep,
        error: &str,
    ) -> Result<(), ServiceError> {
        let at = self.clock.now();
        let give_up = job.attempts >= MAX_ATTEMPTS && !job.switched();
        let progress = MoveProgress {
            state: if give_up {
                MoveState::Failed
            } else {
                MoveState::Queued
            },
            steps_done: job.steps_done.clone(),
            current_step: Some(step),
            last_error: Some(error.to_owned()),
            writes_frozen_at: give_up.then_some(None),
            placement: None,
            lease_until: None,
            at,
        };
        let journal = give_up.then(|| {
            system_journal(
                at,
                "tenant.move_failed",
                json!({ "step": step, "error": error }),
            )
        });
        if give_up && step == MoveStep::Switch {
            // The seal may have been set: the tenant stays, and its chain
            // must take entries again.
            let tenant = load_tenant(self.registry.as_ref(), job.tenant_id).await?;
            if carries_chain(job) {
                ports.rows.unseal_chain(&tenant, &job.source).await?;
            }
        }
        ports
            .queue
            .record_move(job.tenant_id, progress, journal)
            .await?;
        if give_up {
            self.caches.forget_tenant_id(job.tenant_id);
        }
        Ok(())
    }

    async fn do_step(
        &self,
        ports: &TenantMoves,
        step: MoveStep,
        tenant: &Tenant,
        job: &TenantMove,
    ) -> Result<StepDone, ServiceError> {
        let (source, target) = (job.source.apply_to(tenant), job.target.apply_to(tenant));
        // Rows move only between homes; a move of the bucket or region
        // alone leaves them where they are and renames their bucket.
        let rows_move = !job.source.same_home(&job.target);
        let objects = self.objects_move(job)?;
        let to_bucket = objects.as_ref().and_then(|o| o.to_bucket.clone());
        match step {
            MoveStep::Provision => {
                if let Some(databases) = &self.databases {
                    databases.provision_database(&target).await?;
                }
                if let Some(bucket) = self.new_dedicated_bucket(job)? {
                    ensure_dedicated_bucket(&self.stores, &self.config, &target, bucket).await?;
                }
            }
            MoveStep::Freeze => {}
            MoveStep::CopyRows => {
                // Every instance has seen the freeze, and writes that began
                // before it have ended, once the grace has passed.
                if let Some(frozen) = tenant.writes_frozen_at {
                    let waited = self.clock.now() - frozen;
                    if let Ok(left) = Duration::try_from(
                        time::Duration::try_from(self.config.move_freeze_grace)
                            .unwrap_or(time::Duration::ZERO)
                            - waited,
                    ) {
                        tokio::time::sleep(left).await;
                    }
                }
                if rows_move {
                    ports
                        .rows
                        .copy_rows(
                            tenant,
                            &job.source,
                            &job.target,
                            to_bucket.as_ref().map(|b| b.as_str().to_owned()),
                        )
                        .await?;
                    if carries_chain(job) {
                        // The bulk of the chain now; at the switch only
                        // what reads appended meanwhile is left.
                        ports
                            .rows
                            .carry_chain(tenant, &job.source, &job.target, false)
                            .await?;
                    }
                }
            }
            MoveStep::CopyObjects => {
                if let Some(objects) = &objects {
                    let refs = ports.rows.object_refs(tenant, &job.source).await?;
                    self.copy_objects(&source, &target, &refs, objects).await?;
                }
            }
            MoveStep::Verify => {
                if rows_move {
                    let (at_source, copied) = futures::future::try_join(
                        ports.rows.count_rows(tenant, &job.source),
                        ports.rows.count_rows(tenant, &job.target),
                    )
                    .await?;
                    if let Some(differs) = first_difference(&at_source, &copied) {
                        tracing::warn!(tenant = %tenant.slug, %differs, "the copy differs from the source; copying again");
                        return Ok(StepDone {
                            redo: Some(MoveStep::CopyRows),
                        });
                    }
                }
                if let Some(objects) = &objects {
                    let refs = ports.rows.object_refs(tenant, &job.source).await?;
                    self.verify_objects(&target, &refs, objects).await?;
                }
            }
            MoveStep::Switch => {
                if rows_move && carries_chain(job) {
                    // Sealed, the source's chain takes no further entry:
                    // the target ends with all of it, and an instance
                    // that has not seen the switch yet is refused
                    // (`tenant_moving`) rather than write where nobody
                    // will read.
                    ports
                        .rows
                        .carry_chain(tenant, &job.source, &job.target, true)
                        .await?;
                }
            }
            MoveStep::RemoveSource => {
                // The rows name the objects to remove until they are
                // renamed (same home) or dropped (another home).
                let refs = match &objects {
                    Some(_) => ports.rows.object_refs(&source, &job.source).await?,
                    None => Vec::new(),
                };
                if !rows_move && let Some(bucket) = &to_bucket {
                    ports
                        .rows
                        .rebucket(&target, &job.target, bucket.as_str().to_owned())
                        .await?;
                }
                if let Some(objects) = &objects {
                    self.remove_objects(&source, &refs, objects).await;
                }
                if !rows_move {
                } else if carries_chain(job) {
                    // A home of its own: dropped whole, like at purge.
                    if let Some(databases) = &self.databases {
                        databases.drop_database(&source).await?;
                    }
                } else {
                    ports.rows.remove_rows(&source, &job.source).await?;
                }
            }
        }
        Ok(StepDone { redo: None })
    }

    /// The dedicated bucket the move makes, when it asks for a new one.
    fn new_dedicated_bucket(&self, job: &TenantMove) -> Result<Option<BucketName>, ServiceError> {
        if job.target.dedicated_bucket == job.source.dedicated_bucket {
            return Ok(None);
        }
        Ok(job
            .target
            .dedicated_bucket
            .clone()
            .map(BucketName::new)
            .transpose()?)
    }

    /// How the tenant's objects move, if they do: to a new dedicated
    /// bucket, or to its new region's bucket and store.
    fn objects_move(&self, job: &TenantMove) -> Result<Option<ObjectsMove>, ServiceError> {
        let mut to_bucket = self.new_dedicated_bucket(job)?;
        let mut across_stores = false;
        if let (true, Some(from), Some(to)) = (
            job.source.changes_region(&job.target),
            &job.source.region,
            &job.target.region,
        ) {
            let buckets = &self.config.placement.regions;
            if to_bucket.is_none() && buckets.get(from) != buckets.get(to) {
                to_bucket = buckets.get(to).cloned();
            }
            across_stores = !Arc::ptr_eq(self.stores.for_region(from), self.stores.for_region(to));
        }
        Ok(
            (to_bucket.is_some() || across_stores).then_some(ObjectsMove {
                to_bucket,
                across_stores,
            }),
        )
    }

    fn locations(
        tenant: &Tenant,
        object: &ObjectRef,
        objects: &ObjectsMove,
    ) -> Result<(ObjectLocation, ObjectLocation), ServiceError> {
        let key = ObjectKey::parse(object.key.clone())?;
        let from = BucketName::new(object.bucket.clone())?;
        let to = objects.to_bucket.clone().unwrap_or_else(|| from.clone());
        Ok((
            ObjectLocation::new(tenant.id, from, key.clone())?,
            ObjectLocation::new(tenant.id, to, key)?,
        ))
    }

    /// Copies into the new place: server-side within one store, streamed
    /// from one to the other across regions' stores. A pending upload's
    /// missing object is skipped, a required one's is an error.
    async fn copy_objects(
        &self,
        source: &Tenant,
        target: &Tenant,
        refs: &[ObjectRef],
        objects: &ObjectsMove,
    ) -> Result<(), ServiceError> {
        let (from_store, to_store) = (
            self.stores.for_tenant(source),
            self.stores.for_tenant(target),
        );
        for object in refs {
            let (from, to) = Self::locations(source, object, objects)?;
            let copied = if objects.across_stores {
                match from_store.get_stream(&from, None).await {
                    Ok(got) => {
                        let content_type = got
                            .content_type
                            .and_then(|raw| ContentType::new(raw).ok())
                            .map_or_else(|| ContentType::new(ContentType::OCTET_STREAM), Ok)?;
                        to_store
                            .put_stream(&to, &content_type, got.body)
                            .await
                            .map(|_| ())
                    }
                    Err(err) => Err(err),
                }
            } else {
                from_store.copy(&from, &to).await.map(|_| ())
            };
            match copied {
                Ok(()) => {}
                Err(err) if err.kind() == StoreErrorKind::NotFound && !object.required => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    /// Each required object in its new place, read whole: its length and
    /// SHA-256 those its row records.
    async fn verify_objects(
        &self,
        target: &Tenant,
        refs: &[ObjectRef],
        objects: &ObjectsMove,
    ) -> Result<(), ServiceError> {
        let store = self.stores.for_tenant(target);
        for object in refs.iter().filter(|o| o.required) {
            let (_, location) = Self::locations(target, object, objects)?;
            let got = store.get_stream(&location, None).await?;
            let (mut body, meter) = stream::meter(got.body, object.size);
            while let Some(chunk) = body.next().await {
                if chunk.is_err() {
                    break;
                }
            }
            let read = stream::read(&meter);
            let matches = !read.over_limit
                && read.bytes == object.size
                && object
                    .checksum_sha256
                    .as_deref()
                    .is_none_or(|sum| sum == read.digest().as_bytes().as_slice());
            if !matches {
                return Err(ServiceError::new(
                    ErrorKind::Internal,
                    ErrorCode::Internal,
                    format!(
                        "the copy of {} does not match its file's size and SHA-256",
                        object.key
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The source's objects, once the tenant reads from the target; one
    /// that cannot be deleted (an object lock) is left and logged. Within
    /// one store, an object already in the new bucket is the copy, and
    /// stays.
    async fn remove_objects(&self, source: &Tenant, refs: &[ObjectRef], objects: &ObjectsMove) {
        let store = self.stores.for_tenant(source);
        for object in refs {
            let Ok((location, _)) = Self::locations(source, object, objects) else {
                continue;
            };
            if !objects.across_stores
                && objects
                    .to_bucket
                    .as_ref()
                    .is_some_and(|b| b.as_str() == object.bucket)
            {
                continue;
            }
            match store.delete(&location).await {
                Ok(()) => {}
                Err(err) if err.kind() == StoreErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(tenant = %source.slug, key = %object.key, error = %err, "a moved object's source copy was left in place");
                }
            }
        }
    }
}

/// Where a move sends the tenant's objects.
struct ObjectsMove {
    /// The bucket they go to; `None` keeps each one's bucket name.
    to_bucket: Option<BucketName>,
    /// From one region's store to another's (streamed through Coffer).
    across_stores: bool,
}

/// Whether `job` takes the tenant's audit chain and events along: it
/// leaves a home of its own, where they are its home's, not the registry's.
fn carries_chain(job: &TenantMove) -> bool {
    !job.source.chain_in_registry()
}

/// What a step asks of the tenant row, recorded with it.
#[derive(Default)]
struct RowChange {
    writes_frozen_at: Option<Option<time::OffsetDateTime>>,
    placement: Option<TenantPlacement>,
    journal: Option<Journal>,
}

/// A step's outcome: done, or the step to go back to.
struct StepDone {
    redo: Option<MoveStep>,
}

/// The first table whose rows differ between the two sides.
fn first_difference(source: &[TableCopy], copied: &[TableCopy]) -> Option<String> {
    source
        .iter()
        .zip(copied)
        .find(|(a, b)| a != b)
        .map(|(a, b)| {
            format!(
                "{}: {} rows at the source, {} copied",
                a.table, a.rows, b.rows
            )
        })
        .or_else(|| (source.len() != copied.len()).then(|| "the tables differ".to_owned()))
}
