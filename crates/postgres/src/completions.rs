//! Upload completions, batched per tenant. A completion moves the file's
//! reservation into usage on the tenant's one `usage_counters` row and
//! links its record into the tenant's audit chain, so one tenant's
//! concurrent completes queued on those two locks a commit at a time.
//! Those arriving while a batch is written go into the next: one
//! transaction locks the batch's files, updates them (pipelined), inserts
//! their versions in one statement, moves the counters once and links
//! every record in one append; each caller is answered after the commit
//! with its own outcome.

use std::collections::HashMap;

use coffer_domain::{FileId, TenantId, UsageChange};
use coffer_ports::{KeyedBatcher, MetadataError, MetadataErrorKind, ObjectFacts, TenantScope};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::files::{adjust_usage, lock_live_file};
use crate::journal::{JournalRows, insert_journals};
use crate::lanes::{self, together_or_alone};
use crate::prepared::prepared_by_name;
use crate::rows::{FileRow, FileVersionRow, status_of, to_i64};
use crate::schema::{file_versions, files};
use crate::store::{PgMetadataStore, scoped, transaction};

/// One verified upload to make available (or `scanning`), with the
/// record of it.
pub(crate) struct Completion {
    pub(crate) id: FileId,
    pub(crate) facts: ObjectFacts,
    pub(crate) journal: JournalRows,
}

type Outcome = lanes::Outcome<FileRow>;

/// The completion lanes of a database, one per tenant.
pub(crate) type CompletionBatches = KeyedBatcher<TenantId, Completion, Outcome>;

impl PgMetadataStore {
    /// Completes `completion` together with the tenant's others pending.
    pub(crate) async fn complete(&self, tenant: TenantId, completion: Completion) -> Outcome {
        let store = self.clone();
        lanes::submit(
            &self.completions,
            tenant,
            completion,
            "completion",
            |batch| async move {
                let together = store.complete_together(tenant, &batch);
                together_or_alone(&batch, together, |one| store.complete_alone(tenant, one)).await
            },
        )
        .await
    }

    /// One completion in a transaction of its own.
    async fn complete_alone(
        &self,
        tenant: TenantId,
        completion: &Completion,
    ) -> Result<FileRow, PgError> {
        let scope = TenantScope::new(tenant);
        transaction!(self, |conn| {
            let current = lock_live_file(conn, tenant, completion.id).await?;
            if !needs_completion(&current)? {
                return Ok(current);
            }
            let updated = update_file(conn, &current, &completion.facts).await?;
            diesel::insert_into(file_versions::table)
                .values(version_of(&updated, &completion.facts))
                .execute(conn)
                .await?;
            adjust_usage(
                conn,
                &scope,
                UsageChange::complete(current.size_bytes, updated.size_bytes),
            )
            .await?;
            completion.journal.insert(conn).await?;
            Ok(updated)
        })
    }

    /// Several completions of one tenant in one transaction: every file of
    /// the batch locked at once (in id order, so two batches never wait on
    /// each other crosswise), each pending one updated, then the versions,
    /// the counters and the records written once. A file named twice in a
    /// batch (a retried complete) is completed once and both callers get
    /// its outcome.
    async fn complete_together(
        &self,
        tenant: TenantId,
        batch: &[Completion],
    ) -> Result<Vec<Outcome>, PgError> {
        let scope = TenantScope::new(tenant);
        transaction!(self, |conn| {
            let mut ids: Vec<Uuid> = batch.iter().map(|c| *c.id.as_uuid()).collect();
            ids.sort_unstable();
            ids.dedup();
            let current: HashMap<Uuid, FileRow> = lock_live_files(conn, tenant, &ids)
                .await?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
            // The first completion of each file decides it; the index of
            // its outcome answers any later one of the same file.
            let mut first: HashMap<Uuid, usize> = HashMap::new();
            let mut decided: Vec<Result<Option<&FileRow>, PgError>> = Vec::new();
            let mut pending: Vec<(usize, &FileRow, &Completion)> = Vec::new();
            for completion in batch {
                let id = *completion.id.as_uuid();
                if first.contains_key(&id) {
                    continue;
                }
                first.insert(id, decided.len());
                let state = match current.get(&id) {
                    None => Err(PgError::NotFound("file")),
                    Some(row) => match needs_completion(row) {
                        Ok(true) => {
                            pending.push((decided.len(), row, completion));
                            Ok(None)
                        }
                        Ok(false) => Ok(Some(row)),
                        Err(e) => Err(e),
                    },
                };
                decided.push(state);
            }
            let shared: &AsyncPgConnection = conn;
            let updated = futures::future::try_join_all(
                pending
                    .iter()
                    .map(|(_, row, completion)| update_file(shared, row, &completion.facts)),
            )
            .await?;
            let mut change = UsageChange::default();
            let mut versions = Vec::with_capacity(updated.len());
            for ((_, before, completion), after) in pending.iter().zip(&updated) {
                change += UsageChange::complete(before.size_bytes, after.size_bytes);
                versions.push(version_of(after, &completion.facts));
            }
            if !versions.is_empty() {
                diesel::insert_into(file_versions::table)
                    .values(&versions)
                    .execute(conn)
                    .await?;
                adjust_usage(conn, &scope, change).await?;
                let journals: Vec<&JournalRows> =
                    pending.iter().map(|(_, _, c)| &c.journal).collect();
                insert_journals(conn, &journals).await?;
            }
            let mut answers: Vec<Outcome> = decided
                .into_iter()
                .map(|state| match state {
                    Ok(Some(row)) => Ok(row.clone()),
                    // Filled in from `updated` below.
                    Ok(None) => Err(MetadataError::new(MetadataErrorKind::Internal, "")),
                    Err(e) => Err(e.into()),
                })
                .collect();
            for ((index, _, _), row) in pending.iter().zip(updated) {
                answers[*index] = Ok(row);
            }
            Ok(batch
                .iter()
                .map(|c| match &answers[first[c.id.as_uuid()]] {
                    Ok(row) => Ok(row.clone()),
                    Err(e) => Err(MetadataError::new(e.kind(), e.message())),
                })
                .collect())
        })
    }
}

/// Whether `row` still waits for its completion (`false`: completed
/// already, a retry); `InvalidState` for a file in the trash.
fn needs_completion(row: &FileRow) -> Result<bool, PgError> {
    status_of(&row.status)?
        .needs_completion()
        .map_err(|e| PgError::InvalidState(e.to_string()))
}

/// Begins the tenant's unit of work on `conn` by locking the rows of the
/// files `ids` (sorted) that exist and are not being erased, in id order,
/// in one statement: a key probe per id ([`LockLiveFiles`]).
async fn lock_live_files(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<Vec<FileRow>, PgError> {
    let conn: &AsyncPgConnection = conn;
    let lock = LockLiveFiles { ids: ids.to_vec() };
    Ok(scoped(conn, tenant, lock.load::<FileRow>(&mut &*conn)).await?)
}

/// `SELECT f.* FROM unnest($1) AS k (id) CROSS JOIN LATERAL (SELECT … FROM
/// files WHERE id = k.id … FOR UPDATE) AS f`: the locking sub-select stays
/// a probe by key per element, in the array's order, whatever the
/// statistics say. `id = ANY($1) FOR UPDATE`, the first form, let the
/// planner pick the tenant's key range with the array as a filter when the
/// statistics had not seen the tenant grow: a walk of every file of the
/// tenant (28,312 rows for a batch of 20 in the bench).
struct LockLiveFiles {
    ids: Vec<Uuid>,
}

prepared_by_name!(LockLiveFiles);

impl QueryFragment<Pg> for LockLiveFiles {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT f.* FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql(
            ") AS k (id) CROSS JOIN LATERAL (SELECT * FROM files \
             WHERE files.id = k.id AND files.erase_started_at IS NULL FOR UPDATE) AS f",
        );
        Ok(())
    }
}

/// The update that makes the pending file `current` hold the verified
/// object `facts` describes.
async fn update_file(
    conn: &AsyncPgConnection,
    current: &FileRow,
    facts: &ObjectFacts,
) -> Result<FileRow, PgError> {
    let status = if facts.awaits_scan {
        coffer_domain::FileStatus::Scanning
    } else {
        coffer_domain::FileStatus::Available
    };
    let size = to_i64(facts.size_bytes, "size_bytes")?;
    let checksum = facts
        .checksum_sha256
        .map(|d| d.as_bytes().to_vec())
        .or_else(|| current.checksum_sha256.clone());
    Ok(diesel::update(files::table.find(current.id))
        .set((
            files::status.eq(status.as_str()),
            files::object_key.eq(facts.key.as_str()),
            files::size_bytes.eq(size),
            files::checksum_sha256.eq(checksum),
            files::content_type.eq(facts.content_type.as_str()),
            files::multipart_upload_id.eq(None::<String>),
            files::upload_expires_at.eq(None::<OffsetDateTime>),
            files::updated_at.eq(facts.at),
            files::retention_mode.eq(facts.retention.map(|r| r.mode.as_str())),
            files::retain_until.eq(facts.retention.map(|r| r.retain_until)),
        ))
        .returning(FileRow::as_returning())
        .get_result(&mut &*conn)
        .await?)
}

/// The version row of a file just completed: its owner's upload.
fn version_of(updated: &FileRow, facts: &ObjectFacts) -> FileVersionRow {
    FileVersionRow::current_of(updated, &updated.owner_subject, facts.at, None)
}
