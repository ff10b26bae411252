//! Server-side copies: the bytes stay in the store. One `CopyObject` up to
//! the single-copy limit (5 GiB on AWS), `UploadPartCopy` in ranges above it.

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart as SdkPart, MetadataDirective, ServerSideEncryption,
};
use coffer_domain::ContentType;
use coffer_ports::{ObjectLocation, ObjectMeta};

use crate::{S3Error, multipart};

/// How copies are made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopySettings {
    pub sse: bool,
    /// Objects larger than this are copied in parts of `part_size`.
    pub single_limit: u64,
    pub part_size: u64,
}

fn source_of(location: &ObjectLocation) -> String {
    // Keys are `[A-Za-z0-9._-/]` (ObjectKey::parse): nothing to percent-encode.
    format!("{}/{}", location.bucket(), location.key())
}

pub(crate) async fn copy(
    client: &aws_sdk_s3::Client,
    settings: CopySettings,
    source: &ObjectMeta,
    from: &ObjectLocation,
    to: &ObjectLocation,
) -> Result<(), S3Error> {
    if source.size <= settings.single_limit {
        client
            .copy_object()
            .copy_source(source_of(from))
            .bucket(to.bucket().as_str())
            .key(to.key().as_str())
            .metadata_directive(MetadataDirective::Copy)
            .set_server_side_encryption(settings.sse.then_some(ServerSideEncryption::Aes256))
            .send()
            .await
            .map_err(|e| S3Error::sdk("CopyObject", e))?;
        return Ok(());
    }
    let content_type = ContentType::new(
        source
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    )
    .map_err(|e| S3Error::Unexpected {
        operation: "HeadObject",
        detail: format!("source content type: {e}"),
    })?;
    let upload_id = multipart::create(client, settings.sse, to, &content_type).await?;
    match copy_parts(client, settings, source.size, from, to, &upload_id).await {
        Ok(()) => Ok(()),
        Err(err) => {
            if let Err(abort) = multipart::abort(client, to, &upload_id).await {
                tracing::warn!(key = %to.key(), error = %abort, "could not abort a failed copy");
            }
            Err(err)
        }
    }
}

async fn copy_parts(
    client: &aws_sdk_s3::Client,
    settings: CopySettings,
    size: u64,
    from: &ObjectLocation,
    to: &ObjectLocation,
    upload_id: &str,
) -> Result<(), S3Error> {
    let part_size = settings.part_size.max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < size {
        let end = (start + part_size).min(size) - 1;
        let number = i32::try_from(parts.len() + 1).map_err(|_| S3Error::Unexpected {
            operation: "UploadPartCopy",
            detail: "too many parts".to_owned(),
        })?;
        let out = client
            .upload_part_copy()
            .copy_source(source_of(from))
            .copy_source_range(format!("bytes={start}-{end}"))
            .bucket(to.bucket().as_str())
            .key(to.key().as_str())
            .upload_id(upload_id)
            .part_number(number)
            .send()
            .await
            .map_err(|e| S3Error::sdk("UploadPartCopy", e))?;
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .ok_or(S3Error::Unexpected {
                operation: "UploadPartCopy",
                detail: "no ETag".to_owned(),
            })?;
        parts.push(SdkPart::builder().part_number(number).e_tag(etag).build());
        start = end + 1;
    }
    client
        .complete_multipart_upload()
        .bucket(to.bucket().as_str())
        .key(to.key().as_str())
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| S3Error::sdk("CompleteMultipartUpload", e))?;
    Ok(())
}
