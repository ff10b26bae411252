//! Moving a tenant (docs/tenants-placement.md): the queue of moves on the
//! platform path, and the copy of a tenant's rows between two placements.
//!
//! Rows travel as JSON: `row_to_json` on the source and
//! `json_populate_recordset(NULL::<table>, …)` on the target, so one
//! statement per page serves every table, whichever database or schema
//! either side is in (both have the same migrations). The copy runs as
//! the service role in the tenant's scope on both sides: row-level
//! security confines it to the tenant as it confines every request.

use async_trait::async_trait;
use coffer_domain::{
    MoveState, MoveStep, Tenant, TenantId, TenantMove, TenantPlacement, move_steps_from_str,
    move_steps_to_string,
};
use coffer_ports::{
    ChainCarried, Journal, MetadataError, MoveProgress, MoveQueue, NewMove, ObjectRef, TableCopy,
    TenantRowCopier,
};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::journal::JournalRows;
use crate::router::DatabaseRouter;
use crate::schema::{tenant_moves, tenants};
use crate::store::{PgMetadataStore, Scope, enter_tenant, platform, read_scoped, transaction};

/// A table a move copies: its name and primary key, in an order where
/// every row's foreign keys point at rows copied before it.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// `ORDER BY` of the primary key.
    pub(crate) order: &'static str,
    /// The rows after the last one of the previous page (`$2`, its JSON;
    /// `'{}'` for the first page).
    pub(crate) after: &'static str,
}

const TABLES: &[Table] = &[
    Table {
        name: "users",
        order: "id",
        after: "($2::json->>'id') IS NULL OR id > ($2::json->>'id')::uuid",
    },
    Table {
        name: "files",
        order: "id",
        after: "($2::json->>'id') IS NULL OR id > ($2::json->>'id')::uuid",
    },
    Table {
        name: "grants",
        order: "id",
        after: "($2::json->>'id') IS NULL OR id > ($2::json->>'id')::uuid",
    },
    Table {
        name: "file_versions",
        order: "file_id, version",
        after: "($2::json->>'file_id') IS NULL OR (file_id, version) > (($2::json->>'file_id')::uuid, ($2::json->>'version')::int)",
    },
    Table {
        name: "legal_holds",
        order: "id",
        after: "($2::json->>'id') IS NULL OR id > ($2::json->>'id')::uuid",
    },
    Table {
        name: "usage_counters",
        order: "tenant_id",
        after: "($2::json->>'tenant_id') IS NULL OR tenant_id > ($2::json->>'tenant_id')::uuid",
    },
];

/// Rows per page read from the source.
pub(crate) const PAGE: usize = 500;

#[derive(QueryableByName)]
struct JsonText {
    #[diesel(sql_type = Text)]
    json: String,
}

#[derive(QueryableByName)]
pub(crate) struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub(crate) rows: i64,
    #[diesel(sql_type = Text)]
    pub(crate) digest: String,
}

fn json_error(e: serde_json::Error) -> PgError {
    PgError::CorruptRow(format!("a copied row is not JSON: {e}"))
}

impl PgMetadataStore {
    /// One page of `table`'s rows of `tenant` after `after` (a row's JSON).
    pub(crate) async fn export_page(
        &self,
        tenant: TenantId,
        table: &Table,
        after: &serde_json::Value,
    ) -> Result<Vec<serde_json::Value>, PgError> {
        let sql = format!(
            "SELECT coalesce(json_agg(t ORDER BY {order}), '[]')::text AS json FROM \
             (SELECT * FROM {name} WHERE tenant_id = $1 AND ({after}) ORDER BY {order} LIMIT {PAGE}) t",
            order = table.order,
            name = table.name,
            after = table.after,
        );
        let after = after.to_string();
        let page: JsonText =
            read_scoped!(self, Scope::Tenant(tenant), |c| diesel::sql_query(&sql)
                .bind::<SqlUuid, _>(*tenant.as_uuid())
                .bind::<Text, _>(&after)
                .get_result(&mut &*c))?;
        match serde_json::from_str(&page.json).map_err(json_error)? {
            serde_json::Value::Array(rows) => Ok(rows),
            _ => Err(PgError::CorruptRow("a page of rows is not an array".into())),
        }
    }

    /// Each table's rows of `tenant` here, counted and digested: the bucket
    /// (a move may change it) and a user's last sight (a read during the
    /// move refreshes it) left out, timestamps in UTC whatever the
    /// server's zone.
    async fn count_tables(&self, tenant: TenantId) -> Result<Vec<TableCopy>, PgError> {
        let mut counts = Vec::new();
        for table in TABLES {
            let sql = format!(
                "SELECT count(*)::bigint AS rows, \
                 coalesce(md5(string_agg((to_jsonb(t) - 'bucket' - 'last_seen_at')::text, '|' ORDER BY {order})), '') AS digest \
                 FROM {name} t WHERE tenant_id = $1",
                order = table.order,
                name = table.name,
            );
            let counted: Counted = transaction!(self, |conn| {
                let (_, _, counted) = futures::future::try_join3(
                    enter_tenant(conn, tenant),
                    (&*conn).batch_execute("SET LOCAL TimeZone = 'UTC'"),
                    diesel::sql_query(&sql)
                        .bind::<SqlUuid, _>(*tenant.as_uuid())
                        .get_result::<Counted>(&mut &*conn),
                )
                .await?;
                Ok(counted)
            })?;
            counts.push(TableCopy {
                table: table.name,
                rows: u64::try_from(counted.rows).map_err(|_| PgError::OutOfRange("rows"))?,
                digest: counted.digest,
            });
        }
        Ok(counts)
    }

    /// Remove what a move copies of `tenant` here: its files (their
    /// terms, grants, versions and holds go with them), grants, users and
    /// counters, which start again at zero.
    async fn clear_tenant_rows(conn: &AsyncPgConnection, tenant: TenantId) -> Result<(), PgError> {
        for sql in [
            "DELETE FROM files WHERE tenant_id = $1",
            "DELETE FROM grants WHERE tenant_id = $1",
            "DELETE FROM users WHERE tenant_id = $1",
            "DELETE FROM usage_counters WHERE tenant_id = $1",
        ] {
            diesel::sql_query(sql)
                .bind::<SqlUuid, _>(*tenant.as_uuid())
                .execute(&mut &*conn)
                .await?;
        }
        Ok(())
    }
}

/// `rows` as the target stores them: naming `bucket` when the bucket
/// changes; for files, without the link to the file they are a version of
/// (set once every file is in, since it may point at a later page). The
/// links held back are pushed to `links`.
fn rewritten(
    table: &Table,
    rows: &mut [serde_json::Value],
    bucket: Option<&str>,
    links: &mut Vec<serde_json::Value>,
) {
    for row in rows.iter_mut() {
        let Some(fields) = row.as_object_mut() else {
            continue;
        };
        if let (Some(bucket), Some(old)) = (bucket, fields.get_mut("bucket")) {
            *old = serde_json::Value::String(bucket.to_owned());
        }
        if table.name == "files"
            && let Some(of) = fields.get("version_of").filter(|v| !v.is_null()).cloned()
        {
            links.push(serde_json::json!({ "id": fields.get("id"), "version_of": of }));
            fields.insert("version_of".into(), serde_json::Value::Null);
        }
    }
}

impl DatabaseRouter {
    /// The store that holds `tenant`'s rows when placed at `at`.
    pub(crate) fn store_at(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<PgMetadataStore, MetadataError> {
        self.store_of(&at.apply_to(tenant))
    }
}

#[async_trait]
impl TenantRowCopier for DatabaseRouter {
    async fn copy_rows(
        &self,
        tenant: &Tenant,
        from: &TenantPlacement,
        to: &TenantPlacement,
        bucket: Option<String>,
    ) -> Result<Vec<TableCopy>, MetadataError> {
        let (source, target) = (self.store_at(tenant, from)?, self.store_at(tenant, to)?);
        let id = tenant.id;
        let bucket = bucket.as_deref();
        // One transaction on the target: a copy interrupted anywhere leaves
        // nothing there, and the next attempt starts from an empty tenant.
        transaction!(target, |conn| {
            enter_tenant(conn, id).await?;
            PgMetadataStore::clear_tenant_rows(conn, id).await?;
            let mut links = Vec::new();
            for table in TABLES {
                let insert = format!(
                    "INSERT INTO {name} SELECT * FROM json_populate_recordset(NULL::{name}, $1::json)",
                    name = table.name
                );
                let mut after = serde_json::json!({});
                loop {
                    let mut rows = source.export_page(id, table, &after).await?;
                    let Some(last) = rows.last().cloned() else {
                        break;
                    };
                    rewritten(table, &mut rows, bucket, &mut links);
                    let full = rows.len() == PAGE;
                    diesel::sql_query(&insert)
                        .bind::<Text, _>(serde_json::Value::Array(rows).to_string())
                        .execute(&mut &*conn)
                        .await?;
                    if !full {
                        break;
                    }
                    after = last;
                }
            }
            for chunk in links.chunks(PAGE) {
                diesel::sql_query(
                    "UPDATE files SET version_of = l.version_of \
                     FROM json_to_recordset($1::json) AS l(id uuid, version_of uuid) \
                     WHERE files.id = l.id AND files.tenant_id = $2",
                )
                .bind::<Text, _>(serde_json::Value::Array(chunk.to_vec()).to_string())
                .bind::<SqlUuid, _>(*id.as_uuid())
                .execute(&mut &*conn)
                .await?;
            }
            Ok(())
        })?;
        Ok(target.count_tables(id).await?)
    }

    async fn count_rows(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<Vec<TableCopy>, MetadataError> {
        Ok(self.store_at(tenant, at)?.count_tables(tenant.id).await?)
    }

    async fn object_refs(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<Vec<ObjectRef>, MetadataError> {
        #[derive(QueryableByName)]
        struct Named {
            #[diesel(sql_type = Text)]
            bucket: String,
            #[diesel(sql_type = Text)]
            object_key: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            size_bytes: i64,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
            checksum_sha256: Option<Vec<u8>>,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            required: bool,
        }
        let store = self.store_at(tenant, at)?;
        let id = tenant.id;
        // A file's current bytes, and each older version's (a version row
        // of the current bytes names the same object).
        let rows: Vec<Named> = read_scoped!(&store, Scope::Tenant(id), |c| diesel::sql_query(
            "SELECT bucket, object_key, size_bytes, checksum_sha256, \
                    status = 'available' AND erase_started_at IS NULL AS required \
               FROM files WHERE tenant_id = $1 \
             UNION \
             SELECT bucket, object_key, size_bytes, checksum_sha256, true \
               FROM file_versions WHERE tenant_id = $1 \
             ORDER BY 2"
        )
        .bind::<SqlUuid, _>(*id.as_uuid())
        .load(&mut &*c))
        .map_err(MetadataError::from)?;
        rows.into_iter()
            .map(|r| {
                Ok(ObjectRef {
                    bucket: r.bucket,
                    key: r.object_key,
                    size: u64::try_from(r.size_bytes).map_err(|_| PgError::OutOfRange("size"))?,
                    checksum_sha256: r.checksum_sha256,
                    required: r.required,
                })
            })
            .collect::<Result<_, PgError>>()
            .map_err(Into::into)
    }

    async fn remove_rows(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<(), MetadataError> {
        let store = self.store_at(tenant, at)?;
        let id = tenant.id;
        transaction!(store, |conn| {
            enter_tenant(conn, id).await?;
            PgMetadataStore::clear_tenant_rows(conn, id).await?;
            // The registry keeps zeroed counters for a tenant kept apart,
            // as one onboarded apart has.
            diesel::sql_query("INSERT INTO usage_counters (tenant_id) VALUES ($1)")
                .bind::<SqlUuid, _>(*id.as_uuid())
                .execute(&mut &*conn)
                .await?;
            Ok(())
        })?;
        Ok(())
    }

    async fn rebucket(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
        bucket: String,
    ) -> Result<u64, MetadataError> {
        let store = self.store_at(tenant, at)?;
        let id = tenant.id;
        let bucket = &bucket;
        let changed = transaction!(store, |conn| {
            enter_tenant(conn, id).await?;
            let mut changed = 0;
            for table in ["files", "file_versions"] {
                changed += diesel::sql_query(format!(
                    "UPDATE {table} SET bucket = $2 WHERE tenant_id = $1 AND bucket <> $2"
                ))
                .bind::<SqlUuid, _>(*id.as_uuid())
                .bind::<Text, _>(bucket)
                .execute(&mut &*conn)
                .await?;
            }
            Ok(changed)
        })?;
        Ok(u64::try_from(changed).unwrap_or_default())
    }

    async fn carry_chain(
        &self,
        tenant: &Tenant,
        from: &TenantPlacement,
        to: &TenantPlacement,
        seal: bool,
    ) -> Result<ChainCarried, MetadataError> {
        let (source, target) = (self.store_at(tenant, from)?, self.store_at(tenant, to)?);
        Ok(crate::chain_carry::carry(&source, &target, tenant.id, seal).await?)
    }

    async fn unseal_chain(
        &self,
        tenant: &Tenant,
        at: &TenantPlacement,
    ) -> Result<(), MetadataError> {
        Ok(self.store_at(tenant, at)?.unseal_chain(tenant.id).await?)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tenant_moves, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct MoveRow {
    tenant_id: Uuid,
    state: String,
    source_database: Option<String>,
    source_schema: Option<String>,
    source_bucket: Option<String>,
    target_database: Option<String>,
    target_schema: Option<String>,
    target_bucket: Option<String>,
    source_metadata_region: Option<String>,
    target_metadata_region: Option<String>,
    source_region: Option<String>,
    target_region: Option<String>,
    steps_done: String,
    current_step: Option<String>,
    attempts: i32,
    last_error: Option<String>,
    lease_until: Option<OffsetDateTime>,
    queued_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

fn region_of(raw: Option<String>) -> Result<Option<coffer_domain::Region>, PgError> {
    raw.map(coffer_domain::Region::new)
        .transpose()
        .map_err(|e| PgError::CorruptRow(e.to_string()))
}

impl TryFrom<MoveRow> for TenantMove {
    type Error = PgError;

    fn try_from(row: MoveRow) -> Result<Self, PgError> {
        let corrupt = |e: coffer_domain::ValidationError| PgError::CorruptRow(e.to_string());
        Ok(Self {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            source: TenantPlacement {
                dedicated_database: row.source_database,
                dedicated_schema: row.source_schema,
                dedicated_bucket: row.source_bucket,
                metadata_region: region_of(row.source_metadata_region)?,
                region: region_of(row.source_region)?,
            },
            target: TenantPlacement {
                dedicated_database: row.target_database,
                dedicated_schema: row.target_schema,
                dedicated_bucket: row.target_bucket,
                metadata_region: region_of(row.target_metadata_region)?,
                region: region_of(row.target_region)?,
            },
            state: row.state.parse::<MoveState>().map_err(corrupt)?,
            steps_done: move_steps_from_str(&row.steps_done).map_err(corrupt)?,
            current_step: row
                .current_step
                .as_deref()
                .map(str::parse::<MoveStep>)
                .transpose()
                .map_err(corrupt)?,
            attempts: u32::try_from(row.attempts)
                .map_err(|_| PgError::CorruptRow("negative attempts".into()))?,
            last_error: row.last_error,
            lease_until: row.lease_until,
            queued_at: row.queued_at,
            updated_at: row.updated_at,
        })
    }
}

#[async_trait]
impl MoveQueue for PgMetadataStore {
    async fn queue_move(
        &self,
        tenant: TenantId,
        new: NewMove,
        journal: Journal,
    ) -> Result<TenantMove, MetadataError> {
        use tenant_moves::dsl as m;
        let journal = &JournalRows::new(tenant, journal);
        let row = &MoveRow {
            tenant_id: *tenant.as_uuid(),
            state: MoveState::Queued.as_str().to_owned(),
            source_database: new.source.dedicated_database,
            source_schema: new.source.dedicated_schema,
            source_bucket: new.source.dedicated_bucket,
            target_database: new.target.dedicated_database,
            target_schema: new.target.dedicated_schema,
            target_bucket: new.target.dedicated_bucket,
            source_metadata_region: new.source.metadata_region.map(String::from),
            target_metadata_region: new.target.metadata_region.map(String::from),
            source_region: new.source.region.map(String::from),
            target_region: new.target.region.map(String::from),
            steps_done: String::new(),
            current_step: None,
            attempts: 0,
            last_error: None,
            lease_until: None,
            queued_at: new.queued_at,
            updated_at: new.queued_at,
        };
        let queued = transaction!(self, |conn| {
            let exists = platform(
                conn,
                tenants::table
                    .find(tenant.as_uuid())
                    .select(tenants::id)
                    .get_result::<Uuid>(&mut &*conn),
            )
            .await
            .optional()?;
            if exists.is_none() {
                return Err(PgError::NotFound("tenant"));
            }
            let current = m::tenant_moves
                .find(tenant.as_uuid())
                .select(m::state)
                .for_update()
                .get_result::<String>(&mut &*conn)
                .await
                .optional()?;
            if current.as_deref().is_some_and(|s| {
                s == MoveState::Queued.as_str() || s == MoveState::Running.as_str()
            }) {
                return Err(PgError::Conflict(
                    "the tenant is being moved already".into(),
                ));
            }
            let queued = diesel::insert_into(m::tenant_moves)
                .values(row)
                .on_conflict(m::tenant_id)
                .do_update()
                .set(row)
                .returning(MoveRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            enter_tenant(conn, tenant).await?;
            journal.insert(conn).await?;
            Ok(queued)
        })?;
        Ok(queued.try_into()?)
    }

    async fn get_move(&self, tenant: TenantId) -> Result<TenantMove, MetadataError> {
        let row = read_scoped!(self, Scope::Platform, |c| tenant_moves::table
            .find(tenant.as_uuid())
            .select(MoveRow::as_select())
            .get_result(&mut &*c));
        match row {
            Err(PgError::Diesel(diesel::result::Error::NotFound)) => {
                Err(PgError::NotFound("move").into())
            }
            other => Ok(other?.try_into()?),
        }
    }

    async fn claim_move(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<TenantMove>, MetadataError> {
        use tenant_moves::dsl as m;
        let row = transaction!(self, |conn| {
            let due = platform(
                conn,
                m::tenant_moves
                    .filter(
                        m::state.eq(MoveState::Queued.as_str()).or(m::state
                            .eq(MoveState::Running.as_str())
                            .and(m::lease_until.lt(now))),
                    )
                    .order(m::queued_at.asc())
                    .select(m::tenant_id)
                    .limit(1)
                    .for_update()
                    .skip_locked()
                    .get_result::<Uuid>(&mut &*conn),
            )
            .await
            .optional()?;
            let Some(id) = due else { return Ok(None) };
            let claimed = diesel::update(m::tenant_moves.find(id))
                .set((
                    m::state.eq(MoveState::Running.as_str()),
                    m::attempts.eq(m::attempts + 1),
                    m::lease_until.eq(Some(now + lease)),
                    m::updated_at.eq(now),
                ))
                .returning(MoveRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            Ok(Some(claimed))
        })?;
        Ok(row.map(TenantMove::try_from).transpose()?)
    }

    async fn record_move(
        &self,
        tenant: TenantId,
        progress: MoveProgress,
        journal: Option<Journal>,
    ) -> Result<TenantMove, MetadataError> {
        use tenant_moves::dsl as m;
        let journal = &journal.map(|j| JournalRows::new(tenant, j));
        let progress = &progress;
        // A move that stopped holds no worker's lease.
        let lease_until = progress
            .lease_until
            .filter(|_| progress.state == MoveState::Running);
        let row = transaction!(self, |conn| {
            let state = platform(
                conn,
                m::tenant_moves
                    .find(tenant.as_uuid())
                    .select(m::state)
                    .for_update()
                    .get_result::<String>(&mut &*conn),
            )
            .await
            .optional()?
            .ok_or(PgError::NotFound("move"))?;
            if state != MoveState::Running.as_str() {
                return Err(PgError::InvalidState(format!(
                    "the move is {state}, not running"
                )));
            }
            let row = diesel::update(m::tenant_moves.find(tenant.as_uuid()))
                .set((
                    m::state.eq(progress.state.as_str()),
                    m::lease_until.eq(lease_until),
                    m::steps_done.eq(move_steps_to_string(&progress.steps_done)),
                    m::current_step.eq(progress.current_step.map(|s| s.as_str())),
                    m::last_error.eq(progress.last_error.as_deref()),
                    m::updated_at.eq(progress.at),
                ))
                .returning(MoveRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            let t = tenants::table.find(tenant.as_uuid());
            if let Some(frozen) = progress.writes_frozen_at {
                diesel::update(t)
                    .set((
                        tenants::writes_frozen_at.eq(frozen),
                        tenants::updated_at.eq(progress.at),
                    ))
                    .execute(&mut &*conn)
                    .await?;
            }
            if let Some(placement) = &progress.placement {
                diesel::update(t)
                    .set((
                        tenants::dedicated_database.eq(placement.dedicated_database.as_deref()),
                        tenants::dedicated_schema.eq(placement.dedicated_schema.as_deref()),
                        tenants::dedicated_bucket.eq(placement.dedicated_bucket.as_deref()),
                        tenants::metadata_region
                            .eq(placement.metadata_region.as_ref().map(|r| r.as_str())),
                        tenants::updated_at.eq(progress.at),
                    ))
                    .execute(&mut &*conn)
                    .await?;
                if let Some(region) = &placement.region {
                    diesel::update(t)
                        .set(tenants::region.eq(region.as_str()))
                        .execute(&mut &*conn)
                        .await?;
                }
            }
            enter_tenant(conn, tenant).await?;
            let notify = crate::changes::notify(conn, tenant);
            match journal {
                Some(journal) => {
                    futures::future::try_join(journal.insert(conn), notify).await?;
                }
                None => {
                    notify.await?;
                }
            }
            Ok(row)
        })?;
        Ok(row.try_into()?)
    }
}
