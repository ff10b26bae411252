//! Multipart uploads driven by the client through presigned part URLs (and
//! by [`crate::upload`] for streamed bodies).

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as SdkPart, ServerSideEncryption};
use coffer_domain::ContentType;
use coffer_ports::{ObjectLocation, UploadedPart};

use crate::S3Error;

pub(crate) async fn create(
    client: &aws_sdk_s3::Client,
    sse: bool,
    location: &ObjectLocation,
    content_type: &ContentType,
) -> Result<String, S3Error> {
    let out = client
        .create_multipart_upload()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .content_type(content_type.as_str())
        .set_server_side_encryption(sse.then_some(ServerSideEncryption::Aes256))
        .send()
        .await
        .map_err(|e| S3Error::sdk("CreateMultipartUpload", e))?;
    out.upload_id()
        .map(str::to_owned)
        .ok_or(S3Error::Unexpected {
            operation: "CreateMultipartUpload",
            detail: "no upload id".to_owned(),
        })
}

fn part_number(operation: &'static str, number: Option<i32>) -> Result<u16, S3Error> {
    number
        .and_then(|n| u16::try_from(n).ok())
        .ok_or(S3Error::Unexpected {
            operation,
            detail: format!("part number {number:?} out of range"),
        })
}

pub(crate) async fn list_parts(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    upload_id: &str,
) -> Result<Vec<UploadedPart>, S3Error> {
    let mut parts = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_parts()
            .bucket(location.bucket().as_str())
            .key(location.key().as_str())
            .upload_id(upload_id)
            .set_part_number_marker(marker.take())
            .send()
            .await
            .map_err(|e| S3Error::sdk("ListParts", e))?;
        for part in out.parts() {
            parts.push(UploadedPart {
                part_number: part_number("ListParts", part.part_number())?,
                etag: part.e_tag().unwrap_or_default().to_owned(),
                size: part
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or_default(),
            });
        }
        match out.next_part_number_marker() {
            Some(next) if out.is_truncated() == Some(true) => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    parts.sort_by_key(|p| p.part_number);
    Ok(parts)
}

pub(crate) async fn complete(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    upload_id: &str,
    mut parts: Vec<UploadedPart>,
) -> Result<(), S3Error> {
    if parts.is_empty() {
        return Err(S3Error::Refused(
            "a multipart upload needs at least one part".to_owned(),
        ));
    }
    parts.sort_by_key(|p| p.part_number);
    let parts = parts
        .into_iter()
        .map(|p| {
            SdkPart::builder()
                .part_number(i32::from(p.part_number))
                .e_tag(p.etag)
                .build()
        })
        .collect();
    client
        .complete_multipart_upload()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
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

pub(crate) async fn abort(
    client: &aws_sdk_s3::Client,
    location: &ObjectLocation,
    upload_id: &str,
) -> Result<(), S3Error> {
    match client
        .abort_multipart_upload()
        .bucket(location.bucket().as_str())
        .key(location.key().as_str())
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match S3Error::sdk("AbortMultipartUpload", e) {
            err if err.code() == Some("NoSuchUpload") || err.status() == Some(404) => Ok(()),
            err => Err(err),
        },
    }
}
