//! The JSON the API speaks. Requests are turned into use-case inputs with
//! `into_domain`; responses are built from domain values. Field names are
//! `snake_case`, enum values lowercase (DESIGN.md §4).

use std::collections::BTreeMap;

use coffer_domain::{
    Access, Category, ContentType, ErrorCode, FileRecord, FileStatus, Filename, Grant,
    LimitOverrides, LogicalPath, Metadata, Plan, PlanLimits, Region, ScanVerdict, Sha256Digest,
    Tenant, TenantSlug, TenantStatus, Usage, Visibility,
};
use coffer_ports::PresignedRequest;
use coffer_service::{
    InitiateUpload, InitiatedUpload, NewFileFields, PartRequest, ReceivedParts, ServiceError,
    TenantView, UpdateFile, UploadTarget,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A file's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileDto {
    pub id: Uuid,
    pub filename: String,
    /// Folder, `/`-separated.
    pub path: String,
    pub category: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256, when known.
    pub checksum_sha256: Option<String>,
    #[schema(value_type = String, example = "private")]
    pub visibility: Visibility,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// `pending` (uploading), `scanning` (waiting for the malware scan),
    /// `available`, `quarantined` (refused by the scan; never readable),
    /// `deleted` (in the trash).
    #[schema(value_type = String, example = "available")]
    pub status: FileStatus,
    /// The malware scan's verdict, once scanned:
    /// `{"verdict": "clean"}`, `{"verdict": "infected", "signature": "…"}`
    /// or `{"verdict": "unscannable", "reason": "…"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub scan: Option<ScanVerdict>,
    /// The owner's subject.
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<OffsetDateTime>,
    /// The records retention, when one is set (docs/records.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionDto>,
    /// Whether a legal hold keeps the file.
    pub legal_hold: bool,
    /// Which version of the file's bytes this is: 1 for the first upload,
    /// one more per version added (`GET /files/{id}/versions`).
    pub version: u32,
    /// On the pending upload of a new version: the file it becomes a
    /// version of when it completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_of: Option<Uuid>,
}

/// A file's records retention.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionDto {
    /// `governance` or `compliance`.
    #[schema(example = "compliance")]
    pub mode: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub retain_until: OffsetDateTime,
}

impl From<FileRecord> for FileDto {
    fn from(f: FileRecord) -> Self {
        Self {
            id: *f.id.as_uuid(),
            filename: f.filename.into(),
            path: f.path.into(),
            category: f.category.into(),
            content_type: f.content_type.into(),
            size: f.size_bytes,
            checksum_sha256: f.checksum_sha256.map(|c| c.to_hex()),
            visibility: f.visibility,
            metadata: f.metadata.into(),
            status: f.status,
            scan: f.scan_verdict,
            owner: f.owner.into(),
            created_at: f.created_at,
            updated_at: f.updated_at,
            deleted_at: f.deleted_at,
            retention: f.retention.map(|r| RetentionDto {
                mode: r.mode.as_str().to_owned(),
                retain_until: r.retain_until,
            }),
            legal_hold: f.legal_hold,
            version: f.version,
            version_of: f.version_of.map(|v| *v.as_uuid()),
        }
    }
}

/// A request to make directly to the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresignedDto {
    pub method: String,
    pub url: String,
    /// Send exactly these headers.
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

impl From<PresignedRequest> for PresignedDto {
    fn from(r: PresignedRequest) -> Self {
        Self {
            method: r.method,
            url: r.url,
            headers: r.headers,
            expires_at: r.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MultipartDto {
    /// Every part but the last has exactly this size.
    pub part_size: u64,
    pub part_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// An initiated upload: PUT the bytes per `upload` (or presign parts per
/// `multipart`), then `POST /files/{id}/complete`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitiatedDto {
    pub file: FileDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<PresignedDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartDto>,
}

impl From<InitiatedUpload> for InitiatedDto {
    fn from(up: InitiatedUpload) -> Self {
        let (upload, multipart) = match up.upload {
            UploadTarget::Single(r) => (Some(r.into()), None),
            UploadTarget::Multipart(m) => (
                None,
                Some(MultipartDto {
                    part_size: m.part_size,
                    part_count: m.part_count,
                    expires_at: m.expires_at,
                }),
            ),
        };
        Self {
            file: up.file.into(),
            upload,
            multipart,
        }
    }
}

/// `POST /files` with JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiateBody {
    #[schema(value_type = String, example = "contract.pdf")]
    pub filename: Filename,
    /// Exact size in bytes.
    pub size: u64,
    /// Guessed from the filename when absent.
    #[schema(value_type = Option<String>, example = "application/pdf")]
    pub content_type: Option<ContentType>,
    #[schema(value_type = Option<String>, example = "documents")]
    pub category: Option<Category>,
    #[schema(value_type = Option<String>, example = "/contracts/2026")]
    pub path: Option<LogicalPath>,
    #[schema(value_type = Option<String>, example = "private")]
    pub visibility: Option<Visibility>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Metadata>,
    /// Hex or base64; the store then refuses other bytes.
    #[schema(value_type = Option<String>)]
    pub checksum_sha256: Option<Sha256Digest>,
    /// Upload in presigned parts (large files).
    #[serde(default)]
    pub multipart: bool,
}

impl InitiateBody {
    pub fn into_domain(self) -> InitiateUpload {
        InitiateUpload {
            file: NewFileFields {
                filename: self.filename,
                content_type: self.content_type,
                category: self.category,
                path: self.path,
                visibility: self.visibility,
                metadata: self.metadata,
                checksum_sha256: self.checksum_sha256,
            },
            size: self.size,
            multipart: self.multipart,
        }
    }
}

/// `PATCH /files/{id}`: rename, move, visibility, metadata merge patch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[schema(value_type = Option<String>)]
    pub filename: Option<Filename>,
    #[schema(value_type = Option<String>)]
    pub path: Option<LogicalPath>,
    #[schema(value_type = Option<String>)]
    pub visibility: Option<Visibility>,
    /// RFC 7396 merge patch: `null` removes a key.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl UpdateBody {
    pub fn into_domain(self) -> UpdateFile {
        UpdateFile {
            filename: self.filename,
            path: self.path,
            visibility: self.visibility,
            metadata: self.metadata,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartsBody {
    /// 1-based part numbers, at most 1000 at a time.
    pub part_numbers: Vec<u16>,
    /// SHA-256 of some of those parts (hex or base64), by part number: the
    /// store then refuses any other bytes for that part.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub checksums_sha256: BTreeMap<u16, Sha256Digest>,
}

impl PartsBody {
    /// The parts to presign, each with its checksum.
    ///
    /// # Errors
    /// A checksum for a part that is not asked for.
    pub fn into_requests(self) -> Result<Vec<PartRequest>, ServiceError> {
        if let Some(extra) = self
            .checksums_sha256
            .keys()
            .find(|n| !self.part_numbers.contains(n))
        {
            return Err(ServiceError::invalid(
                ErrorCode::InvalidParts,
                format!("checksums_sha256 names part {extra}, which part_numbers does not"),
            ));
        }
        Ok(self
            .part_numbers
            .iter()
            .map(|&part_number| PartRequest {
                part_number,
                checksum_sha256: self.checksums_sha256.get(&part_number).copied(),
            })
            .collect())
    }
}

/// A part the store holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivedPartDto {
    pub part_number: u16,
    pub size: u64,
    pub etag: String,
}

/// `GET /files/{id}/parts`: what a resuming client still has to send.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivedPartsDto {
    /// Every part but the last has exactly this size.
    pub part_size: u64,
    pub part_count: u64,
    /// The parts received so far, by number.
    pub parts: Vec<ReceivedPartDto>,
}

impl From<ReceivedParts> for ReceivedPartsDto {
    fn from(r: ReceivedParts) -> Self {
        Self {
            part_size: r.part_size,
            part_count: r.part_count,
            parts: r
                .parts
                .into_iter()
                .map(|p| ReceivedPartDto {
                    part_number: p.part_number,
                    size: p.size,
                    etag: p.etag,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartDto {
    pub part_number: u16,
    #[serde(flatten)]
    pub request: PresignedDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartsDto {
    pub parts: Vec<PartDto>,
}

/// `GET /files` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<String>)]
    pub category: Option<Category>,
    /// Files directly in this folder.
    #[param(value_type = Option<String>)]
    pub path: Option<LogicalPath>,
    /// Files in this folder or below.
    #[param(value_type = Option<String>)]
    pub prefix: Option<LogicalPath>,
    /// Filename contains (case-insensitive).
    pub q: Option<String>,
    /// JSON object the metadata must contain, e.g. `{"case":"A-1"}`.
    pub metadata: Option<String>,
    /// `available` (default), `pending`, `scanning`, `quarantined` or `deleted`
    /// (the trash).
    #[param(value_type = Option<String>)]
    pub status: Option<FileStatus>,
    /// Owner's subject.
    pub owner: Option<String>,
    pub cursor: Option<String>,
    /// 1–1000, default 100.
    pub limit: Option<u32>,
}

/// A page of results; pass `next_cursor` as `cursor` for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `false` answers `200 {url, expires_at}` instead of a `302`.
    pub redirect: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Erase now instead of moving to the trash (needs manage access).
    pub permanent: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadDto {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// A permission on a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantDto {
    pub id: Uuid,
    /// `user:<sub>` or `role:<name>`.
    pub subject: String,
    #[schema(value_type = String, example = "read")]
    pub access: Access,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<Grant> for GrantDto {
    fn from(g: Grant) -> Self {
        Self {
            id: *g.id.as_uuid(),
            subject: g.subject.to_string(),
            access: g.access,
            expires_at: g.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(value_type = String, example = "user:bob")]
    pub subject: coffer_domain::GrantSubject,
    #[schema(value_type = String, example = "read")]
    pub access: Access,
    #[serde(default, deserialize_with = "super::instant::option::deserialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantsDto {
    pub items: Vec<GrantDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDto {
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
    #[schema(value_type = String, example = "starter")]
    pub plan: Plan,
    #[schema(value_type = String, example = "active")]
    pub status: TenantStatus,
    pub region: String,
    /// Its own bucket, when it has one (storage placement).
    pub dedicated_bucket: Option<String>,
    /// Its own PostgreSQL database, when it has one (a database per tenant).
    pub dedicated_database: Option<String>,
    #[schema(value_type = Object)]
    pub limit_overrides: LimitOverrides,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub purge_after: Option<OffsetDateTime>,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        Self {
            id: *t.id.as_uuid(),
            slug: t.slug.into(),
            display_name: t.display_name,
            plan: t.plan,
            status: t.status,
            region: t.region.into(),
            dedicated_bucket: t.dedicated_bucket,
            dedicated_database: t.dedicated_database,
            limit_overrides: t.limit_overrides,
            created_at: t.created_at,
            suspended_at: t.suspended_at,
            cancelled_at: t.cancelled_at,
            purge_after: t.purge_after,
        }
    }
}

/// A tenant with its effective limits and usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantViewDto {
    #[serde(flatten)]
    pub tenant: TenantDto,
    #[schema(value_type = Object)]
    pub limits: PlanLimits,
    #[schema(value_type = Object)]
    pub usage: Usage,
    /// The onboarding job's progress (absent for tenants created before
    /// onboarding was a job).
    pub onboarding: Option<OnboardingDto>,
    /// The billing notice (an unpaid invoice: `payment_failed_at`,
    /// `invoice`, `amount_due`, `currency`, …), for administrators; `null`
    /// when there is none.
    #[schema(value_type = Option<Object>)]
    pub billing: Option<serde_json::Value>,
}

/// Where a tenant's onboarding stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnboardingDto {
    /// `queued`, `running`, `done` or `failed`.
    #[schema(value_type = String, example = "running")]
    pub state: coffer_domain::OnboardingState,
    /// The step running now, or the one that failed.
    #[schema(value_type = Option<String>, example = "placement")]
    pub current_step: Option<coffer_domain::OnboardingStep>,
    #[schema(value_type = Vec<String>)]
    pub steps_done: Vec<coffer_domain::OnboardingStep>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub admin_subject: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<coffer_domain::Onboarding> for OnboardingDto {
    fn from(o: coffer_domain::Onboarding) -> Self {
        Self {
            state: o.state,
            current_step: o.current_step,
            steps_done: o.steps_done,
            attempts: o.attempts,
            last_error: o.last_error,
            admin_subject: o.request.admin_subject.map(String::from),
            updated_at: o.updated_at,
        }
    }
}

impl From<TenantView> for TenantViewDto {
    fn from(v: TenantView) -> Self {
        Self {
            tenant: v.tenant.into(),
            limits: v.limits,
            usage: v.usage,
            onboarding: v.onboarding.map(OnboardingDto::from),
            billing: v.billing,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantBody {
    #[schema(value_type = String, example = "globex")]
    pub slug: TenantSlug,
    pub display_name: String,
    #[schema(value_type = String, example = "professional")]
    pub plan: Plan,
    #[schema(value_type = String, example = "eu-west")]
    pub region: Region,
    #[serde(default, deserialize_with = "object_or_null_as_default")]
    #[schema(value_type = Option<Object>)]
    pub limit_overrides: LimitOverrides,
    #[schema(value_type = Option<String>)]
    pub dedicated_bucket: Option<coffer_domain::BucketName>,
    /// A PostgreSQL database of its own; omitted, the configured plans
    /// decide (`metadata.dedicated.plans`).
    pub dedicated_database: Option<bool>,
    /// The first tenant administrator (the identity provider's subject),
    /// created with the `admin` role by the onboarding job.
    #[schema(value_type = Option<String>)]
    pub admin_subject: Option<coffer_domain::Subject>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantBody {
    pub display_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub plan: Option<Plan>,
    /// `active`, `suspended` or `cancelled`.
    #[schema(value_type = Option<String>)]
    pub status: Option<TenantStatus>,
    #[serde(default, deserialize_with = "super::json_body::optional_object")]
    #[schema(value_type = Option<Object>)]
    pub limit_overrides: Option<LimitOverrides>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub file_id: Option<Uuid>,
    #[serde(default, deserialize_with = "super::instant::option::deserialize")]
    #[param(value_type = Option<String>)]
    pub since: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "super::instant::option::deserialize")]
    #[param(value_type = Option<String>)]
    pub until: Option<OffsetDateTime>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditDto {
    pub id: Uuid,
    pub actor: String,
    pub action: String,
    pub file_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The entry's place in its hash chain (1, 2, 3 … per tenant and
    /// chain); `null` only for a record the chain has not covered.
    pub seq: Option<u64>,
    /// SHA-256 (lowercase hex) of the previous entry's hash and this
    /// entry's canonical bytes (docs/audit.md).
    #[schema(value_type = Option<String>)]
    pub hash: Option<String>,
}

impl From<coffer_ports::AuditEntry> for AuditDto {
    fn from(e: coffer_ports::AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor.into(),
            action: e.action,
            file_id: e.file_id.map(|f| *f.as_uuid()),
            detail: e.detail,
            request_id: e.request_id,
            client_addr: e.client_addr,
            at: e.at,
            seq: e.seq,
            hash: e.hash.map(|h| h.to_hex()),
        }
    }
}

/// An optional field sent as `null` is the same as one left out.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A page's `limit`: 1 to [`coffer_ports::MAX_PAGE_SIZE`], 100 when absent
/// (`422 invalid_limit` otherwise, as the listings of the service answer).
pub fn page_limit(limit: Option<u32>) -> Result<u32, super::ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=coffer_ports::MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(super::ApiError::new(
            coffer_service::ErrorKind::Invalid,
            coffer_domain::ErrorCode::InvalidLimit,
            format!(
                "limit must be between 1 and {}",
                coffer_ports::MAX_PAGE_SIZE
            ),
        ))
    }
}

/// An object field sent as `null` is the same as one left out.
fn object_or_null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    Ok(super::json_body::optional_object(deserializer)?.unwrap_or_default())
}
