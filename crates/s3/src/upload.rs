//! Streamed uploads with bounded memory: a body that fits in one part goes
//! as a single `PutObject`; a longer one becomes a multipart upload whose
//! parts are read one at a time, with at most `upload_concurrency` of them in
//! flight. A body that fails midway aborts the upload, so no object appears.

use aws_sdk_s3::primitives::ByteStream as SdkStream;
use aws_sdk_s3::types::ServerSideEncryption;
use bytes::{Bytes, BytesMut};
use coffer_domain::ContentType;
use coffer_ports::{ByteStream, ObjectLocation, UploadedPart};
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};

use crate::{S3Error, multipart};

/// What the upload needs to know besides the body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UploadSettings {
    pub sse: bool,
    pub part_size: usize,
    pub concurrency: usize,
}

/// Reads a body into parts of exactly `part_size` bytes (the last may be
/// shorter), splitting chunks that straddle a boundary.
struct PartReader {
    body: ByteStream,
    pending: Bytes,
    part_size: usize,
    done: bool,
}

impl PartReader {
    /// The next part, or `None` at the end of the body. After each part the
    /// reader has looked one chunk ahead, so [`Self::finished`] tells whether
    /// that part was the last.
    async fn next_part(&mut self) -> Result<Option<Bytes>, S3Error> {
        // Allocated at full size once: growing by doubling could overshoot
        // the part size, and untouched capacity costs no resident memory.
        let mut part = BytesMut::with_capacity(self.part_size);
        while part.len() < self.part_size && self.fill().await? {
            let take = self.pending.len().min(self.part_size - part.len());
            part.extend_from_slice(&self.pending.split_to(take));
        }
        self.fill().await?;
        Ok((!part.is_empty()).then(|| part.freeze()))
    }

    /// Makes `pending` non-empty unless the body is over; says which.
    async fn fill(&mut self) -> Result<bool, S3Error> {
        while self.pending.is_empty() && !self.done {
            match self.body.try_next().await.map_err(S3Error::Body)? {
                Some(chunk) => self.pending = chunk,
                None => self.done = true,
            }
        }
        Ok(!self.pending.is_empty())
    }

    fn finished(&self) -> bool {
        self.done && self.pending.is_empty()
    }
}

/// Stores `body`; returns the number of bytes written.
pub(crate) async fn put_stream(
    client: &aws_sdk_s3::Client,
    settings: UploadSettings,
    location: &ObjectLocation,
    content_type: &ContentType,
    body: ByteStream,
) -> Result<u64, S3Error> {
    let mut reader = PartReader {
        body,
        pending: Bytes::new(),
        part_size: settings.part_size,
        done: false,
    };
    let first = reader.next_part().await?.unwrap_or_default();
    if reader.finished() {
        let length = first.len() as u64;
        put_single(client, settings.sse, location, content_type, first).await?;
        return Ok(length);
    }
    let upload_id = multipart::create(client, settings.sse, location, content_type).await?;
    match put_parts(client, settings, location, &upload_id, first, &mut reader).await {
        Ok((parts, length)) => {
            multipart::complete(client, location, &upload_id, parts).await?;
            Ok(length)
        }
        Err(err) => {
            if let Err(abort) = multipart::abort(client, location, &upload_id).await {
                // The bucket's lifecycle rule cleans up what this leaves.
                tracing::warn!(error = %abort, s3.key = %location.key(), "aborting failed upload failed");
            }
            Err(err)
        }
    }
}

async fn put_single(
    client: &aws_sdk_s3::Client,
    sse: bool,
    location: &ObjectLocation,
    content_type: &ContentType,
    bytes: Bytes,
) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .content_type(content_type.as_str())
        .content_length(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        .set_server_side_encryption(sse.then_some(ServerSideEncryption::Aes256))
        .body(SdkStream::from(bytes))
        .send()
        .await
        .map_err(|e| S3Error::sdk("PutObject", e))?;
    Ok(())
}

async fn put_parts(
    client: &aws_sdk_s3::Client,
    settings: UploadSettings,
    location: &ObjectLocation,
    upload_id: &str,
    first: Bytes,
    reader: &mut PartReader,
) -> Result<(Vec<UploadedPart>, u64), S3Error> {
    let mut in_flight = FuturesUnordered::new();
    let mut parts = Vec::new();
    let mut length = 0u64;
    let mut number: u16 = 0;
    let mut next = Some(first);
    while let Some(bytes) = next.take() {
        number = number
            .checked_add(1)
            .filter(|n| *n <= 10_000)
            .ok_or_else(|| {
                S3Error::Refused(
                    "body needs more than 10 000 parts; raise part_size_bytes".to_owned(),
                )
            })?;
        length += bytes.len() as u64;
        in_flight.push(upload_part(client, location, upload_id, number, bytes));
        // Read the next part only once a slot is free: this is the memory bound.
        while in_flight.len() >= settings.concurrency {
            if let Some(done) = in_flight.next().await {
                parts.push(done?);
            }
        }
        next = reader.next_part().await?;
    }
    while let Some(done) = in_flight.next().await {
        parts.push(done?);
    }
    Ok((parts, length))
}

async fn upload_part(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    upload_id: &str,
    number: u16,
    bytes: Bytes,
) -> Result<UploadedPart, S3Error> {
    let size = bytes.len() as u64;
    let out = client
        .upload_part()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .upload_id(upload_id)
        .part_number(i32::from(number))
        .content_length(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        .body(SdkStream::from(bytes))
        .send()
        .await
        .map_err(|e| S3Error::sdk("UploadPart", e))?;

    let etag = out.e_tag().ok_or(S3Error::Unexpected {
        operation: "UploadPart",
        detail: "no ETag".to_owned(),
    })?;
    Ok(UploadedPart {
        part_number: number,
        etag: etag.to_owned(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(chunks: Vec<&'static [u8]>, part_size: usize) -> PartReader {
        let body: ByteStream = Box::pin(futures::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
        ));
        PartReader {
            body,
            pending: Bytes::new(),
            part_size,
            done: false,
        }
    }

    #[tokio::test]
    async fn parts_are_cut_at_exact_boundaries() {
        let mut r = reader(vec![b"abc", b"defgh", b"", b"ij"], 4);
        let mut parts = Vec::new();
        while let Ok(Some(part)) = r.next_part().await {
            parts.push(part);
        }
        assert_eq!(parts, vec![&b"abcd"[..], &b"efgh"[..], &b"ij"[..]]);
        assert!(r.finished());
    }

    #[tokio::test]
    async fn a_body_of_exactly_one_part_is_finished_after_it() {
        let mut r = reader(vec![b"abcd"], 4);
        let first = r.next_part().await.ok().flatten();
        assert_eq!(first.as_deref(), Some(&b"abcd"[..]));
        // Known without another read: this body goes as one PutObject.
        assert!(r.finished());
        assert!(r.next_part().await.ok().flatten().is_none());
    }
}
