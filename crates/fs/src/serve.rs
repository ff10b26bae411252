//! Streaming the bytes an authorised storage request allows.

use std::fmt::{self, Display};

use bytes::Bytes;
use coffer_ports::{ByteRange, ByteStream};
use futures::Stream;

use crate::error::{FsError, blocking};
use crate::signature::{GetAccess, PutAccess, PutTarget};
use crate::store::FsStore;
use crate::write::{self, Expect};
use crate::{multipart, read};

/// Why an authorised transfer failed.
///
/// | variant | status | `code()` |
/// |---|---|---|
/// | [`IncompleteBody`](Self::IncompleteBody) | 400 | `incomplete-body` |
/// | [`BadDigest`](Self::BadDigest) | 400 | `bad-digest` |
/// | [`Body`](Self::Body) | 400 | `body-error` |
/// | [`TooLarge`](Self::TooLarge) | 413 | `entity-too-large` |
/// | [`NoSuchKey`](Self::NoSuchKey), [`NoSuchBucket`](Self::NoSuchBucket), [`NoSuchUpload`](Self::NoSuchUpload) | 404 | `no-such-key`, `no-such-bucket`, `no-such-upload` |
/// | [`Conflict`](Self::Conflict) | 409 | `conflict` |
/// | [`RangeNotSatisfiable`](Self::RangeNotSatisfiable) | 416, with `Content-Range: bytes */{size}` | `range-not-satisfiable` |
/// | [`Storage`](Self::Storage) | 500 (503 when the disk is full or read-only) | `storage-error` |
///
/// A failed upload never leaves anything under the key: the body is kept in
/// a temp file until it has been checked, and the temp file is removed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the body ended after {actual} of {expected} bytes")]
    IncompleteBody { expected: u64, actual: u64 },
    #[error("the body does not match its SHA-256 checksum")]
    BadDigest,
    #[error("the request body failed: {0}")]
    Body(String),
    #[error("the body holds more than the {limit} bytes announced")]
    TooLarge { limit: u64 },
    #[error("no such object")]
    NoSuchKey,
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such multipart upload")]
    NoSuchUpload,
    #[error("{0}")]
    Conflict(String),
    #[error("the range selects nothing of the object's {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("storage failed: {0}")]
    Storage(#[source] FsError),
}

impl TransferError {
    pub fn status(&self) -> u16 {
        match self {
            Self::IncompleteBody { .. } | Self::BadDigest | Self::Body(_) => 400,
            Self::TooLarge { .. } => 413,
            Self::NoSuchKey | Self::NoSuchBucket | Self::NoSuchUpload => 404,
            Self::Conflict(_) => 409,
            Self::RangeNotSatisfiable { .. } => 416,
            Self::Storage(e) if e.kind() == coffer_ports::StoreErrorKind::Unavailable => 503,
            Self::Storage(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::IncompleteBody { .. } => "incomplete-body",
            Self::BadDigest => "bad-digest",
            Self::Body(_) => "body-error",
            Self::TooLarge { .. } => "entity-too-large",
            Self::NoSuchKey => "no-such-key",
            Self::NoSuchBucket => "no-such-bucket",
            Self::NoSuchUpload => "no-such-upload",
            Self::Conflict(_) => "conflict",
            Self::RangeNotSatisfiable { .. } => "range-not-satisfiable",
            Self::Storage(_) => "storage-error",
        }
    }
}

impl From<FsError> for TransferError {
    fn from(error: FsError) -> Self {
        match error {
            FsError::LengthMismatch { expected, actual } if actual > expected => {
                Self::TooLarge { limit: expected }
            }
            FsError::LengthMismatch { expected, actual } => {
                Self::IncompleteBody { expected, actual }
            }
            FsError::BadDigest => Self::BadDigest,
            FsError::Body(e) => Self::Body(e),
            FsError::NoSuchKey(_) => Self::NoSuchKey,
            FsError::NoSuchBucket(_) => Self::NoSuchBucket,
            FsError::NoSuchUpload(_) => Self::NoSuchUpload,
            FsError::Conflict(e) => Self::Conflict(e),
            FsError::RangeNotSatisfiable { size } => Self::RangeNotSatisfiable { size },
            other => Self::Storage(other),
        }
    }
}

/// A stored upload: answer `200` with `ETag: {etag}` (multipart clients need
/// it to complete the upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub etag: String,
    pub size: u64,
}

/// A download ready to send: this status, these headers, this body.
pub struct ServedObject {
    /// 200, or 206 for a range.
    pub status: u16,
    /// `Content-Type`, `ETag`, `Accept-Ranges`, and when they apply
    /// `Content-Range` and `Content-Disposition`.
    pub headers: Vec<(&'static str, String)>,
    /// The exact length of `body`. Send it as `Content-Length` with a sized
    /// body (actix-web: `SizedStream`), not chunked.
    pub content_length: u64,
    pub body: ByteStream,
}

impl fmt::Debug for ServedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServedObject")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl FsStore {
    /// Stores the body of an authorised upload, enforcing the signed length
    /// and checksum while it streams. The stream need not be `Send` (actix
    /// payloads are not).
    ///
    /// # Errors
    /// See [`TransferError`]; on any error nothing is stored.
    pub async fn serve_put<S, E>(
        &self,
        access: PutAccess,
        body: S,
    ) -> Result<PutOutcome, TransferError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let layout = self.layout().clone();
        let (bucket_dir, target) = self.paths(&access.bucket, &access.key)?;
        match access.target {
            PutTarget::Object {
                content_type,
                length,
                checksum,
            } => {
                if !bucket_dir.is_dir() {
                    return Err(TransferError::NoSuchBucket);
                }
                let expect = Expect {
                    exact_len: Some(length),
                    max_len: None,
                    checksum,
                };
                let received = write::receive(&layout, body, expect).await?;
                let meta = blocking(move || {
                    write::commit(
                        &layout,
                        received,
                        &bucket_dir,
                        &target,
                        content_type.as_str(),
                    )
                })
                .await?;
                Ok(PutOutcome {
                    etag: meta.etag.unwrap_or_default(),
                    size: meta.size,
                })
            }
            PutTarget::Part {
                upload_id,
                part_number,
                length,
                checksum,
            } => {
                let upload = self
                    .upload(&access.bucket, &access.key, &upload_id.to_string())
                    .await?;
                let expect = Expect {
                    exact_len: Some(length),
                    max_len: None,
                    checksum,
                };
                let received = write::receive(&layout, body, expect).await?;
                let etag =
                    blocking(move || multipart::keep_part(&upload.dir, part_number, received))
                        .await?;
                Ok(PutOutcome { etag, size: length })
            }
        }
    }

    /// Streams an authorised download, or the asked range of it, with the
    /// response headers the URL was signed for.
    ///
    /// # Errors
    /// See [`TransferError`].
    pub async fn serve_get(
        &self,
        access: GetAccess,
        range: Option<ByteRange>,
    ) -> Result<ServedObject, TransferError> {
        let (bucket_dir, path) = self.paths(&access.bucket, &access.key)?;
        let object = read::get(self.layout(), bucket_dir, path, range).await?;
        let length = object
            .range
            .map_or(object.total_size, |(start, end)| end - start + 1);
        let content_type = access
            .response_type
            .or(object.content_type)
            .unwrap_or_else(|| coffer_domain::ContentType::OCTET_STREAM.to_owned());
        let mut headers = vec![
            ("content-type", content_type),
            ("accept-ranges", "bytes".to_owned()),
        ];
        if let Some(etag) = object.etag {
            headers.push(("etag", etag));
        }
        if let Some(disposition) = access.response_disposition {
            headers.push(("content-disposition", disposition));
        }
        if let Some((start, end)) = object.range {
            headers.push((
                "content-range",
                format!("bytes {start}-{end}/{}", object.total_size),
            ));
        }
        Ok(ServedObject {
            status: if object.range.is_some() { 206 } else { 200 },
            headers,
            content_length: length,
            body: object.body,
        })
    }
}

/// Reads a `Range` header of one byte range (`bytes=0-99`, `bytes=100-`,
/// `bytes=-100`); anything else gives `None` and the whole object is sent.
/// Kept for the storage route; the rule itself is the port's.
pub fn parse_range(header: &str) -> Option<ByteRange> {
    ByteRange::parse_header(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_mismatches_map_to_http() {
        let short = TransferError::from(FsError::LengthMismatch {
            expected: 10,
            actual: 3,
        });
        assert_eq!((short.status(), short.code()), (400, "incomplete-body"));
        let long = TransferError::from(FsError::LengthMismatch {
            expected: 10,
            actual: 11,
        });
        assert_eq!((long.status(), long.code()), (413, "entity-too-large"));
        assert_eq!(TransferError::from(FsError::BadDigest).status(), 400);
        assert_eq!(
            TransferError::from(FsError::RangeNotSatisfiable { size: 1 }).status(),
            416
        );
    }
}
