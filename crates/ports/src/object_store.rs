use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_domain::{
    BucketName, Category, ContentType, FileId, ObjectKey, Retention, SessionPrefix, Sha256Digest,
    TenantId, TenantPrefix, UploadSessionId,
};
use futures::Stream;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{StoreError, StoreErrorKind};

/// A body moving through Coffer: chunks, never a whole file in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static>>;

/// Where one tenant's object lives: a bucket and a key under `t/{tenant}/`.
///
/// The fields are private and every constructor proves the prefix (DESIGN
/// §2), so a location that exists is one its tenant may touch. The store
/// methods take nothing else for an object, which is why the adapters check
/// nothing themselves: a key outside the tenant is refused here, before any
/// store is involved. A location cannot be written out field by field:
///
/// ```compile_fail
/// use coffer_domain::{BucketName, ObjectKey, TenantId};
/// use coffer_ports::ObjectLocation;
///
/// fn forge(tenant: TenantId, bucket: BucketName, key: ObjectKey) -> ObjectLocation {
///     ObjectLocation { tenant, bucket, key }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLocation {
    tenant: TenantId,
    bucket: BucketName,
    key: ObjectKey,
}

impl ObjectLocation {
    /// The location of `key` in `bucket`, for `tenant`: a key read back from
    /// the database or from a listing.
    ///
    /// # Errors
    /// [`StoreErrorKind::Refused`] when the key lies outside `t/{tenant}/`
    /// (trailing slash included).
    pub fn new(tenant: TenantId, bucket: BucketName, key: ObjectKey) -> Result<Self, StoreError> {
        key.ensure_within(tenant)
            .map_err(|e| StoreError::new(StoreErrorKind::Refused, e.to_string()))?;
        Ok(Self {
            tenant,
            bucket,
            key,
        })
    }

    /// The location of a new file's object. The key is generated under the
    /// tenant's prefix ([`ObjectKey::for_file`]), so there is nothing to refuse.
    pub fn for_file(
        tenant: TenantId,
        bucket: BucketName,
        category: &Category,
        file: FileId,
    ) -> Self {
        Self {
            tenant,
            bucket,
            key: ObjectKey::for_file(tenant, category, file),
        }
    }

    /// Where a client uploads `file`'s bytes ([`ObjectKey::staging`]).
    pub fn staging(tenant: TenantId, bucket: BucketName, file: FileId) -> Self {
        Self {
            tenant,
            bucket,
            key: ObjectKey::staging(tenant, file),
        }
    }

    /// A fresh location for a verified copy of `file`'s bytes
    /// ([`ObjectKey::verified`]): no other call ever names it.
    pub fn verified(
        tenant: TenantId,
        bucket: BucketName,
        category: &Category,
        file: FileId,
    ) -> Self {
        Self {
            tenant,
            bucket,
            key: ObjectKey::verified(tenant, category, file, Uuid::now_v7()),
        }
    }

    /// That `other` belongs to the same tenant, for calls that name two
    /// locations (a copy).
    ///
    /// # Errors
    /// [`StoreErrorKind::Refused`] when it does not.
    pub fn same_tenant(&self, other: &Self) -> Result<(), StoreError> {
        if self.tenant == other.tenant {
            Ok(())
        } else {
            Err(StoreError::new(
                StoreErrorKind::Refused,
                "a copy never crosses tenants",
            ))
        }
    }

    /// The tenant the key was checked against.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn bucket(&self) -> &BucketName {
        &self.bucket
    }

    /// A key under [`ObjectLocation::tenant`]'s prefix.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }
}

/// A part of one tenant's key space in a bucket: the whole tenant
/// (`t/{tenant}/`) or one of its upload sessions
/// (`t/{tenant}/_sessions/{session}/`). Like [`ObjectLocation`], it can
/// only be built under its tenant, so a listing or a credential scoped by
/// one never reaches another tenant's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPrefix {
    tenant: TenantId,
    bucket: BucketName,
    prefix: String,
}

impl ObjectPrefix {
    /// Everything of `tenant` in `bucket`.
    pub fn tenant(tenant: TenantId, bucket: BucketName) -> Self {
        Self {
            tenant,
            bucket,
            prefix: TenantPrefix::new(tenant).as_str().to_owned(),
        }
    }

    /// What one upload session of `tenant` holds in `bucket`.
    pub fn upload_session(tenant: TenantId, bucket: BucketName, session: UploadSessionId) -> Self {
        Self {
            tenant,
            bucket,
            prefix: SessionPrefix::new(tenant, session).as_str().to_owned(),
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    pub fn bucket(&self) -> &BucketName {
        &self.bucket
    }

    /// The key prefix, trailing slash included.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }
}

/// A presigned upload. The signature binds the content type, the exact
/// length and, when given, the SHA-256 checksum; the adapter adds server-side
/// encryption where it has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignPut {
    pub location: ObjectLocation,
    pub content_type: ContentType,
    pub content_length: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub now: OffsetDateTime,
    pub expires_in: Duration,
}

/// A presigned `PUT` of one part of a multipart upload. Like [`PresignPut`],
/// the signature binds the part's exact length and, when given, its SHA-256:
/// the store refuses any other body for that part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignPart {
    pub location: ObjectLocation,
    pub upload_id: String,
    /// 1–10 000.
    pub part_number: u16,
    pub content_length: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub now: OffsetDateTime,
    pub expires_in: Duration,
}

/// A presigned download that restores the file's name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignGet {
    pub location: ObjectLocation,
    /// `response-content-disposition`, e.g. from [`coffer_domain::content_disposition`].
    pub content_disposition: Option<String>,
    /// `response-content-type`.
    pub content_type: Option<ContentType>,
    pub now: OffsetDateTime,
    pub expires_in: Duration,
}

/// A request the client makes directly to the store: send exactly these
/// headers with this method to this URL before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: OffsetDateTime,
}

/// What the store knows of an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub checksum_sha256: Option<Sha256Digest>,
    pub last_modified: Option<OffsetDateTime>,
}

/// A byte range of an object, as HTTP `Range` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=start-end`, both inclusive.
    Bounded { start: u64, end: u64 },
    /// `bytes=start-`.
    From { start: u64 },
    /// `bytes=-len`: the last `len` bytes.
    Suffix { len: u64 },
}

impl ByteRange {
    /// Parse an HTTP `Range` header: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
    /// Anything else, several ranges included, is `None`: a server may then
    /// ignore the header and send the whole object (RFC 9110 §14.2).
    pub fn parse_header(raw: &str) -> Option<Self> {
        let spec = raw.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (start, end) = spec.split_once('-')?;
        match (start.trim(), end.trim()) {
            ("", len) => Some(Self::Suffix {
                len: len.parse().ok()?,
            }),
            (start, "") => Some(Self::From {
                start: start.parse().ok()?,
            }),
            (start, end) => Some(Self::Bounded {
                start: start.parse().ok()?,
                end: end.parse().ok()?,
            }),
        }
    }

    /// The inclusive `(start, end)` this range selects of an object of `size`
    /// bytes, or `None` when it selects nothing (HTTP 416).
    pub fn resolve(self, size: u64) -> Option<(u64, u64)> {
        if size == 0 {
            return None;
        }
        let last = size - 1;
        match self {
            ByteRange::Bounded { start, end } if start <= end && start <= last => {
                Some((start, end.min(last)))
            }
            ByteRange::From { start } if start <= last => Some((start, last)),
            ByteRange::Suffix { len } if len > 0 => Some((size.saturating_sub(len), last)),
            _ => None,
        }
    }
}

/// An object body being read.
pub struct GetObject {
    /// Size of the whole object.
    pub total_size: u64,
    /// The inclusive byte range the body holds, when a range was asked for.
    pub range: Option<(u64, u64)>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub body: ByteStream,
}

impl fmt::Debug for GetObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetObject")
            .field("total_size", &self.total_size)
            .field("range", &self.range)
            .field("content_type", &self.content_type)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: ObjectKey,
    pub size: u64,
    pub last_modified: Option<OffsetDateTime>,
}

/// One page of a listing; pass `next` back to continue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectList {
    pub objects: Vec<ListedObject>,
    pub next: Option<String>,
}

/// A part of a multipart upload the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u16,
    pub etag: String,
    pub size: u64,
}

/// How a bucket must be set up before Coffer uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub bucket: BucketName,
    /// Web origins allowed to PUT/GET through presigned URLs (CORS).
    pub cors_origins: Vec<String>,
    /// Abort multipart uploads left incomplete for this many days.
    pub abort_incomplete_multipart_days: u32,
    /// Move objects to cheaper storage classes as they age (e.g. a documents
    /// bucket to `STANDARD_IA` after 30 days), where the store supports it.
    pub transitions: Vec<StorageTransition>,
}

/// A lifecycle transition: objects older than `after_days` move to `storage_class`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageTransition {
    pub after_days: u32,
    /// The store's name for the class, e.g. `STANDARD_IA`, `GLACIER_IR`.
    pub storage_class: String,
}

/// What the store itself is asked to enforce on an object, beside Coffer's
/// own refusal (S3 Object Lock: retention and legal hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    /// The object may not be deleted or overwritten before its date.
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

/// Whether a store enforced an [`ObjectLock`] itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEnforcement {
    /// The store now refuses to delete the object while the lock binds.
    Enforced,
    /// The store (or its bucket) has no object lock; Coffer's own refusal
    /// is the only one.
    NotSupported,
}

/// Where file bytes live (S3, or the local disk in embedded mode).
///
/// A method about one object takes an [`ObjectLocation`], which cannot hold
/// a key outside its tenant's prefix, so no such key reaches a store; `list`
/// builds the prefix from the tenant and returns only keys under it. Bucket
/// management takes a [`BucketName`]: it is about no tenant. Every method may
/// fail with
/// [`StoreErrorKind::Unavailable`] when the store cannot be reached and
/// [`StoreErrorKind::Internal`] on an unexpected answer.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Presign a `PUT` of exactly `content_length` bytes of `content_type`
    /// (and checksum, when given). The store refuses any other body.
    ///
    /// # Errors
    /// `Refused` for a lifetime outside 1 s … 7 days.
    async fn presign_put(&self, request: PresignPut) -> Result<PresignedRequest, StoreError>;

    /// Presign a `GET` whose response carries the given disposition and type.
    ///
    /// # Errors
    /// `Refused` for a lifetime outside 1 s … 7 days.
    async fn presign_get(&self, request: PresignGet) -> Result<PresignedRequest, StoreError>;

    /// Size, ETag, checksum and type of an object.
    ///
    /// # Errors
    /// `NotFound` when there is no object at the location.
    async fn head(&self, location: &ObjectLocation) -> Result<ObjectMeta, StoreError>;

    /// Delete an object. Where the adapter enforces locks it removes the
    /// bytes for good (S3 Object Lock: every version of the key, not a
    /// delete marker over them). Deleting a missing object succeeds.
    ///
    /// # Errors
    /// `Refused` when the store keeps the object under a lock
    /// ([`ObjectStore::apply_lock`]); `Unavailable`, `Internal`.
    async fn delete(&self, location: &ObjectLocation) -> Result<(), StoreError>;

    /// Store `body` at `location`, streaming (multipart for large bodies),
    /// with bounded memory. A body that fails midway leaves no object.
    ///
    /// # Errors
    /// `Internal` when the body stream fails.
    async fn put_stream(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
        body: ByteStream,
    ) -> Result<ObjectMeta, StoreError>;

    /// Read an object, or a range of it, as a stream.
    ///
    /// # Errors
    /// `NotFound`; `Refused` when the range selects nothing.
    async fn get_stream(
        &self,
        location: &ObjectLocation,
        range: Option<ByteRange>,
    ) -> Result<GetObject, StoreError>;

    /// List the objects under `prefix` (a tenant's, or one of its upload
    /// sessions'), at most `limit` per page. Keys that do not parse as the
    /// prefix's tenant's are left out.
    ///
    /// # Errors
    /// `NotFound` for a missing bucket.
    async fn list(
        &self,
        prefix: &ObjectPrefix,
        continuation: Option<String>,
        limit: u32,
    ) -> Result<ObjectList, StoreError>;

    /// Start a multipart upload; returns its upload id.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn create_multipart(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
    ) -> Result<String, StoreError>;

    /// Presign the `PUT` of one part, bound to its exact length (and
    /// checksum, when given).
    ///
    /// # Errors
    /// `Refused` for a part number outside 1–10 000 or a lifetime outside 1 s … 7 days.
    async fn presign_part(&self, request: PresignPart) -> Result<PresignedRequest, StoreError>;

    /// The parts uploaded so far, in order, one per part number.
    ///
    /// # Errors
    /// `NotFound` for an unknown upload id (never started, completed or aborted).
    async fn list_parts(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError>;

    /// Assemble the parts into the object.
    ///
    /// # Errors
    /// `NotFound` for an unknown upload id; `Conflict` when parts are missing
    /// or do not match.
    async fn complete_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectMeta, StoreError>;

    /// Copy the object at `from` to `to` inside the store, without its bytes
    /// passing through Coffer; `to` is replaced if it exists. Both locations
    /// must belong to one tenant (each is checked by construction) and
    /// are refused otherwise ([`ObjectLocation::same_tenant`]). Objects of any
    /// size (above S3's 5 GiB single-copy limit the adapter copies in parts).
    ///
    /// # Errors
    /// `NotFound` when there is no object at `from`; `Refused` for locations
    /// of two tenants.
    async fn copy(
        &self,
        from: &ObjectLocation,
        to: &ObjectLocation,
    ) -> Result<ObjectMeta, StoreError>;

    /// Abandon a multipart upload and its parts. Aborting an unknown upload succeeds.
    ///
    /// # Errors
    /// `Refused`, `Unavailable`, `Internal`.
    async fn abort_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), StoreError>;

    /// Create the bucket if missing and apply its settings: private (public
    /// access blocked where supported), encrypted at rest, CORS, lifecycle.
    /// Idempotent.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn ensure_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError>;

    /// Delete the bucket if it holds no object (an onboarding's
    /// compensation for a dedicated bucket). A missing bucket is success
    /// (idempotent).
    ///
    /// # Errors
    /// `Conflict` when it still holds objects; `Unavailable`, `Internal`.
    async fn remove_bucket(&self, bucket: &BucketName) -> Result<(), StoreError>;

    /// Whether the bucket exists.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn bucket_exists(&self, bucket: &BucketName) -> Result<bool, StoreError>;

    /// Set the object's lock to `lock` (retention and legal hold), where
    /// the store can enforce one. `bypass_governance` lets a governance
    /// retention be shortened or removed.
    ///
    /// `lock` is the whole wanted state, not a change: no retention asks
    /// for none (an expired one asks for nothing), `legal_hold: false`
    /// releases a hold. The store judges what it holds: it refuses to
    /// shorten a compliance retention, or a governance one without
    /// `bypass_governance`. `NotSupported` when the store (or the
    /// object's bucket) has no object lock; an adapter that answers
    /// `Enforced` also makes [`ObjectStore::delete`] remove the object's
    /// bytes for good, or answer `Refused` while the lock binds.
    ///
    /// # Errors
    /// `NotFound` when there is no object; `Refused` when the store refuses
    /// to weaken a lock (some stores cannot remove a retention at all:
    /// SeaweedFS, docs/storage.md "Object Lock").
    async fn apply_lock(
        &self,
        location: &ObjectLocation,
        lock: &ObjectLock,
        bypass_governance: bool,
    ) -> Result<LockEnforcement, StoreError>;

    /// Whether the store answers, for `/readyz`.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn check_ready(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use coffer_domain::TenantPrefix;
    use uuid::Uuid;

    use super::*;

    fn bucket() -> BucketName {
        BucketName::new("files").unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn a_location_holds_only_its_tenants_keys() {
        // Tenants "…ab" and "…abc": only the trailing slash tells them apart.
        let ab = TenantId::from_uuid(Uuid::from_u128(0xab));
        let abc = TenantId::from_uuid(Uuid::from_u128(0xabc));
        let category = Category::default_category();
        let key = ObjectKey::for_file(abc, &category, FileId::new_v7());

        let own = ObjectLocation::new(abc, bucket(), key.clone());
        assert_eq!(own.as_ref().map(ObjectLocation::key).ok(), Some(&key));
        assert_eq!(own.as_ref().map(ObjectLocation::tenant).ok(), Some(abc));

        let foreign = ObjectLocation::new(ab, bucket(), key).err();
        assert_eq!(
            foreign.as_ref().map(StoreError::kind),
            Some(StoreErrorKind::Refused)
        );
    }

    #[test]
    fn a_new_files_location_lies_under_its_tenant() {
        let tenant = TenantId::new_random();
        let file = FileId::new_v7();
        let location =
            ObjectLocation::for_file(tenant, bucket(), &Category::default_category(), file);
        assert_eq!(location.tenant(), tenant);
        assert_eq!(location.bucket(), &bucket());
        assert!(TenantPrefix::new(tenant).contains(location.key()));
        assert_eq!(
            ObjectLocation::new(tenant, bucket(), location.key().clone()).ok(),
            Some(location)
        );
    }

    #[test]
    fn range_headers_parse() {
        assert_eq!(
            ByteRange::parse_header("bytes=0-9"),
            Some(ByteRange::Bounded { start: 0, end: 9 })
        );
        assert_eq!(
            ByteRange::parse_header("bytes=5-"),
            Some(ByteRange::From { start: 5 })
        );
        assert_eq!(
            ByteRange::parse_header("bytes=-3"),
            Some(ByteRange::Suffix { len: 3 })
        );
        for bad in ["bytes=0-1,3-4", "items=0-1", "bytes=a-b", "bytes=-", "0-1"] {
            assert_eq!(ByteRange::parse_header(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges_resolve_like_http() {
        assert_eq!(
            ByteRange::Bounded { start: 0, end: 9 }.resolve(5),
            Some((0, 4))
        );
        assert_eq!(ByteRange::Bounded { start: 5, end: 9 }.resolve(5), None);
        assert_eq!(ByteRange::Bounded { start: 3, end: 2 }.resolve(5), None);
        assert_eq!(ByteRange::From { start: 2 }.resolve(5), Some((2, 4)));
        assert_eq!(ByteRange::Suffix { len: 2 }.resolve(5), Some((3, 4)));
        assert_eq!(ByteRange::Suffix { len: 9 }.resolve(5), Some((0, 4)));
        assert_eq!(ByteRange::Suffix { len: 0 }.resolve(5), None);
        assert_eq!(ByteRange::From { start: 0 }.resolve(0), None);
    }
}
