//! Checking a request to a storage URL before a single body byte is read.

use coffer_domain::{BucketName, ContentType, ObjectKey, Sha256Digest};
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::params::SignedParams;
use crate::signing_key::SigningKey;

/// The header carrying the body's SHA-256, named as S3 names it so that
/// clients written for S3 presigned URLs work unchanged (base64 or hex).
pub const CHECKSUM_HEADER: &str = "x-amz-checksum-sha256";

/// The largest part of a multipart upload (S3's limit).
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Why a request to a storage URL was refused before its body was read.
///
/// | variant | status | `code()` |
/// |---|---|---|
/// | [`Malformed`](Self::Malformed) | 400 | `malformed-request` |
/// | [`MissingSignature`](Self::MissingSignature) | 403 | `missing-signature` |
/// | [`SignatureMismatch`](Self::SignatureMismatch) | 403 | `signature-mismatch` |
/// | [`WrongMethod`](Self::WrongMethod) | 403 | `wrong-method` |
/// | [`Expired`](Self::Expired) | 403 | `expired` |
/// | [`ContentTypeMismatch`](Self::ContentTypeMismatch) | 403 | `content-type-mismatch` |
/// | [`ChecksumMismatch`](Self::ChecksumMismatch) | 403 | `checksum-mismatch` |
/// | [`MissingContentLength`](Self::MissingContentLength) | 411 | `missing-content-length` |
/// | [`ContentLengthMismatch`](Self::ContentLengthMismatch) | 413 when longer than signed, else 400 | `content-length-mismatch` |
/// | [`TooLarge`](Self::TooLarge) | 413 | `entity-too-large` |
///
/// 403 means "this URL does not allow this request", as S3 answers for a
/// signed header that differs; the length errors use HTTP's own codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("malformed storage request: {0}")]
    Malformed(String),
    #[error("the URL carries no signature or expiry")]
    MissingSignature,
    #[error("the signature does not match the request")]
    SignatureMismatch,
    #[error("the URL was signed for {signed_for}, not for this method")]
    WrongMethod { signed_for: &'static str },
    #[error("the URL has expired")]
    Expired,
    #[error("Content-Type must be exactly the signed type {expected:?}")]
    ContentTypeMismatch { expected: String },
    #[error("the {CHECKSUM_HEADER} header must carry the signed checksum")]
    ChecksumMismatch,
    #[error("Content-Length is required")]
    MissingContentLength,
    #[error("Content-Length is {actual}, the URL was signed for exactly {expected} bytes")]
    ContentLengthMismatch { expected: u64, actual: u64 },
    #[error("the body may hold at most {limit} bytes")]
    TooLarge { limit: u64 },
}

impl SignatureError {
    /// The HTTP status the storage route answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) => 400,
            Self::MissingSignature
            | Self::SignatureMismatch
            | Self::WrongMethod { .. }
            | Self::Expired
            | Self::ContentTypeMismatch { .. }
            | Self::ChecksumMismatch => 403,
            Self::MissingContentLength => 411,
            Self::ContentLengthMismatch { expected, actual } if actual > expected => 413,
            Self::ContentLengthMismatch { .. } => 400,
            Self::TooLarge { .. } => 413,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-request",
            Self::MissingSignature => "missing-signature",
            Self::SignatureMismatch => "signature-mismatch",
            Self::WrongMethod { .. } => "wrong-method",
            Self::Expired => "expired",
            Self::ContentTypeMismatch { .. } => "content-type-mismatch",
            Self::ChecksumMismatch => "checksum-mismatch",
            Self::MissingContentLength => "missing-content-length",
            Self::ContentLengthMismatch { .. } => "content-length-mismatch",
            Self::TooLarge { .. } => "entity-too-large",
        }
    }
}

/// A storage request whose signature, expiry and headers were checked.
/// Only [`crate::FsStore::authorize`] makes one, so the serve functions can
/// only ever run for authorised requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageAccess {
    Put(PutAccess),
    Get(GetAccess),
}

/// An authorised upload: a whole object or one part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutAccess {
    pub(crate) bucket: BucketName,
    pub(crate) key: ObjectKey,
    pub(crate) target: PutTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PutTarget {
    Object {
        content_type: ContentType,
        length: u64,
        checksum: Option<Sha256Digest>,
    },
    Part {
        upload_id: Uuid,
        part_number: u16,
        length: u64,
        checksum: Option<Sha256Digest>,
    },
}

impl PutAccess {
    pub fn bucket(&self) -> &BucketName {
        &self.bucket
    }

    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The exact number of body bytes the upload must carry.
    pub fn content_length(&self) -> u64 {
        match &self.target {
            PutTarget::Object { length, .. } | PutTarget::Part { length, .. } => *length,
        }
    }
}

/// An authorised download, with the response headers the URL asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAccess {
    pub(crate) bucket: BucketName,
    pub(crate) key: ObjectKey,
    pub(crate) response_disposition: Option<String>,
    pub(crate) response_type: Option<String>,
}

impl GetAccess {
    pub fn bucket(&self) -> &BucketName {
        &self.bucket
    }

    pub fn key(&self) -> &ObjectKey {
        &self.key
    }
}

/// Verifies one request. `path` is the request path; it must be
/// `{base_path}/storage/{bucket}/{key}` (or `/storage/…` when a proxy stripped
/// the base path).
pub(crate) fn authorize<'h>(
    signing_key: &SigningKey,
    base_path: &str,
    now: OffsetDateTime,
    method: &str,
    path: &str,
    query: &str,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Result<StorageAccess, SignatureError> {
    let (bucket, key) = parse_path(base_path, path)?;
    let (params, signature) = SignedParams::from_query(query)?;
    let method = method.to_ascii_uppercase();
    if !params.verify(
        signing_key,
        &method,
        bucket.as_str(),
        key.as_str(),
        &signature,
    ) {
        let signed_for = ["GET", "PUT"].into_iter().find(|other| {
            params.verify(
                signing_key,
                other,
                bucket.as_str(),
                key.as_str(),
                &signature,
            )
        });
        return Err(match signed_for {
            Some(signed_for) => SignatureError::WrongMethod { signed_for },
            None => SignatureError::SignatureMismatch,
        });
    }
    if now.unix_timestamp() > params.expires {
        return Err(SignatureError::Expired);
    }
    match method.as_str() {
        "GET" => Ok(StorageAccess::Get(GetAccess {
            bucket,
            key,
            response_disposition: params.response_disposition,
            response_type: params.response_type,
        })),
        "PUT" => {
            let target = put_target(&params, &header)?;
            Ok(StorageAccess::Put(PutAccess {
                bucket,
                key,
                target,
            }))
        }
        // Only GET and PUT URLs are ever signed.
        _ => Err(SignatureError::SignatureMismatch),
    }
}

fn put_target<'h>(
    params: &SignedParams,
    header: &impl Fn(&str) -> Option<&'h str>,
) -> Result<PutTarget, SignatureError> {
    let length = content_length(header)?;
    let sent_checksum = header(CHECKSUM_HEADER)
        .map(|v| Sha256Digest::parse(v).map_err(|_| SignatureError::ChecksumMismatch))
        .transpose()?;
    if let (Some(upload_id), Some(part_number)) = (&params.upload_id, params.part_number) {
        let upload_id = Uuid::parse_str(upload_id)
            .map_err(|_| SignatureError::Malformed("uploadId is not an upload id".to_owned()))?;
        if length > MAX_PART_BYTES {
            return Err(SignatureError::TooLarge {
                limit: MAX_PART_BYTES,
            });
        }
        // Coffer signs every part's exact length (and checksum when the
        // client gave one), as an S3 signature over those headers would.
        if let Some(signed_length) = params.content_length
            && length != signed_length
        {
            return Err(SignatureError::ContentLengthMismatch {
                expected: signed_length,
                actual: length,
            });
        }
        if params.checksum.is_some() && sent_checksum != params.checksum {
            return Err(SignatureError::ChecksumMismatch);
        }
        return Ok(PutTarget::Part {
            upload_id,
            part_number,
            length,
            checksum: params.checksum.or(sent_checksum),
        });
    }
    let (Some(signed_type), Some(signed_length)) = (&params.content_type, params.content_length)
    else {
        return Err(SignatureError::Malformed(
            "the URL names neither an object nor a part".to_owned(),
        ));
    };
    let signed_type = ContentType::new(signed_type.as_str())
        .map_err(|_| SignatureError::Malformed("signed content type is invalid".to_owned()))?;
    let sent_type = header("content-type").and_then(|v| ContentType::new(v).ok());
    if sent_type.as_ref() != Some(&signed_type) {
        return Err(SignatureError::ContentTypeMismatch {
            expected: signed_type.to_string(),
        });
    }
    if length != signed_length {
        return Err(SignatureError::ContentLengthMismatch {
            expected: signed_length,
            actual: length,
        });
    }
    if params.checksum.is_some() && sent_checksum != params.checksum {
        return Err(SignatureError::ChecksumMismatch);
    }
    Ok(PutTarget::Object {
        content_type: signed_type,
        length,
        // An unsigned checksum the client sends anyway is still enforced.
        checksum: params.checksum.or(sent_checksum),
    })
}

fn content_length<'h>(header: &impl Fn(&str) -> Option<&'h str>) -> Result<u64, SignatureError> {
    let raw = header("content-length").ok_or(SignatureError::MissingContentLength)?;
    raw.trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("Content-Length is not a number".to_owned()))
}

fn parse_path(base_path: &str, path: &str) -> Result<(BucketName, ObjectKey), SignatureError> {
    let malformed = |reason: &str| SignatureError::Malformed(reason.to_owned());
    let rest = path
        .strip_prefix(base_path)
        .and_then(|p| p.strip_prefix("/storage/"))
        .or_else(|| path.strip_prefix("/storage/"))
        .ok_or_else(|| malformed("not a storage path"))?;
    let rest = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| malformed("path is not UTF-8"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| malformed("path names no key"))?;
    let bucket = BucketName::new(bucket).map_err(|_| malformed("invalid bucket"))?;
    let key = ObjectKey::parse(key).map_err(|_| malformed("invalid key"))?;
    Ok((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_with_or_without_the_public_base_path() {
        let tenant = coffer_domain::TenantId::new_random();
        let key = format!("t/{tenant}/documents/f");
        for path in [
            format!("/coffer/storage/files/{key}"),
            format!("/storage/files/{key}"),
        ] {
            let (bucket, parsed) =
                parse_path("/coffer", &path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!((bucket.as_str(), parsed.as_str()), ("files", key.as_str()));
        }
        for bad in [
            format!("/other/files/{key}"),
            "/storage/files".to_owned(),
            format!("/storage/files/t/{tenant}/%2E%2E/x"),
            format!("/storage/Files/{key}"),
        ] {
            assert!(
                matches!(
                    parse_path("/coffer", &bad),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn length_mismatches_pick_their_status() {
        let longer = SignatureError::ContentLengthMismatch {
            expected: 5,
            actual: 6,
        };
        let shorter = SignatureError::ContentLengthMismatch {
            expected: 5,
            actual: 4,
        };
        assert_eq!((longer.status(), shorter.status()), (413, 400));
        assert_eq!(SignatureError::MissingContentLength.status(), 411);
    }
}
