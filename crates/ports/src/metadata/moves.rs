//! Moving a tenant to another placement (docs/tenants-placement.md): the
//! queue of moves in the registry, and the copy of a tenant's rows between
//! the placements of one deployment. Only a deployment with more than one
//! placement (PostgreSQL with dedicated databases or schemas) has them.

use async_trait::async_trait;
use coffer_domain::{MoveState, MoveStep, Tenant, TenantId, TenantMove, TenantPlacement};
use time::OffsetDateTime;

use crate::{Journal, MetadataError};

/// A move being queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMove {
    pub source: TenantPlacement,
    pub target: TenantPlacement,
    pub queued_at: OffsetDateTime,
}

/// A running move's progress, and what it changes on the tenant row in
/// the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveProgress {
    pub state: MoveState,
    pub steps_done: Vec<MoveStep>,
    pub current_step: Option<MoveStep>,
    pub last_error: Option<String>,
    /// `Some(Some(at))` freezes the tenant's writes, `Some(None)` opens them.
    pub writes_frozen_at: Option<Option<OffsetDateTime>>,
    /// The tenant row's placement from now on (the switch).
    pub placement: Option<TenantPlacement>,
    /// A running move's worker holds it until then (renewed at every
    /// step); a stopped move holds no lease whatever this says.
    pub lease_until: Option<OffsetDateTime>,
    pub at: OffsetDateTime,
}

/// The moves, one row per tenant, in the registry.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MoveQueue: Send + Sync + 'static {
    /// Queue a move of `tenant` (replacing a done or failed one), with
    /// `journal` in the same transaction.
    ///
    /// # Errors
    /// `Conflict` while another move of it is queued or running;
    /// `NotFound` for an unknown tenant.
    async fn queue_move(
        &self,
        tenant: TenantId,
        new: NewMove,
        journal: Journal,
    ) -> Result<TenantMove, MetadataError>;

    /// # Errors
    /// `NotFound` when the tenant was never moved.
    async fn get_move(&self, tenant: TenantId) -> Result<TenantMove, MetadataError>;

    /// Claim the oldest move that is queued or whose worker's lease ran
    /// out, for `lease`; `None` when none is due.
    async fn claim_move(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<TenantMove>, MetadataError>;

    /// Record a running move's progress, change the tenant row as
    /// `progress` says and append `journal`, in one transaction: the
    /// switch of placement and the opening of writes commit together.
    ///
    /// # Errors
    /// `NotFound`; `InvalidState` unless the move is running.
    async fn record_move(
        &self,
        tenant: TenantId,
        progress: MoveProgress,
        journal: Option<Journal>,
    ) -> Result<TenantMove, MetadataError>;
}

/// Rows of one table, counted and digested the same way on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    pub rows: u64,
    /// A digest of every row (in key order), the bucket left out.
    pub digest: String,
}

/// An object a tenant's file or version row names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub checksum_sha256: Option<Vec<u8>>,
    /// Whether the object must exist (its file is available or an old
    /// version); a pending upload's may not yet.
    pub required: bool,
}

/// Copies a tenant's rows between two placements of this deployment.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantRowCopier: Send + Sync + 'static {
    /// Copy `tenant`'s rows (users, files with their search terms, grants,
    /// versions, legal holds, usage counters) from `from` to `to`, first
    /// removing what an earlier attempt copied there. With `bucket`, the
    /// copied file and version rows name it. Its audit log and events are
    /// not copied here: see [`TenantRowCopier::carry_chain`].
    ///
    /// # Errors
    /// `Unavailable`; `InvalidState` for placements this deployment lacks.
    async fn copy_rows(
        &self,
        tenant: &Tenant,
        from: &TenantPlacement,
        to: &TenantPlacement,
        bucket: Option<String>,
    ) -> Result<Vec<TableCopy>, MetadataError>;

    /// Each copied table's rows at `at`, counted and digested.
    async fn count_rows(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<Vec<TableCopy>, MetadataError>;

    /// The objects `tenant`'s rows at `at` name.
    async fn object_refs(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<Vec<ObjectRef>, MetadataError>;

    /// Make `tenant`'s file and version rows at `at` name `bucket` (a move
    /// that changes only the bucket leaves the rows where they are).
    /// Returns how many rows changed.
    async fn rebucket(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
        bucket: String,
    ) -> Result<u64, MetadataError>;

    /// Remove `tenant`'s copied rows from `at` (the source, once switched).
    async fn remove_rows(&self, tenant: &Tenant, at: &TenantPlacement)
    -> Result<(), MetadataError>;

    /// Carry `tenant`'s audit chain and events from its home of its own
    /// at `from` to `to`: the entries the target lacks (entries never
    /// change, so only those after its head), the head, and the events
    /// (their delivery state taken from the source). Then the entries both
    /// sides hold are compared, and the head carried is returned.
    ///
    /// With `seal`, the source's chain is sealed first, so that nothing
    /// can be linked after it any more (an append there fails `Moving`)
    /// and the target ends with the whole chain. Safe to run again.
    ///
    /// # Errors
    /// `Unavailable`; `Internal` when the entries carried differ from the
    /// source's.
    async fn carry_chain(
        &self,
        tenant: &Tenant,
        from: &TenantPlacement,
        to: &TenantPlacement,
        seal: bool,
    ) -> Result<ChainCarried, MetadataError>;

    /// Lift the seal of `tenant`'s chain at `at` (a move given up after
    /// its switch began). Nothing to do when it is not sealed.
    async fn unseal_chain(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<(), MetadataError>;
}

/// The audit chain as a carry left it at the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCarried {
    /// The last entry's place (0: the tenant has no entry yet).
    pub seq: u64,
    /// Entries copied by this call.
    pub copied: u64,
}
