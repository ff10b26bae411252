use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::{BucketName, ContentType};
use coffer_ports::{
    BucketSpec, ByteRange, ByteStream, GetObject, LockEnforcement, ObjectList, ObjectLocation,
    ObjectLock, ObjectMeta, ObjectPrefix, ObjectStore, PresignGet, PresignPart, PresignPut,
    PresignedRequest, StoreError, StoreErrorKind, UploadedPart,
};

use crate::copy::CopySettings;
use crate::direct_get::DirectGet;
use crate::lock::LockedBuckets;
use crate::upload::UploadSettings;
use crate::{S3Config, S3Error, bucket, client, copy, lock, multipart, objects, presign, upload};

/// The [`ObjectStore`] on an S3-compatible store.
///
/// It checks no key itself: an [`ObjectLocation`] holds only keys under its
/// tenant's prefix ([`ObjectLocation::new`]), and `list` builds the prefix
/// from the tenant and skips any returned key outside it.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    /// Presigns GET without the SDK's per-call work (`direct_get`).
    direct_get: Option<Arc<DirectGet>>,
    region: String,
    sse: bool,
    upload: UploadSettings,
    copy: CopySettings,
    ready_timeout: Duration,
    /// `Some` when `object_lock` is configured: the buckets known to have it.
    object_lock: Option<LockedBuckets>,
}

impl S3Store {
    /// Builds the client. Sends nothing: an unreachable store shows up in
    /// [`ObjectStore::check_ready`] and in the first call.
    ///
    /// # Errors
    /// [`S3Error::Config`] for an invalid configuration.
    pub async fn new(config: S3Config) -> Result<Self, S3Error> {
        let shared = client::shared_config(&config, config.endpoint.as_ref()).await?;
        let client = client::s3_client(&config, &shared);
        if config.copy_part_size_bytes < S3Config::MIN_PART_SIZE {
            return Err(S3Error::Config(format!(
                "copy_part_size_bytes must be at least {} (S3's smallest part)",
                S3Config::MIN_PART_SIZE
            )));
        }
        let part_size = usize::try_from(config.part_size_bytes)
            .map_err(|_| S3Error::Config("part_size_bytes too large".to_owned()))?;
        Ok(Self {
            direct_get: DirectGet::new(&shared).map(Arc::new),
            client,
            region: config.region,
            sse: config.server_side_encryption,
            upload: UploadSettings {
                sse: config.server_side_encryption,
                part_size,
                concurrency: config.upload_concurrency,
            },
            copy: CopySettings {
                sse: config.server_side_encryption,
                single_limit: config.single_copy_limit_bytes,
                part_size: config.copy_part_size_bytes,
            },
            ready_timeout: config.ready_timeout,
            object_lock: config.object_lock.then(LockedBuckets::default),
        })
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn presign_put(&self, request: PresignPut) -> Result<PresignedRequest, StoreError> {
        Ok(presign::put(&self.client, self.sse, &request).await?)
    }

    async fn presign_get(&self, request: PresignGet) -> Result<PresignedRequest, StoreError> {
        Ok(presign::get(&self.client, self.direct_get.as_deref(), &request).await?)
    }

    async fn head(&self, location: &ObjectLocation) -> Result<ObjectMeta, StoreError> {
        Ok(objects::head(&self.client, location).await?)
    }

    async fn delete(&self, location: &ObjectLocation) -> Result<(), StoreError> {
        if let Some(locked) = &self.object_lock
            && locked
                .is_locked(&self.client, location.bucket().as_str())
                .await?
        {
            // A plain delete would only lay a delete marker over the bytes.
            return Ok(lock::delete_all_versions(&self.client, location).await?);
        }
        Ok(objects::delete(&self.client, location).await?)
    }

    async fn put_stream(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
        body: ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        let size =
            upload::put_stream(&self.client, self.upload, location, content_type, body).await?;
        let meta = objects::head(&self.client, location).await?;
        if meta.size != size {
            return Err(S3Error::Unexpected {
                operation: "PutObject",
                detail: format!("wrote {size} bytes, store holds {}", meta.size),
            }
            .into());
        }
        Ok(meta)
    }

    async fn get_stream(
        &self,
        location: &ObjectLocation,
        range: Option<ByteRange>,
    ) -> Result<GetObject, StoreError> {
        Ok(objects::get(&self.client, location, range).await?)
    }

    async fn list(
        &self,
        prefix: &ObjectPrefix,
        continuation: Option<String>,
        limit: u32,
    ) -> Result<ObjectList, StoreError> {
        // The prefix was built from the tenant, and every key that comes
        // back is re-checked against it.
        Ok(objects::list(&self.client, prefix, continuation, limit).await?)
    }

    async fn create_multipart(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
    ) -> Result<String, StoreError> {
        Ok(multipart::create(&self.client, self.sse, location, content_type).await?)
    }

    async fn presign_part(&self, request: PresignPart) -> Result<PresignedRequest, StoreError> {
        Ok(presign::part(&self.client, &request).await?)
    }

    async fn list_parts(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError> {
        Ok(multipart::list_parts(&self.client, location, upload_id).await?)
    }

    async fn complete_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectMeta, StoreError> {
        multipart::complete(&self.client, location, upload_id, parts).await?;
        Ok(objects::head(&self.client, location).await?)
    }

    async fn copy(
        &self,
        from: &ObjectLocation,
        to: &ObjectLocation,
    ) -> Result<ObjectMeta, StoreError> {
        from.same_tenant(to)?;
        let source = objects::head(&self.client, from).await?;
        copy::copy(&self.client, self.copy, &source, from, to).await?;
        let copied = objects::head(&self.client, to).await?;
        if copied.size != source.size {
            return Err(S3Error::Unexpected {
                operation: "CopyObject",
                detail: format!("copied {} bytes of {}", copied.size, source.size),
            }
            .into());
        }
        Ok(copied)
    }

    async fn abort_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        Ok(multipart::abort(&self.client, location, upload_id).await?)
    }

    async fn ensure_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError> {
        Ok(bucket::ensure(
            &self.client,
            &self.region,
            self.sse,
            self.object_lock.as_ref(),
            spec,
        )
        .await?)
    }

    async fn remove_bucket(&self, bucket: &BucketName) -> Result<(), StoreError> {
        Ok(bucket::remove_if_empty(&self.client, bucket.as_str()).await?)
    }

    async fn bucket_exists(&self, bucket: &BucketName) -> Result<bool, StoreError> {
        Ok(bucket::exists(&self.client, bucket.as_str()).await?)
    }

    async fn apply_lock(
        &self,
        location: &ObjectLocation,
        object_lock: &ObjectLock,
        bypass_governance: bool,
    ) -> Result<LockEnforcement, StoreError> {
        let Some(locked) = &self.object_lock else {
            // Not configured: Coffer's own refusal is the only one.
            self.head(location).await?;
            return Ok(LockEnforcement::NotSupported);
        };
        if !locked
            .is_locked(&self.client, location.bucket().as_str())
            .await?
        {
            self.head(location).await?;
            return Ok(LockEnforcement::NotSupported);
        }
        lock::apply(&self.client, location, object_lock, bypass_governance).await?;
        Ok(LockEnforcement::Enforced)
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        match tokio::time::timeout(self.ready_timeout, bucket::check_ready(&self.client)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("store did not answer within {:?}", self.ready_timeout),
            )),
        }
    }
}
