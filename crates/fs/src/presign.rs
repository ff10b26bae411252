//! Building Coffer's own storage URLs.

use std::collections::BTreeMap;
use std::time::Duration;

use coffer_ports::{ObjectLocation, PresignGet, PresignPart, PresignPut, PresignedRequest};
use time::OffsetDateTime;

use crate::error::FsError;
use crate::params::SignedParams;
use crate::signature::CHECKSUM_HEADER;
use crate::store::FsStore;

/// The longest a storage URL may live (S3's limit for presigned URLs).
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

impl FsStore {
    pub(crate) fn presign_put_url(
        &self,
        request: &PresignPut,
    ) -> Result<PresignedRequest, FsError> {
        let expires_at = expiry(request.now, request.expires_in)?;
        let params = SignedParams {
            expires: expires_at.unix_timestamp(),
            content_type: Some(request.content_type.to_string()),
            content_length: Some(request.content_length),
            checksum: request.checksum_sha256,
            ..SignedParams::default()
        };
        let mut headers = BTreeMap::from([
            ("content-type".to_owned(), request.content_type.to_string()),
            (
                "content-length".to_owned(),
                request.content_length.to_string(),
            ),
        ]);
        if let Some(checksum) = request.checksum_sha256 {
            headers.insert(CHECKSUM_HEADER.to_owned(), checksum.to_base64());
        }
        Ok(self.signed("PUT", &request.location, &params, headers, expires_at))
    }

    pub(crate) fn presign_get_url(
        &self,
        request: &PresignGet,
    ) -> Result<PresignedRequest, FsError> {
        let expires_at = expiry(request.now, request.expires_in)?;
        let params = SignedParams {
            expires: expires_at.unix_timestamp(),
            response_disposition: request.content_disposition.clone(),
            response_type: request.content_type.as_ref().map(ToString::to_string),
            ..SignedParams::default()
        };
        Ok(self.signed(
            "GET",
            &request.location,
            &params,
            BTreeMap::new(),
            expires_at,
        ))
    }

    pub(crate) fn presign_part_url(
        &self,
        request: &PresignPart,
    ) -> Result<PresignedRequest, FsError> {
        let part_number = request.part_number;
        if !(1..=10_000).contains(&part_number) {
            return Err(FsError::Refused(format!(
                "part number {part_number} is outside 1–10000"
            )));
        }
        let expires_at = expiry(request.now, request.expires_in)?;
        let params = SignedParams {
            expires: expires_at.unix_timestamp(),
            content_length: Some(request.content_length),
            checksum: request.checksum_sha256,
            upload_id: Some(request.upload_id.clone()),
            part_number: Some(part_number),
            ..SignedParams::default()
        };
        let mut headers = BTreeMap::from([(
            "content-length".to_owned(),
            request.content_length.to_string(),
        )]);
        if let Some(checksum) = request.checksum_sha256 {
            headers.insert(CHECKSUM_HEADER.to_owned(), checksum.to_base64());
        }
        Ok(self.signed("PUT", &request.location, &params, headers, expires_at))
    }

    fn signed(
        &self,
        method: &str,
        location: &ObjectLocation,
        params: &SignedParams,
        headers: BTreeMap<String, String>,
        expires_at: OffsetDateTime,
    ) -> PresignedRequest {
        let (bucket, key) = (location.bucket().as_str(), location.key().as_str());
        let signature = params.sign(&self.inner.signing_key, method, bucket, key);
        PresignedRequest {
            method: method.to_owned(),
            url: format!(
                "{}/storage/{bucket}/{key}?{}",
                self.inner.public_url,
                params.to_query(&signature)
            ),
            headers,
            expires_at,
        }
    }
}

fn expiry(now: OffsetDateTime, expires_in: Duration) -> Result<OffsetDateTime, FsError> {
    if expires_in.is_zero() || expires_in > MAX_EXPIRY {
        return Err(FsError::Refused(format!(
            "a storage URL must live between 1 second and {} days",
            MAX_EXPIRY.as_secs() / 86_400
        )));
    }
    time::Duration::try_from(expires_in)
        .ok()
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| FsError::Refused("expiry out of range".to_owned()))
}
