use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use uuid::Uuid;

use crate::{Category, FileId, Region, Tenant, TenantId, UploadSessionId, ValidationError};

/// The key segment of staging objects; categories are `[a-z0-9-]`, so none
/// can take it.
const STAGING: &str = "_staging";

/// The key segment of bulk upload sessions (`t/{tenant}/_sessions/{session}/…`);
/// no category can take it either.
const SESSIONS: &str = "_sessions";

/// Where a tenant's objects live: `t/{tenant_id}/`, trailing slash included,
/// so tenant `…ab` can never match keys of tenant `…abc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantPrefix(String);

impl TenantPrefix {
    pub fn new(tenant: TenantId) -> Self {
        Self(format!("t/{tenant}/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn contains(&self, key: &ObjectKey) -> bool {
        key.as_str().starts_with(&self.0)
    }
}

impl fmt::Display for TenantPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the objects of one upload session live:
/// `t/{tenant}/_sessions/{session}/`, trailing slash included. Write
/// credentials allow puts under this prefix and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionPrefix(String);

impl SessionPrefix {
    pub fn new(tenant: TenantId, session: UploadSessionId) -> Self {
        Self(format!(
            "{}{SESSIONS}/{session}/",
            TenantPrefix::new(tenant)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A storage call was about to touch a key outside the tenant it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("object key {key:?} lies outside tenant prefix {prefix:?}")]
pub struct KeyOutsideTenant {
    pub key: String,
    pub prefix: String,
}

/// An object key. Coffer generates keys (`t/{tenant}/{category}/{file}`) and
/// never takes one from a client; keys read back from storage are parsed so a
/// corrupted one cannot escape its tenant either: ASCII `[A-Za-z0-9._-]`
/// segments, none empty, `.` or `..`, under a `t/{uuid}/` prefix. The one
/// exception is what a client wrote with upload-session credentials under
/// `t/{uuid}/_sessions/{uuid}/`: the name after that prefix is the client's
/// (`aws s3 sync` keeps file names as they are), so its segments may hold
/// any printable UTF-8 — still none empty, `.` or `..`, so the name cannot
/// climb out of its session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    pub const MAX_BYTES: usize = 1024;

    pub fn for_file(tenant: TenantId, category: &Category, file: FileId) -> Self {
        Self(format!("{}{category}/{file}", TenantPrefix::new(tenant)))
    }

    /// Where a client uploads a file's bytes through the URLs Coffer hands
    /// out: `t/{tenant}/_staging/{file}`. No category can be `_staging`, so
    /// this never names a file's verified object; what lands here is copied
    /// to [`ObjectKey::verified`] when the upload completes.
    pub fn staging(tenant: TenantId, file: FileId) -> Self {
        Self(format!("{}{STAGING}/{file}", TenantPrefix::new(tenant)))
    }

    /// A verified copy of a file's bytes: `t/{tenant}/{category}/{file}/{object}`,
    /// a fresh `object` id per copy. Only Coffer writes these keys, once
    /// each, so no URL it handed out can change them.
    pub fn verified(tenant: TenantId, category: &Category, file: FileId, object: Uuid) -> Self {
        Self(format!(
            "{}{category}/{file}/{object}",
            TenantPrefix::new(tenant)
        ))
    }

    /// An object a client wrote under an upload session's prefix, as the
    /// client named it (`name` is what follows the prefix).
    ///
    /// # Errors
    /// When `name` has empty, `.` or `..` segments or control characters, or
    /// the key would exceed [`ObjectKey::MAX_BYTES`].
    pub fn in_session(
        tenant: TenantId,
        session: UploadSessionId,
        name: &str,
    ) -> Result<Self, ValidationError> {
        Self::parse(format!("{}{name}", SessionPrefix::new(tenant, session)))
            .map_err(|e| ValidationError::new("key", e.reason))
    }

    /// The upload session this key lies in, if it is a session object.
    pub fn upload_session(&self) -> Option<UploadSessionId> {
        session_of(&self.0)
    }

    /// The file whose staging key this is, if it is one.
    pub fn staged_file(&self) -> Option<FileId> {
        let mut parts = self.0.split('/');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("t"), Some(_), Some(STAGING), Some(file), None) => {
                file.parse::<Uuid>().ok().map(FileId::from_uuid)
            }
            _ => None,
        }
    }

    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw: String = raw.into();
        let err = |reason: &str| ValidationError::new("key", reason);
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(err("must be 1 to 1024 bytes"));
        }
        // A session object's name (after `t/{uuid}/_sessions/{uuid}/`) is the
        // client's; everything before it is Coffer's.
        let session_name_at = session_of(&raw).map(|_| 4);
        for (i, segment) in raw.split('/').enumerate() {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(err("must not contain empty, '.' or '..' segments"));
            }
            let clients = session_name_at.is_some_and(|at| i >= at);
            let allowed = if clients {
                !segment.chars().any(char::is_control)
            } else {
                segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            };
            if !allowed {
                return Err(err(if clients {
                    "must not contain control characters"
                } else {
                    "segments may only hold ASCII letters, digits, '-', '_' and '.'"
                }));
            }
        }
        let key = Self(raw);
        key.tenant()
            .ok_or_else(|| err("must start with 't/{tenant-uuid}/'"))?;
        Ok(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant whose prefix the key carries.
    pub fn tenant(&self) -> Option<TenantId> {
        let mut parts = self.0.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("t"), Some(id), Some(rest)) if !rest.is_empty() => id.parse().ok(),
            _ => None,
        }
    }

    /// The tenant-prefix check: `coffer_ports::ObjectLocation::new` makes it
    /// for every key a store call can name, and listings for every key they return.
    pub fn ensure_within(&self, tenant: TenantId) -> Result<(), KeyOutsideTenant> {
        let prefix = TenantPrefix::new(tenant);
        if prefix.contains(self) {
            Ok(())
        } else {
            Err(KeyOutsideTenant {
                key: self.0.clone(),
                prefix: prefix.0,
            })
        }
    }
}

/// The session of a key `t/{tenant}/_sessions/{session}/{name…}`, if it is one.
fn session_of(raw: &str) -> Option<UploadSessionId> {
    let mut parts = raw.splitn(5, '/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("t"), Some(_), Some(SESSIONS), Some(session), Some(name)) if !name.is_empty() => {
            session.parse::<Uuid>().ok().map(UploadSessionId::from_uuid)
        }
        _ => None,
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<ObjectKey> for String {
    fn from(value: ObjectKey) -> Self {
        value.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An S3 bucket name (3–63 of lowercase letters, digits, `-`, `.`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketName(String);

impl BucketName {
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw: String = raw.into();
        let ok = (3..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && raw
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_alphanumeric)
            && raw.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric);
        if ok {
            Ok(Self(raw))
        } else {
            Err(ValidationError::new(
                "bucket",
                "must be 3 to 63 lowercase letters, digits, '-' or '.'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BucketName {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<BucketName> for String {
    fn from(value: BucketName) -> Self {
        value.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which bucket a tenant's file goes to. The most specific rule wins: a
/// tenant's dedicated bucket, then its region's bucket, then the category's
/// bucket, then the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub default_bucket: BucketName,
    pub categories: BTreeMap<Category, BucketName>,
    pub regions: BTreeMap<Region, BucketName>,
}

impl Placement {
    pub fn single(bucket: BucketName) -> Self {
        Self {
            default_bucket: bucket,
            categories: BTreeMap::new(),
            regions: BTreeMap::new(),
        }
    }

    /// Whether tenants of `region` have somewhere to live: the region has
    /// a bucket of its own, or no region has one (a single-region
    /// deployment, where everything goes to the category and default
    /// buckets). Onboarding refuses a region this answers `false` for, so
    /// that no object of a tenant is written outside its region.
    pub fn serves_region(&self, region: &Region) -> bool {
        self.regions.is_empty() || self.regions.contains_key(region)
    }

    pub fn bucket_for(&self, tenant: &Tenant, category: &Category) -> BucketName {
        if let Some(bucket) = tenant
            .dedicated_bucket
            .as_ref()
            .and_then(|b| BucketName::new(b.clone()).ok())
        {
            return bucket;
        }
        self.regions
            .get(&tenant.region)
            .or_else(|| self.categories.get(category))
            .unwrap_or(&self.default_bucket)
            .clone()
    }

    /// Every bucket [`Placement::bucket_for`] can choose for `tenant`, in
    /// any category: where the tenant's objects may be. A superset (its
    /// dedicated bucket, else its region's, plus every category bucket and
    /// the default, which older placements may have used).
    pub fn buckets_for(&self, tenant: &Tenant) -> std::collections::BTreeSet<BucketName> {
        let mut buckets = self.tenant_buckets(tenant);
        buckets.extend(self.categories.values().cloned());
        buckets.insert(self.default_bucket.clone());
        buckets
    }

    /// The buckets that are the tenant's or its region's alone: its
    /// dedicated bucket and its region's. All a tenant of a region with an
    /// endpoint of its own can have objects in on that endpoint.
    pub fn tenant_buckets(&self, tenant: &Tenant) -> std::collections::BTreeSet<BucketName> {
        tenant
            .dedicated_bucket
            .as_ref()
            .and_then(|b| BucketName::new(b.clone()).ok())
            .into_iter()
            .chain(self.regions.get(&tenant.region).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    #[test]
    fn staging_keys_name_their_file_and_no_verified_object() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(7));
        let file = FileId::from_uuid(Uuid::from_u128(9));
        let staging = ObjectKey::staging(tenant, file);
        assert_eq!(staging.tenant(), Some(tenant));
        assert_eq!(staging.staged_file(), Some(file));
        assert!(ObjectKey::parse(staging.as_str()).is_ok());
        let category = Category::default_category();
        let verified = ObjectKey::verified(tenant, &category, file, Uuid::from_u128(1));
        assert_eq!(verified.staged_file(), None);
        assert_eq!(
            ObjectKey::for_file(tenant, &category, file).staged_file(),
            None
        );
        assert_ne!(
            ObjectKey::verified(tenant, &category, file, Uuid::from_u128(2)),
            verified
        );
        assert!(Category::new(STAGING).is_err());
    }

    #[test]
    fn session_keys_take_client_names_but_stay_in_their_session() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(7));
        let session = UploadSessionId::from_uuid(Uuid::from_u128(3));
        let key = ObjectKey::in_session(tenant, session, "2026/Contract final (v2) é.pdf");
        let key = key.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.tenant(), Some(tenant));
        assert_eq!(key.upload_session(), Some(session));
        assert!(
            key.as_str()
                .starts_with(SessionPrefix::new(tenant, session).as_str())
        );
        assert_eq!(ObjectKey::parse(key.as_str()).ok(), Some(key));
        for bad in [
            "",
            "../x",
            "a/../../b",
            "a//b",
            "./a",
            "a\u{0}b",
            "a\nb",
            "x/",
        ] {
            assert!(
                ObjectKey::in_session(tenant, session, bad).is_err(),
                "{bad:?}"
            );
        }
        // Outside a session, keys stay Coffer's own charset.
        assert!(ObjectKey::parse(format!("t/{tenant}/documents/a b")).is_err());
        assert!(ObjectKey::parse(format!("t/{tenant}/_sessions/not-a-uuid/a b")).is_err());
        assert_eq!(
            ObjectKey::staging(tenant, FileId::new_v7()).upload_session(),
            None
        );
        assert!(Category::new(SESSIONS).is_err());
    }

    #[test]
    fn generated_keys_are_tenant_first() {
        let tenant = TenantId::from_uuid(Uuid::nil());
        let category = Category::new("media").ok();
        let file = FileId::from_uuid(Uuid::max());
        let key = category.map(|c| ObjectKey::for_file(tenant, &c, file));
        assert_eq!(
            key.as_ref().map(ObjectKey::as_str),
            Some(
                "t/00000000-0000-0000-0000-000000000000/media/ffffffff-ffff-ffff-ffff-ffffffffffff"
            )
        );
        assert_eq!(key.as_ref().and_then(ObjectKey::tenant), Some(tenant));
    }

    #[test]
    fn a_tenants_buckets_cover_every_placement_choice() {
        use crate::{LimitOverrides, Plan, Region, TenantSlug, TenantStatus};
        let b = |n: &str| BucketName::new(n).unwrap_or_else(|_| unreachable!());
        let region = Region::new("eu-west").unwrap_or_else(|_| unreachable!());
        let media = Category::new("media").unwrap_or_else(|_| unreachable!());
        let mut placement = Placement::single(b("default"));
        placement
            .categories
            .insert(media.clone(), b("media-bucket"));
        placement.regions.insert(region.clone(), b("eu-bucket"));
        let mut tenant = Tenant {
            id: TenantId::new_random(),
            slug: TenantSlug::new("acme").unwrap_or_else(|_| unreachable!()),
            display_name: "Acme".into(),
            plan: Plan::Enterprise,
            status: TenantStatus::Active,
            region,
            dedicated_bucket: None,
            dedicated_database: None,
            dedicated_schema: None,
            metadata_region: None,
            limit_overrides: LimitOverrides::default(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            suspended_at: None,
            cancelled_at: None,
            purge_after: None,
            writes_frozen_at: None,
        };
        let names = |p: &Placement, t: &Tenant| -> Vec<String> {
            p.buckets_for(t).into_iter().map(String::from).collect()
        };
        assert_eq!(
            names(&placement, &tenant),
            ["default", "eu-bucket", "media-bucket"]
        );
        tenant.dedicated_bucket = Some("acme-own".into());
        assert_eq!(
            names(&placement, &tenant),
            ["acme-own", "default", "eu-bucket", "media-bucket"]
        );
        let own: Vec<String> = placement
            .tenant_buckets(&tenant)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(own, ["acme-own", "eu-bucket"]);
        for category in [media, Category::default_category()] {
            assert!(
                placement
                    .buckets_for(&tenant)
                    .contains(&placement.bucket_for(&tenant, &category))
            );
        }
    }

    #[test]
    fn only_configured_regions_are_served_once_any_is() {
        let b = |n: &str| BucketName::new(n).unwrap_or_else(|_| unreachable!());
        let r = |n: &str| Region::new(n).unwrap_or_else(|_| unreachable!());
        let mut placement = Placement::single(b("default"));
        assert!(placement.serves_region(&r("anywhere")));
        placement.regions.insert(r("eu-west"), b("eu-bucket"));
        assert!(placement.serves_region(&r("eu-west")));
        assert!(!placement.serves_region(&r("us-east")));
    }

    #[test]
    fn similar_tenant_prefixes_do_not_overlap() {
        // The trailing slash is what keeps tenant "…ab" out of tenant "…abc".
        let a = TenantId::from_uuid(Uuid::from_u128(0xab));
        let b = TenantId::from_uuid(Uuid::from_u128(0xabc));
        let category = Category::default_category();
        let key_b = ObjectKey::for_file(b, &category, FileId::new_v7());
        assert!(key_b.ensure_within(b).is_ok());
        assert!(key_b.ensure_within(a).is_err());
        assert!(!TenantPrefix::new(a).contains(&key_b));
    }

    #[test]
    fn parse_refuses_escapes() {
        let t = TenantId::new_random();
        assert!(ObjectKey::parse(format!("t/{t}/documents/x")).is_ok());
        for bad in [
            format!("t/{t}/../other"),
            format!("t/{t}//x"),
            format!("t/{t}/"),
            format!("/t/{t}/x"),
            format!("t/{t}/a b"),
            "t/not-a-uuid/x".to_owned(),
            "x/y".to_owned(),
        ] {
            assert!(ObjectKey::parse(bad.clone()).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn generated_key_always_lies_under_its_tenant(
            tenant in any::<u128>(),
            other in any::<u128>(),
            file in any::<u128>(),
            category in "[a-z0-9-]{1,32}",
        ) {
            let tenant = TenantId::from_uuid(Uuid::from_u128(tenant));
            let category = Category::new(category).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let key = ObjectKey::for_file(tenant, &category, FileId::from_uuid(Uuid::from_u128(file)));
            let prefix = format!("t/{tenant}/");
            prop_assert!(key.as_str().starts_with(&prefix));
            prop_assert!(key.ensure_within(tenant).is_ok());
            prop_assert_eq!(ObjectKey::parse(key.as_str()).ok(), Some(key.clone()));
            let other = TenantId::from_uuid(Uuid::from_u128(other));
            prop_assert_eq!(key.ensure_within(other).is_ok(), other == tenant);
        }

        #[test]
        fn parsed_keys_never_escape(raw in "[ -~]{0,80}") {
            if let Ok(key) = ObjectKey::parse(raw.clone()) {
                let tenant = key.tenant();
                prop_assert!(tenant.is_some());
                prop_assert!(raw.split('/').all(|s| s != ".." && s != "." && !s.is_empty()));
                if let Some(t) = tenant { prop_assert!(key.ensure_within(t).is_ok()); }
            }
        }
    }
}
