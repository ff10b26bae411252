//! Rows as stored (text UUIDs, integer-nanosecond timestamps, JSON text) and
//! their conversion to domain types. A row that no longer passes the
//! domain's validation is reported as corrupt rather than trusted.

use coffer_domain::{
    Access, BucketName, Category, ChainHash, ContentType, FileId, FileRecord, FileStatus,
    FileVersion, Filename, Grant, GrantId, GrantSubject, LimitOverrides, LogicalPath, Metadata,
    ObjectKey, Region, Retention, Sha256Digest, Subject, Tenant, TenantId, TenantSlug, Usage,
    UsageChange, UserId,
};
use coffer_ports::{AuditEntry, LegalHold};
use diesel::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SqliteError;
use crate::schema::{
    audit_events, file_versions, files, grants, legal_holds, outbox, tenants, usage_counters,
};

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> SqliteError {
    SqliteError::CorruptRow(format!("{what}: {err}"))
}

/// A timestamp as stored: nanoseconds since the epoch (UTC), which sort as
/// integers and keep the full precision of the domain's values.
pub(crate) fn ns(at: OffsetDateTime) -> Result<i64, SqliteError> {
    i64::try_from(at.unix_timestamp_nanos()).map_err(|_| SqliteError::OutOfRange("timestamp"))
}

pub(crate) fn ns_opt(at: Option<OffsetDateTime>) -> Result<Option<i64>, SqliteError> {
    at.map(ns).transpose()
}

pub(crate) fn time_of(ns: i64) -> Result<OffsetDateTime, SqliteError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).map_err(|e| corrupt("timestamp", e))
}

pub(crate) fn time_opt(ns: Option<i64>) -> Result<Option<OffsetDateTime>, SqliteError> {
    ns.map(time_of).transpose()
}

/// The stored form of an id: lowercase hyphenated, which sorts like the UUID's bytes.
pub(crate) fn id(uuid: &Uuid) -> String {
    uuid.hyphenated().to_string()
}

pub(crate) fn uuid_of(raw: &str, what: &str) -> Result<Uuid, SqliteError> {
    Uuid::parse_str(raw).map_err(|e| corrupt(what, e))
}

fn json_of(raw: &str, what: &str) -> Result<serde_json::Value, SqliteError> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

pub(crate) fn to_i64(value: u64, what: &'static str) -> Result<i64, SqliteError> {
    i64::try_from(value).map_err(|_| SqliteError::OutOfRange(what))
}

/// A file's status column, which the schema's CHECK keeps to the domain's
/// names.
pub(crate) fn status_of(raw: &str) -> Result<FileStatus, SqliteError> {
    raw.parse().map_err(|e| corrupt("file status", e))
}

fn to_u64(value: i64, what: &'static str) -> Result<u64, SqliteError> {
    u64::try_from(value).map_err(|_| SqliteError::CorruptRow(format!("{what} is negative")))
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct TenantRow {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub plan: String,
    pub status: String,
    pub region: String,
    pub dedicated_bucket: Option<String>,
    pub dedicated_database: Option<String>,
    pub dedicated_schema: Option<String>,
    pub metadata_region: Option<String>,
    pub limit_overrides: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub suspended_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub writes_frozen_at: Option<i64>,
}

impl TenantRow {
    /// The row of a tenant being created.
    pub(crate) fn new(new: &coffer_ports::NewTenant) -> Result<Self, SqliteError> {
        let created = ns(new.created_at)?;
        Ok(Self {
            id: id(new.id.as_uuid()),
            slug: new.slug.as_str().to_owned(),
            display_name: new.display_name.clone(),
            plan: new.plan.as_str().to_owned(),
            status: new.status.as_str().to_owned(),
            region: new.region.as_str().to_owned(),
            dedicated_bucket: new.dedicated_bucket.clone(),
            dedicated_database: new.dedicated_database.clone(),
            dedicated_schema: new.dedicated_schema.clone(),
            metadata_region: new.metadata_region.as_ref().map(|r| r.as_str().to_owned()),
            limit_overrides: serde_json::to_string(&new.limit_overrides)
                .map_err(|e| SqliteError::CorruptRow(format!("limit overrides: {e}")))?,
            created_at: created,
            updated_at: created,
            suspended_at: None,
            cancelled_at: None,
            purge_after: None,
            writes_frozen_at: None,
        })
    }
}

impl TryFrom<TenantRow> for Tenant {
    type Error = SqliteError;

    fn try_from(row: TenantRow) -> Result<Self, SqliteError> {
        Ok(Tenant {
            id: TenantId::from_uuid(uuid_of(&row.id, "tenant id")?),
            slug: TenantSlug::new(row.slug).map_err(|e| corrupt("tenant slug", e))?,
            display_name: row.display_name,
            plan: row.plan.parse().map_err(|e| corrupt("tenant plan", e))?,
            status: row
                .status
                .parse()
                .map_err(|e| corrupt("tenant status", e))?,
            region: Region::new(row.region).map_err(|e| corrupt("tenant region", e))?,
            dedicated_bucket: row.dedicated_bucket,
            dedicated_database: row.dedicated_database,
            dedicated_schema: row.dedicated_schema,
            metadata_region: row
                .metadata_region
                .map(Region::new)
                .transpose()
                .map_err(|e| corrupt("tenant metadata region", e))?,
            limit_overrides: serde_json::from_str::<LimitOverrides>(&row.limit_overrides)
                .map_err(|e| corrupt("tenant limit overrides", e))?,
            created_at: time_of(row.created_at)?,
            suspended_at: time_opt(row.suspended_at)?,
            cancelled_at: time_opt(row.cancelled_at)?,
            purge_after: time_opt(row.purge_after)?,
            writes_frozen_at: time_opt(row.writes_frozen_at)?,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = files, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct FileRow {
    pub id: String,
    pub tenant_id: String,
    pub owner_id: String,
    pub owner_subject: String,
    pub category: String,
    pub path: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub checksum_sha256: Option<Vec<u8>>,
    pub visibility: String,
    pub metadata: String,
    pub status: String,
    pub bucket: String,
    pub object_key: String,
    pub multipart_upload_id: Option<String>,
    pub upload_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub scan_verdict: Option<String>,
    pub retention_mode: Option<String>,
    pub retain_until: Option<i64>,
    pub legal_hold: bool,
    pub version: i32,
    pub version_of: Option<String>,
}

fn digest_from(bytes: Option<Vec<u8>>) -> Result<Option<Sha256Digest>, SqliteError> {
    bytes
        .map(|b| {
            <[u8; 32]>::try_from(b)
                .map(Sha256Digest::from_bytes)
                .map_err(|_| SqliteError::CorruptRow("checksum is not 32 bytes".into()))
        })
        .transpose()
}

impl TryFrom<FileRow> for FileRecord {
    type Error = SqliteError;

    fn try_from(row: FileRow) -> Result<Self, SqliteError> {
        Ok(FileRecord {
            id: FileId::from_uuid(uuid_of(&row.id, "file id")?),
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "file tenant")?),
            owner_id: UserId::from_uuid(uuid_of(&row.owner_id, "file owner id")?),
            owner: Subject::new(row.owner_subject).map_err(|e| corrupt("file owner", e))?,
            category: Category::new(row.category).map_err(|e| corrupt("file category", e))?,
            path: LogicalPath::new(row.path).map_err(|e| corrupt("file path", e))?,
            filename: Filename::new(row.filename).map_err(|e| corrupt("filename", e))?,
            content_type: ContentType::new(row.content_type)
                .map_err(|e| corrupt("content type", e))?,
            size_bytes: to_u64(row.size_bytes, "size_bytes")?,
            checksum_sha256: digest_from(row.checksum_sha256)?,
            visibility: row
                .visibility
                .parse()
                .map_err(|e| corrupt("visibility", e))?,
            metadata: Metadata::new(json_of(&row.metadata, "metadata")?)
                .map_err(|e| corrupt("metadata", e))?,
            status: row.status.parse().map_err(|e| corrupt("file status", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            multipart_upload_id: row.multipart_upload_id,
            upload_expires_at: time_opt(row.upload_expires_at)?,
            created_at: time_of(row.created_at)?,
            updated_at: time_of(row.updated_at)?,
            deleted_at: time_opt(row.deleted_at)?,
            scan_verdict: row
                .scan_verdict
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|e| corrupt("scan verdict", e))?,
            retention: retention_from(row.retention_mode.as_deref(), row.retain_until)?,
            legal_hold: row.legal_hold,
            version: u32::try_from(row.version).map_err(|e| corrupt("file version", e))?,
            version_of: row
                .version_of
                .map(|id| uuid_of(&id, "version of").map(FileId::from_uuid))
                .transpose()?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = file_versions, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct FileVersionRow {
    pub tenant_id: String,
    pub file_id: String,
    pub version: i32,
    pub bucket: String,
    pub object_key: String,
    pub size_bytes: i64,
    pub checksum_sha256: Option<Vec<u8>>,
    pub content_type: String,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    pub upload_id: Option<String>,
}

impl FileVersionRow {
    /// The version a file's row holds now, uploaded by `by` at `at`
    /// (through the upload row `upload`, when one was folded in).
    pub(crate) fn current_of(row: &FileRow, by: &str, at: i64, upload: Option<String>) -> Self {
        Self {
            tenant_id: row.tenant_id.clone(),
            file_id: row.id.clone(),
            version: row.version,
            bucket: row.bucket.clone(),
            object_key: row.object_key.clone(),
            size_bytes: row.size_bytes,
            checksum_sha256: row.checksum_sha256.clone(),
            content_type: row.content_type.clone(),
            uploaded_by: by.to_owned(),
            uploaded_at: at,
            upload_id: upload,
        }
    }
}

impl TryFrom<FileVersionRow> for FileVersion {
    type Error = SqliteError;

    fn try_from(row: FileVersionRow) -> Result<Self, SqliteError> {
        Ok(FileVersion {
            file_id: FileId::from_uuid(uuid_of(&row.file_id, "version file")?),
            version: u32::try_from(row.version).map_err(|e| corrupt("file version", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            size_bytes: to_u64(row.size_bytes, "size_bytes")?,
            checksum_sha256: digest_from(row.checksum_sha256)?,
            content_type: ContentType::new(row.content_type)
                .map_err(|e| corrupt("content type", e))?,
            uploaded_by: Subject::new(row.uploaded_by).map_err(|e| corrupt("uploader", e))?,
            uploaded_at: time_of(row.uploaded_at)?,
        })
    }
}

/// A retention as stored: both columns, or neither.
pub(crate) fn retention_from(
    mode: Option<&str>,
    until: Option<i64>,
) -> Result<Option<Retention>, SqliteError> {
    match (mode, until) {
        (Some(mode), Some(until)) => Ok(Some(Retention {
            mode: mode.parse().map_err(|e| corrupt("retention mode", e))?,
            retain_until: time_of(until)?,
        })),
        (None, None) => Ok(None),
        _ => Err(SqliteError::CorruptRow(
            "a retention needs both its mode and its date".into(),
        )),
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = legal_holds, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct LegalHoldRow {
    pub id: String,
    pub tenant_id: String,
    pub file_id: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: i64,
}

impl TryFrom<LegalHoldRow> for LegalHold {
    type Error = SqliteError;

    fn try_from(row: LegalHoldRow) -> Result<Self, SqliteError> {
        Ok(LegalHold {
            id: uuid_of(&row.id, "hold id")?,
            file_id: FileId::from_uuid(uuid_of(&row.file_id, "hold file")?),
            reason: row.reason,
            placed_by: Subject::new(row.placed_by).map_err(|e| corrupt("hold author", e))?,
            placed_at: time_of(row.placed_at)?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct GrantRow {
    pub id: String,
    pub tenant_id: String,
    pub file_id: String,
    pub subject: String,
    pub access: String,
    pub expires_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

impl TryFrom<GrantRow> for Grant {
    type Error = SqliteError;

    fn try_from(row: GrantRow) -> Result<Self, SqliteError> {
        Ok(Grant {
            id: GrantId::from_uuid(uuid_of(&row.id, "grant id")?),
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "grant tenant")?),
            file_id: FileId::from_uuid(uuid_of(&row.file_id, "grant file")?),
            subject: row
                .subject
                .parse::<GrantSubject>()
                .map_err(|e| corrupt("grant subject", e))?,
            access: row
                .access
                .parse::<Access>()
                .map_err(|e| corrupt("access", e))?,
            expires_at: time_opt(row.expires_at)?,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("grant author", e))?,
            created_at: time_of(row.created_at)?,
        })
    }
}

pub(crate) fn grants_from(rows: Vec<GrantRow>) -> Result<Vec<Grant>, SqliteError> {
    rows.into_iter().map(Grant::try_from).collect()
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = usage_counters, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct UsageRow {
    pub used_bytes: i64,
    pub file_count: i64,
    pub reserved_bytes: i64,
    pub reserved_files: i64,
}

impl TryFrom<UsageRow> for Usage {
    type Error = SqliteError;

    fn try_from(row: UsageRow) -> Result<Self, SqliteError> {
        Usage::from_total(UsageChange {
            used_bytes: row.used_bytes,
            file_count: row.file_count,
            reserved_bytes: row.reserved_bytes,
            reserved_files: row.reserved_files,
        })
        .map_err(|e| SqliteError::CorruptRow(e.to_string()))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub actor: String,
    pub action: String,
    pub file_id: Option<String>,
    pub detail: String,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: i64,
    pub seq: Option<i64>,
    pub hash: Option<Vec<u8>>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = SqliteError;

    fn try_from(row: AuditRow) -> Result<Self, SqliteError> {
        Ok(AuditEntry {
            id: uuid_of(&row.id, "audit id")?,
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "audit tenant")?),
            actor: Subject::new(row.actor).map_err(|e| corrupt("audit actor", e))?,
            action: row.action,
            file_id: row
                .file_id
                .map(|f| uuid_of(&f, "audit file").map(FileId::from_uuid))
                .transpose()?,
            detail: json_of(&row.detail, "audit detail")?,
            request_id: row.request_id,
            client_addr: row.client_addr,
            at: time_of(row.at)?,
            seq: row
                .seq
                .map(|s| u64::try_from(s).map_err(|e| corrupt("audit seq", e)))
                .transpose()?,
            hash: row
                .hash
                .map(|h| {
                    ChainHash::from_slice(&h).ok_or_else(|| corrupt("audit hash", "not 32 bytes"))
                })
                .transpose()?,
        })
    }
}

/// A new outbox row; the delivery columns start at their defaults.
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct OutboxRow {
    pub id: String,
    pub tenant_id: String,
    pub topic: String,
    pub payload: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct EventRow {
    pub id: String,
    pub tenant_id: String,
    pub topic: String,
    pub payload: String,
    pub created_at: i64,
    pub attempts: i32,
}

impl TryFrom<EventRow> for coffer_ports::Event {
    type Error = SqliteError;

    fn try_from(row: EventRow) -> Result<Self, SqliteError> {
        Ok(coffer_ports::Event {
            id: uuid_of(&row.id, "event id")?,
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "event tenant")?),
            kind: row.topic,
            data: json_of(&row.payload, "event payload")?,
            created_at: time_of(row.created_at)?,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("event attempts", e))?,
        })
    }
}
