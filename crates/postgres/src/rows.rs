//! Rows as stored, and their conversion to domain types. A row that no
//! longer passes the domain's validation is reported as corrupt rather than
//! trusted.

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

use crate::error::PgError;
use crate::schema::{
    audit_events, file_versions, files, grants, legal_holds, outbox, tenants, usage_counters,
};

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> PgError {
    PgError::CorruptRow(format!("{what}: {err}"))
}

pub(crate) fn to_i64(value: u64, what: &'static str) -> Result<i64, PgError> {
    i64::try_from(value).map_err(|_| PgError::OutOfRange(what))
}

/// A file's status column, which the schema's CHECK keeps to the domain's
/// names.
pub(crate) fn status_of(raw: &str) -> Result<FileStatus, PgError> {
    raw.parse().map_err(|e| corrupt("file status", e))
}

fn to_u64(value: i64, what: &'static str) -> Result<u64, PgError> {
    u64::try_from(value).map_err(|_| PgError::CorruptRow(format!("{what} is negative")))
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub plan: String,
    pub status: String,
    pub region: String,
    pub dedicated_bucket: Option<String>,
    pub dedicated_database: Option<String>,
    pub dedicated_schema: Option<String>,
    pub metadata_region: Option<String>,
    pub limit_overrides: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub suspended_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub purge_after: Option<OffsetDateTime>,
    pub writes_frozen_at: Option<OffsetDateTime>,
}

fn overrides_json(o: &LimitOverrides) -> Result<serde_json::Value, PgError> {
    serde_json::to_value(o).map_err(|e| PgError::CorruptRow(format!("limit overrides: {e}")))
}

impl TenantRow {
    /// The row of a tenant being created.
    pub(crate) fn new(new: &coffer_ports::NewTenant) -> Result<Self, PgError> {
        Ok(Self {
            id: *new.id.as_uuid(),
            slug: new.slug.as_str().to_owned(),
            display_name: new.display_name.clone(),
            plan: new.plan.as_str().to_owned(),
            status: new.status.as_str().to_owned(),
            region: new.region.as_str().to_owned(),
            dedicated_bucket: new.dedicated_bucket.clone(),
            dedicated_database: new.dedicated_database.clone(),
            dedicated_schema: new.dedicated_schema.clone(),
            metadata_region: new.metadata_region.as_ref().map(|r| r.as_str().to_owned()),
            limit_overrides: overrides_json(&new.limit_overrides)?,
            created_at: new.created_at,
            suspended_at: None,
            cancelled_at: None,
            purge_after: None,
            writes_frozen_at: None,
        })
    }

    /// The row of `tenant` as it is (for the copy in its dedicated database).
    pub(crate) fn of(tenant: &Tenant) -> Result<Self, PgError> {
        Ok(Self {
            id: *tenant.id.as_uuid(),
            slug: tenant.slug.as_str().to_owned(),
            display_name: tenant.display_name.clone(),
            plan: tenant.plan.as_str().to_owned(),
            status: tenant.status.as_str().to_owned(),
            region: tenant.region.as_str().to_owned(),
            dedicated_bucket: tenant.dedicated_bucket.clone(),
            dedicated_database: tenant.dedicated_database.clone(),
            dedicated_schema: tenant.dedicated_schema.clone(),
            metadata_region: tenant
                .metadata_region
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            limit_overrides: overrides_json(&tenant.limit_overrides)?,
            created_at: tenant.created_at,
            suspended_at: tenant.suspended_at,
            cancelled_at: tenant.cancelled_at,
            purge_after: tenant.purge_after,
            writes_frozen_at: tenant.writes_frozen_at,
        })
    }
}

impl TryFrom<TenantRow> for Tenant {
    type Error = PgError;

    fn try_from(row: TenantRow) -> Result<Self, PgError> {
        Ok(Tenant {
            id: TenantId::from_uuid(row.id),
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
            limit_overrides: serde_json::from_value::<LimitOverrides>(row.limit_overrides)
                .map_err(|e| corrupt("tenant limit overrides", e))?,
            created_at: row.created_at,
            suspended_at: row.suspended_at,
            cancelled_at: row.cancelled_at,
            purge_after: row.purge_after,
            writes_frozen_at: row.writes_frozen_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub(crate) struct FileRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub owner_id: Uuid,
    pub owner_subject: String,
    pub category: String,
    pub path: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub checksum_sha256: Option<Vec<u8>>,
    pub visibility: String,
    pub metadata: serde_json::Value,
    pub status: String,
    pub bucket: String,
    pub object_key: String,
    pub multipart_upload_id: Option<String>,
    pub upload_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    pub scan_verdict: Option<serde_json::Value>,
    pub retention_mode: Option<String>,
    pub retain_until: Option<OffsetDateTime>,
    pub legal_hold: bool,
    pub version: i32,
    pub version_of: Option<Uuid>,
}

pub(crate) fn digest_from(bytes: Option<Vec<u8>>) -> Result<Option<Sha256Digest>, PgError> {
    bytes
        .map(|b| {
            <[u8; 32]>::try_from(b)
                .map(Sha256Digest::from_bytes)
                .map_err(|_| PgError::CorruptRow("checksum is not 32 bytes".into()))
        })
        .transpose()
}

impl TryFrom<FileRow> for FileRecord {
    type Error = PgError;

    fn try_from(row: FileRow) -> Result<Self, PgError> {
        Ok(FileRecord {
            id: FileId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            owner_id: UserId::from_uuid(row.owner_id),
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
            metadata: Metadata::new(row.metadata).map_err(|e| corrupt("metadata", e))?,
            status: row.status.parse().map_err(|e| corrupt("file status", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            multipart_upload_id: row.multipart_upload_id,
            upload_expires_at: row.upload_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
            scan_verdict: row
                .scan_verdict
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| corrupt("scan verdict", e))?,
            retention: retention_from(row.retention_mode.as_deref(), row.retain_until)?,
            legal_hold: row.legal_hold,
            version: u32::try_from(row.version).map_err(|e| corrupt("file version", e))?,
            version_of: row.version_of.map(FileId::from_uuid),
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = file_versions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct FileVersionRow {
    pub tenant_id: Uuid,
    pub file_id: Uuid,
    pub version: i32,
    pub bucket: String,
    pub object_key: String,
    pub size_bytes: i64,
    pub checksum_sha256: Option<Vec<u8>>,
    pub content_type: String,
    pub uploaded_by: String,
    pub uploaded_at: OffsetDateTime,
    pub upload_id: Option<Uuid>,
}

impl FileVersionRow {
    /// The version a file's row holds now, uploaded by `by` at `at`
    /// (through the upload row `upload`, when one was folded in).
    pub(crate) fn current_of(
        row: &FileRow,
        by: &str,
        at: OffsetDateTime,
        upload: Option<Uuid>,
    ) -> Self {
        Self {
            tenant_id: row.tenant_id,
            file_id: row.id,
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
    type Error = PgError;

    fn try_from(row: FileVersionRow) -> Result<Self, PgError> {
        Ok(FileVersion {
            file_id: FileId::from_uuid(row.file_id),
            version: u32::try_from(row.version).map_err(|e| corrupt("file version", e))?,
            bucket: BucketName::new(row.bucket).map_err(|e| corrupt("bucket", e))?,
            key: ObjectKey::parse(row.object_key).map_err(|e| corrupt("object key", e))?,
            size_bytes: to_u64(row.size_bytes, "size_bytes")?,
            checksum_sha256: digest_from(row.checksum_sha256)?,
            content_type: ContentType::new(row.content_type)
                .map_err(|e| corrupt("content type", e))?,
            uploaded_by: Subject::new(row.uploaded_by).map_err(|e| corrupt("uploader", e))?,
            uploaded_at: row.uploaded_at,
        })
    }
}

/// A retention as stored: both columns, or neither.
pub(crate) fn retention_from(
    mode: Option<&str>,
    until: Option<OffsetDateTime>,
) -> Result<Option<Retention>, PgError> {
    match (mode, until) {
        (Some(mode), Some(retain_until)) => Ok(Some(Retention {
            mode: mode.parse().map_err(|e| corrupt("retention mode", e))?,
            retain_until,
        })),
        (None, None) => Ok(None),
        _ => Err(PgError::CorruptRow(
            "a retention needs both its mode and its date".into(),
        )),
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = legal_holds, check_for_backend(diesel::pg::Pg))]
pub(crate) struct LegalHoldRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub file_id: Uuid,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: OffsetDateTime,
}

impl TryFrom<LegalHoldRow> for LegalHold {
    type Error = PgError;

    fn try_from(row: LegalHoldRow) -> Result<Self, PgError> {
        Ok(LegalHold {
            id: row.id,
            file_id: FileId::from_uuid(row.file_id),
            reason: row.reason,
            placed_by: Subject::new(row.placed_by).map_err(|e| corrupt("hold author", e))?,
            placed_at: row.placed_at,
        })
    }
}

#[derive(Debug, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = grants, check_for_backend(diesel::pg::Pg))]
pub(crate) struct GrantRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub file_id: Uuid,
    pub subject: String,
    pub access: String,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

impl TryFrom<GrantRow> for Grant {
    type Error = PgError;

    fn try_from(row: GrantRow) -> Result<Self, PgError> {
        Ok(Grant {
            id: GrantId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            file_id: FileId::from_uuid(row.file_id),
            subject: row
                .subject
                .parse::<GrantSubject>()
                .map_err(|e| corrupt("grant subject", e))?,
            access: row
                .access
                .parse::<Access>()
                .map_err(|e| corrupt("access", e))?,
            expires_at: row.expires_at,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("grant author", e))?,
            created_at: row.created_at,
        })
    }
}

pub(crate) fn grants_from(rows: Vec<GrantRow>) -> Result<Vec<Grant>, PgError> {
    rows.into_iter().map(Grant::try_from).collect()
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = usage_counters, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UsageRow {
    pub used_bytes: i64,
    pub file_count: i64,
    pub reserved_bytes: i64,
    pub reserved_files: i64,
}

impl TryFrom<UsageRow> for Usage {
    type Error = PgError;

    fn try_from(row: UsageRow) -> Result<Self, PgError> {
        Usage::from_total(UsageChange {
            used_bytes: row.used_bytes,
            file_count: row.file_count,
            reserved_bytes: row.reserved_bytes,
            reserved_files: row.reserved_files,
        })
        .map_err(|e| PgError::CorruptRow(e.to_string()))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AuditRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub actor: String,
    pub action: String,
    pub file_id: Option<Uuid>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: OffsetDateTime,
    pub seq: Option<i64>,
    pub hash: Option<Vec<u8>>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = PgError;

    fn try_from(row: AuditRow) -> Result<Self, PgError> {
        Ok(AuditEntry {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            actor: Subject::new(row.actor).map_err(|e| corrupt("audit actor", e))?,
            action: row.action,
            file_id: row.file_id.map(FileId::from_uuid),
            detail: row.detail,
            request_id: row.request_id,
            client_addr: row.client_addr,
            at: row.at,
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
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OutboxRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub topic: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub topic: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub attempts: i32,
}

impl TryFrom<EventRow> for coffer_ports::Event {
    type Error = PgError;

    fn try_from(row: EventRow) -> Result<Self, PgError> {
        Ok(coffer_ports::Event {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            kind: row.topic,
            data: row.payload,
            created_at: row.created_at,
            attempts: u32::try_from(row.attempts)
                .map_err(|e| PgError::CorruptRow(format!("outbox attempts: {e}")))?,
        })
    }
}
