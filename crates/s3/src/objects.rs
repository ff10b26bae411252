//! Reading, describing, listing and deleting single objects.

use aws_sdk_s3::primitives::{ByteStream as SdkStream, DateTime};
use aws_sdk_s3::types::ChecksumMode;
use coffer_domain::{ObjectKey, Sha256Digest};
use coffer_ports::{
    ByteRange, ByteStream, GetObject, ListedObject, ObjectList, ObjectLocation, ObjectMeta,
    ObjectPrefix,
};
use futures::StreamExt;
use time::OffsetDateTime;

use crate::S3Error;

pub(crate) fn timestamp(value: Option<&DateTime>) -> Option<OffsetDateTime> {
    value.and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
}

fn size(operation: &'static str, length: Option<i64>) -> Result<u64, S3Error> {
    length
        .and_then(|l| u64::try_from(l).ok())
        .ok_or(S3Error::Unexpected {
            operation,
            detail: "missing or negative content length".to_owned(),
        })
}

pub(crate) async fn head(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
) -> Result<ObjectMeta, S3Error> {
    let out = client
        .head_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        // Without it S3 leaves the stored checksum out of the answer.
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| S3Error::sdk("HeadObject", e))?;
    Ok(ObjectMeta {
        size: size("HeadObject", out.content_length())?,
        etag: out.e_tag().map(str::to_owned),
        content_type: out.content_type().map(str::to_owned),
        // A multipart object's checksum is a checksum of checksums
        // (`…-3`), which is not the file's SHA-256: it does not parse.
        checksum_sha256: out
            .checksum_sha256()
            .and_then(|c| Sha256Digest::parse(c).ok()),
        last_modified: timestamp(out.last_modified()),
    })
}

pub(crate) async fn delete(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
) -> Result<(), S3Error> {
    match client
        .delete_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // S3 answers 204 for a missing key; some compatible stores say 404.
        // A missing bucket stays an error: that is misconfiguration.
        Err(e) => match S3Error::sdk("DeleteObject", e) {
            err if err.status() == Some(404) && err.code() != Some("NoSuchBucket") => Ok(()),
            err => Err(err),
        },
    }
}

pub(crate) async fn list(
    client: &aws_sdk_s3::Client,
    prefix: &ObjectPrefix,
    continuation: Option<String>,
    limit: u32,
) -> Result<ObjectList, S3Error> {
    let (tenant, bucket) = (prefix.tenant_id(), prefix.bucket());
    let out = client
        .list_objects_v2()
        .bucket(bucket.as_str())
        .prefix(prefix.as_str())
        .max_keys(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
        .set_continuation_token(continuation)
        .send()
        .await
        .map_err(|e| S3Error::sdk("ListObjectsV2", e))?;
    let mut objects = Vec::new();
    for object in out.contents() {
        let Some(raw) = object.key() else { continue };
        // Keys not written by Coffer (or not of this tenant, should the store
        // ignore the prefix) are skipped rather than trusted.
        match ObjectKey::parse(raw) {
            Ok(key)
                if key.ensure_within(tenant).is_ok()
                    && key.as_str().starts_with(prefix.as_str()) =>
            {
                objects.push(ListedObject {
                    key,
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    last_modified: timestamp(object.last_modified()),
                })
            }
            _ => tracing::warn!(
                s3.bucket = %bucket,
                s3.key = raw,
                "skipping listed key that is not a Coffer key of this tenant"
            ),
        }
    }
    let next = if out.is_truncated() == Some(true) {
        out.next_continuation_token().map(str::to_owned)
    } else {
        None
    };
    Ok(ObjectList { objects, next })
}

fn range_header(range: ByteRange) -> String {
    match range {
        ByteRange::Bounded { start, end } => format!("bytes={start}-{end}"),
        ByteRange::From { start } => format!("bytes={start}-"),
        ByteRange::Suffix { len } => format!("bytes=-{len}"),
    }
}

/// `bytes 0-99/1234` → `((0, 99), 1234)`.
fn parse_content_range(value: &str) -> Option<((u64, u64), u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    Some((
        (start.trim().parse().ok()?, end.trim().parse().ok()?),
        total.trim().parse().ok()?,
    ))
}

fn into_port_stream(body: SdkStream) -> ByteStream {
    Box::pin(
        futures::stream::unfold(body, |mut body| async move {
            body.next().await.map(|chunk| (chunk, body))
        })
        .map(|chunk| chunk.map_err(std::io::Error::other)),
    )
}

pub(crate) async fn get(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    range: Option<ByteRange>,
) -> Result<GetObject, S3Error> {
    if let Some(ByteRange::Bounded { start, end }) = range
        && start > end
    {
        return Err(S3Error::Refused(format!("range {start}-{end} is empty")));
    }
    if let Some(ByteRange::Suffix { len: 0 }) = range {
        return Err(S3Error::Refused("empty suffix range".to_owned()));
    }
    let out = client
        .get_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .set_range(range.map(range_header))
        .send()
        .await
        .map_err(|e| S3Error::sdk("GetObject", e))?;
    let length = size("GetObject", out.content_length())?;
    let (total_size, served) = match (range, out.content_range().and_then(parse_content_range)) {
        (Some(_), Some((span, total))) => (total, Some(span)),
        // A range covering the whole object may come back as a plain 200.
        (Some(_), None) => (length, (length > 0).then(|| (0, length - 1))),
        (None, _) => (length, None),
    };
    Ok(GetObject {
        total_size,
        range: served,
        content_type: out.content_type().map(str::to_owned),
        etag: out.e_tag().map(str::to_owned),
        body: into_port_stream(out.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_http_headers() {
        assert_eq!(
            range_header(ByteRange::Bounded { start: 0, end: 9 }),
            "bytes=0-9"
        );
        assert_eq!(range_header(ByteRange::From { start: 5 }), "bytes=5-");
        assert_eq!(range_header(ByteRange::Suffix { len: 3 }), "bytes=-3");
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some(((10, 19), 100))
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
