use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

use crate::tenant::snake_case_names;
use crate::{
    BucketName, FileId, ObjectKey, PageCursor, ScanVerdict, Subject, TenantId, UserId,
    ValidationError,
};

/// Largest accepted free-form metadata object, serialised as JSON.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;
/// How deep metadata (and a metadata filter) may nest. Audit records embed
/// it a level or two deeper, and JSON readers refuse documents past their
/// own limit (serde_json: 128), so a deeper record could be written but
/// never read back.
pub const METADATA_MAX_DEPTH: usize = 32;

/// The nesting of arrays and objects in `value` (a scalar is 0, `{}` is 1).
pub fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

pub(crate) use string_newtype;

/// A file category such as `documents` or `media`: `[a-z0-9-]{1,32}`. It is
/// part of the object key and may select the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw))
        } else {
            Err(ValidationError::new(
                "category",
                "must be 1 to 32 lowercase letters, digits or '-'",
            ))
        }
    }

    /// The category used when a client names none.
    pub fn default_category() -> Self {
        Self("documents".to_owned())
    }
}
string_newtype!(Category);

/// A logical folder: `/`, or `/`-separated NFC segments with a leading `/`
/// and no trailing one (`/contracts/2024`). Input may omit the leading slash
/// or carry a trailing one; `.`/`..`, empty segments, backslashes and control
/// characters are refused rather than resolved, so a path means what it says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogicalPath(String);

impl LogicalPath {
    pub const MAX_BYTES: usize = 1024;

    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw: String = raw.into();
        let err = |reason: &str| ValidationError::new("path", reason);
        if raw.is_empty() || raw == "/" {
            return Ok(Self::root());
        }
        let trimmed = raw.strip_prefix('/').unwrap_or(&raw);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let mut normalised = String::with_capacity(raw.len() + 1);
        for segment in trimmed.split('/') {
            if segment.is_empty() {
                return Err(err("must not contain empty segments ('//')"));
            }
            if segment == "." || segment == ".." {
                return Err(err("must not contain '.' or '..' segments"));
            }
            if segment.chars().any(|c| c.is_control() || c == '\\') {
                return Err(err("must not contain control characters or '\\'"));
            }
            if segment.len() > Filename::MAX_BYTES {
                return Err(err("a segment is longer than 255 bytes"));
            }
            normalised.push('/');
            normalised.extend(segment.nfc());
        }
        if normalised.len() > Self::MAX_BYTES {
            return Err(err("must be at most 1024 bytes"));
        }
        Ok(Self(normalised))
    }

    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Whether `self` is `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &LogicalPath) -> bool {
        ancestor.is_root()
            || self.0 == ancestor.0
            || (self.0.starts_with(&ancestor.0)
                && self.0.as_bytes().get(ancestor.0.len()) == Some(&b'/'))
    }
}
string_newtype!(LogicalPath);

/// A file's name as the user gave it: NFC-normalised Unicode, 1 to 255 bytes,
/// no control characters, no `/`, and not `.` or `..`. It lives only in
/// metadata, never in an object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Filename(String);

impl Filename {
    pub const MAX_BYTES: usize = 255;

    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw: String = raw.into();
        let err = |reason: &str| ValidationError::new("filename", reason);
        let name: String = raw.nfc().collect();
        if name.is_empty() {
            return Err(err("must not be empty"));
        }
        if name.len() > Self::MAX_BYTES {
            return Err(err("must be at most 255 bytes (UTF-8)"));
        }
        if name.contains('/') {
            return Err(err("must not contain '/'; use `path` for folders"));
        }
        if name.chars().any(char::is_control) {
            return Err(err("must not contain control characters"));
        }
        if name == "." || name == ".." {
            return Err(err("must not be '.' or '..'"));
        }
        Ok(Self(name))
    }

    /// The extension after the last `.`, if any (`report.PDF` → `PDF`).
    pub fn extension(&self) -> Option<&str> {
        let (stem, ext) = self.0.rsplit_once('.')?;
        (!stem.is_empty() && !ext.is_empty()).then_some(ext)
    }
}
string_newtype!(Filename);

/// A media type such as `application/pdf`, lowercased, parameters kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentType(String);

impl ContentType {
    pub const OCTET_STREAM: &'static str = "application/octet-stream";

    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw: String = raw.into();
        let err = || {
            ValidationError::new(
                "content_type",
                "must be a media type such as 'application/pdf'",
            )
        };
        if raw.len() > 255 || !raw.is_ascii() || raw.bytes().any(|b| b.is_ascii_control()) {
            return Err(err());
        }
        let (essence, params) = match raw.split_once(';') {
            Some((essence, params)) => (essence.trim(), Some(params.trim())),
            None => (raw.trim(), None),
        };
        let (kind, subtype) = essence.split_once('/').ok_or_else(err)?;
        let is_token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        if !is_token(kind) || !is_token(subtype) {
            return Err(err());
        }
        let mut value = format!(
            "{}/{}",
            kind.to_ascii_lowercase(),
            subtype.to_ascii_lowercase()
        );
        if let Some(params) = params.filter(|p| !p.is_empty()) {
            value.push_str("; ");
            value.push_str(params);
        }
        Ok(Self(value))
    }

    /// The type the filename's extension suggests, or `application/octet-stream`.
    pub fn guess_from(filename: &Filename) -> Self {
        let guess = mime_guess::from_path(filename.as_str()).first_or_octet_stream();
        Self::new(guess.essence_str()).unwrap_or_else(|_| Self(Self::OCTET_STREAM.to_owned()))
    }

    /// `type/subtype` without parameters.
    pub fn essence(&self) -> &str {
        self.0.split(';').next().unwrap_or(&self.0).trim()
    }

    /// Whether this type matches a pattern such as `image/*`, `*/*` or `application/pdf`.
    pub fn matches(&self, pattern: &str) -> bool {
        let essence = self.essence();
        match pattern.trim().to_ascii_lowercase().as_str() {
            "*" | "*/*" => true,
            p => match p.strip_suffix("/*") {
                Some(kind) => essence.split('/').next() == Some(kind),
                None => essence == p,
            },
        }
    }
}
string_newtype!(ContentType);

/// A SHA-256 digest. Clients may give it as hex (as `sha256sum` prints it) or
/// base64 (as S3's `x-amz-checksum-sha256` carries it); the API shows hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let bytes = if raw.len() == 64 {
            hex::decode(raw).ok()
        } else {
            BASE64.decode(raw).ok()
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Self)
            .ok_or_else(|| {
                ValidationError::new(
                    "checksum_sha256",
                    "must be a SHA-256 digest in hex (64 characters) or base64",
                )
            })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Who may read a file without a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Its owner, tenant admins and grantees.
    #[default]
    Private,
    /// Every member of the tenant may read it.
    Tenant,
}
snake_case_names!(Visibility { Private => "private", Tenant => "tenant" }, "visibility");

/// `pending` (upload initiated) → `scanning` (verified, waiting for the
/// malware scan, where scanning is on) → `available` (readable) or
/// `quarantined` (the scanner refused it; never readable) → `deleted` (in
/// trash; only an available file goes there, anything else is erased).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Pending,
    Scanning,
    Available,
    Quarantined,
    Deleted,
}
snake_case_names!(FileStatus { Pending => "pending", Scanning => "scanning", Available => "available", Quarantined => "quarantined", Deleted => "deleted" }, "status");

/// Why an upload cannot complete: the file is neither pending nor already
/// available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the file is {0}; only a pending upload can complete")]
pub struct NotCompletable(pub FileStatus);

impl FileStatus {
    /// Whether completing an upload of a file in this status has work to
    /// do. Completion is idempotent: an `available` file is already
    /// complete (`Ok(false)`), so a retried completion succeeds unchanged.
    pub fn needs_completion(self) -> Result<bool, NotCompletable> {
        match self {
            Self::Pending => Ok(true),
            Self::Scanning | Self::Available | Self::Quarantined => Ok(false),
            Self::Deleted => Err(NotCompletable(self)),
        }
    }
}

/// Whether any string or key in `value` holds U+0000, which no PostgreSQL
/// text or `jsonb` stores (metadata refuses it; the server refuses it in any
/// request body).
pub fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// Free-form metadata: a JSON object of at most [`METADATA_MAX_BYTES`],
/// nested at most [`METADATA_MAX_DEPTH`] levels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    pub fn new(value: serde_json::Value) -> Result<Self, ValidationError> {
        let serde_json::Value::Object(map) = value else {
            return Err(ValidationError::new("metadata", "must be a JSON object"));
        };
        Self::from_map(map)
    }

    fn from_map(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, ValidationError> {
        if map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value))
        {
            return Err(ValidationError::new(
                "metadata",
                "must not contain U+0000 (NUL), which no database text holds",
            ));
        }
        let depth = 1 + map.values().map(json_depth).max().unwrap_or(0);
        if depth > METADATA_MAX_DEPTH {
            return Err(ValidationError::new(
                "metadata",
                format!("nests {depth} levels; at most {METADATA_MAX_DEPTH} are allowed"),
            ));
        }
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > METADATA_MAX_BYTES {
            return Err(ValidationError::new(
                "metadata",
                format!("is {size} bytes; at most {METADATA_MAX_BYTES} are allowed"),
            ));
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// RFC 7396 JSON merge patch: keys in `patch` replace, `null` removes,
    /// nested objects merge. The result must still fit the size limit.
    pub fn merged(
        &self,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ValidationError> {
        fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
            match (target, patch) {
                (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
                    for (key, value) in patch {
                        if value.is_null() {
                            target.remove(key);
                        } else {
                            merge(
                                target.entry(key.clone()).or_insert(serde_json::Value::Null),
                                value,
                            );
                        }
                    }
                }
                (target, patch) => *target = patch.clone(),
            }
        }
        let mut value = serde_json::Value::Object(self.0.clone());
        merge(&mut value, &serde_json::Value::Object(patch.clone()));
        Self::new(value)
    }
}

impl TryFrom<serde_json::Value> for Metadata {
    type Error = ValidationError;
    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Metadata> for serde_json::Value {
    fn from(value: Metadata) -> Self {
        serde_json::Value::Object(value.0)
    }
}

/// A file's metadata record. The bytes live in the object store at
/// `bucket`/`key`; everything a user sees of the file lives here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: FileId,
    pub tenant_id: TenantId,
    pub owner_id: UserId,
    /// The owner's subject, denormalised: it is what the API shows.
    pub owner: Subject,
    pub category: Category,
    pub path: LogicalPath,
    pub filename: Filename,
    pub content_type: ContentType,
    pub size_bytes: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub visibility: Visibility,
    pub metadata: Metadata,
    pub status: FileStatus,
    pub bucket: BucketName,
    pub key: ObjectKey,
    /// S3 multipart upload id while a multipart upload is in progress.
    pub multipart_upload_id: Option<String>,
    /// When a pending upload's window closes; the reaper removes it after.
    pub upload_expires_at: Option<OffsetDateTime>,
    /// The malware scan's verdict, once scanned.
    pub scan_verdict: Option<ScanVerdict>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    /// Kept unchanged until a date (docs/records.md); set when the upload
    /// completes (the tenant's rule for the category) or by an admin.
    pub retention: Option<crate::Retention>,
    /// At least one legal hold is placed on it.
    pub legal_hold: bool,
    /// Which version of the file's bytes `key` holds: 1 for the first
    /// upload, one more for each version added (docs/records.md).
    pub version: u32,
    /// Set on the pending upload of a new version of another file: the
    /// file it becomes a version of when it completes. Such a row is not a
    /// file of its own (no name of its own, not listed among live names).
    pub version_of: Option<FileId>,
}

impl FileRecord {
    /// What keeps the file from being permanently removed at `now`.
    pub fn removal_block(&self, now: OffsetDateTime) -> Option<crate::RemovalBlock> {
        crate::removal_block(self.retention.as_ref(), self.legal_hold, now)
    }

    /// Its place in a file listing, which runs by `(created_at, id)`.
    pub fn page_cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            id: *self.id.as_uuid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_nests_at_most_its_depth() {
        let nested = |levels: usize| {
            (1..levels).fold(serde_json::json!(1), |v, _| serde_json::json!({ "a": v }))
        };
        assert_eq!(json_depth(&serde_json::json!({"a": [1, {"b": 2}]})), 3);
        assert!(Metadata::new(serde_json::json!({ "x": nested(METADATA_MAX_DEPTH) })).is_ok());
        let err = Metadata::new(serde_json::json!({ "x": nested(METADATA_MAX_DEPTH + 1) }));
        assert!(err.is_err_and(|e| e.to_string().contains("levels")));
    }

    #[test]
    fn completion_is_idempotent_and_only_from_pending() {
        assert_eq!(FileStatus::Pending.needs_completion(), Ok(true));
        assert_eq!(FileStatus::Available.needs_completion(), Ok(false));
        let err = FileStatus::Deleted.needs_completion();
        assert_eq!(err, Err(NotCompletable(FileStatus::Deleted)));
        assert_eq!(
            err.err().map(|e| e.to_string()).as_deref(),
            Some("the file is deleted; only a pending upload can complete")
        );
    }

    #[test]
    fn filenames() {
        assert_eq!(
            Filename::new("Ä.pdf").ok().map(|f| f.as_str().len()),
            Some(6)
        );
        // A decomposed "Ä" (A + combining diaeresis) is stored composed.
        let decomposed = "A\u{308}.pdf";
        assert_eq!(
            Filename::new(decomposed).ok().map(String::from).as_deref(),
            Some("Ä.pdf")
        );
        assert!(Filename::new("report 2024 (final).pdf").is_ok());
        assert!(Filename::new("日本語の文書.docx").is_ok());
        assert!(Filename::new("a".repeat(255)).is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\nb",
            "a\u{0}b",
            "tab\there",
            "\u{7f}",
        ] {
            assert!(Filename::new(bad).is_err(), "{bad:?}");
        }
        assert!(Filename::new("a".repeat(256)).is_err());
        // 128 two-byte characters are 256 bytes: refused although only 128 chars.
        assert!(Filename::new("é".repeat(128)).is_err());
        assert_eq!(
            Filename::new("x.tar.GZ")
                .ok()
                .and_then(|f| f.extension().map(str::to_owned))
                .as_deref(),
            Some("GZ")
        );
        assert_eq!(
            Filename::new(".bashrc")
                .ok()
                .and_then(|f| f.extension().map(str::to_owned)),
            None
        );
    }

    #[test]
    fn paths() {
        let norm = |s: &str| LogicalPath::new(s).map(String::from);
        assert_eq!(norm("").ok().as_deref(), Some("/"));
        assert_eq!(norm("/").ok().as_deref(), Some("/"));
        assert_eq!(
            norm("contracts/2024/").ok().as_deref(),
            Some("/contracts/2024")
        );
        assert_eq!(norm("/contracts").ok().as_deref(), Some("/contracts"));
        for bad in [
            "a//b", "//", "/../etc", "a/./b", "a/..", "a\\b", "a\u{1}b", "///x",
        ] {
            assert!(norm(bad).is_err(), "{bad:?}");
        }
        assert!(norm(&format!("/{}", "a".repeat(256))).is_err());
        let p = |s: &str| LogicalPath::new(s).unwrap_or_else(|_| LogicalPath::root());
        assert!(p("/a/b").is_within(&p("/a")));
        assert!(p("/a").is_within(&p("/a")));
        assert!(!p("/ab").is_within(&p("/a")));
        assert!(p("/ab").is_within(&LogicalPath::root()));
    }

    #[test]
    fn categories() {
        assert!(Category::new("documents").is_ok());
        assert!(Category::new("media-2").is_ok());
        for bad in ["", "Docs", "a/b", "../x", &"a".repeat(33)] {
            assert!(Category::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        let ct = ContentType::new("Text/Plain; charset=utf-8").ok();
        assert_eq!(ct.as_ref().map(ContentType::essence), Some("text/plain"));
        assert_eq!(
            ct.as_ref().map(ContentType::as_str),
            Some("text/plain; charset=utf-8")
        );
        for bad in [
            "",
            "pdf",
            "text/",
            "/plain",
            "text/pl ain",
            "tëxt/plain",
            "a/b\r\nX: y",
        ] {
            assert!(ContentType::new(bad).is_err(), "{bad:?}");
        }
        let pdf = Filename::new("a.pdf")
            .map(|f| ContentType::guess_from(&f))
            .ok();
        assert_eq!(
            pdf.as_ref().map(ContentType::essence),
            Some("application/pdf")
        );
        let unknown = Filename::new("noext")
            .map(|f| ContentType::guess_from(&f))
            .ok();
        assert_eq!(
            unknown.as_ref().map(ContentType::essence),
            Some(ContentType::OCTET_STREAM)
        );
        let png = ContentType::new("image/png").ok();
        assert!(png.as_ref().is_some_and(|c| c.matches("image/*")));
        assert!(png.as_ref().is_some_and(|c| c.matches("*/*")));
        assert!(png.as_ref().is_some_and(|c| c.matches("image/png")));
        assert!(!png.as_ref().is_some_and(|c| c.matches("image/jpeg")));
        assert!(!png.as_ref().is_some_and(|c| c.matches("application/*")));
    }

    #[test]
    fn checksums_accept_hex_and_base64() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let from_hex = Sha256Digest::parse(hex).ok();
        let from_b64 = Sha256Digest::parse("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").ok();
        assert!(from_hex.is_some());
        assert_eq!(from_hex, from_b64);
        assert_eq!(from_hex.map(|d| d.to_hex()).as_deref(), Some(hex));
        assert!(Sha256Digest::parse("abc").is_err());
        assert!(Sha256Digest::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn metadata_limits_and_merge() {
        assert!(Metadata::new(serde_json::json!([1, 2])).is_err());
        let big = "x".repeat(METADATA_MAX_BYTES);
        assert!(Metadata::new(serde_json::json!({ "k": big })).is_err());
        let base = Metadata::new(serde_json::json!({"a": 1, "n": {"x": 1, "y": 2}})).ok();
        let patch = serde_json::json!({"a": null, "b": 2, "n": {"y": null, "z": 3}});
        let merged = base
            .zip(patch.as_object().cloned())
            .and_then(|(b, p)| b.merged(&p).ok())
            .map(serde_json::Value::from);
        assert_eq!(
            merged,
            Some(serde_json::json!({"b": 2, "n": {"x": 1, "z": 3}}))
        );
    }
}

/// One version of a file's bytes, as its history lists it. Every version
/// was verified like any upload; the highest is the file's current bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    pub file_id: FileId,
    pub version: u32,
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub size_bytes: u64,
    pub checksum_sha256: Option<Sha256Digest>,
    pub content_type: ContentType,
    /// Who uploaded (or restored) this version.
    pub uploaded_by: Subject,
    pub uploaded_at: OffsetDateTime,
}
