//! An [`ObjectStore`] that times every call of the store it wraps, for the
//! operator's `coffer_store_call_duration_seconds{call, outcome}` histogram.
//! A streamed call is timed until its answer begins, not while its body flows.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use coffer_domain::{BucketName, ContentType};
use coffer_ports::{
    BucketSpec, ByteRange, ByteStream, GetObject, LockEnforcement, ObjectList, ObjectLocation,
    ObjectLock, ObjectMeta, ObjectPrefix, ObjectStore, PresignGet, PresignPart, PresignPut,
    PresignedRequest, StoreError, UploadedPart,
};
use prometheus::{HistogramOpts, HistogramVec};

/// The histogram of store calls, by `call` and `outcome` (`ok`, `error`).
///
/// # Errors
/// Invalid options (a bug).
pub fn histogram() -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(
        HistogramOpts::new(
            "coffer_store_call_duration_seconds",
            "Object store calls until their answer begins, by call and outcome",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]),
        &["call", "outcome"],
    )
}

/// `inner`, each call observed in `calls`.
pub struct TimedStore {
    inner: Arc<dyn ObjectStore>,
    calls: HistogramVec,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedStore").finish_non_exhaustive()
    }
}

impl TimedStore {
    pub fn wrap(inner: Arc<dyn ObjectStore>, calls: &HistogramVec) -> Arc<dyn ObjectStore> {
        Arc::new(Self {
            inner,
            calls: calls.clone(),
        })
    }

    async fn timed<T>(
        &self,
        call: &'static str,
        run: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = run.await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.calls
            .with_label_values(&[call, outcome])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl ObjectStore for TimedStore {
    async fn presign_put(&self, request: PresignPut) -> Result<PresignedRequest, StoreError> {
        self.timed("presign_put", self.inner.presign_put(request))
            .await
    }

    async fn presign_get(&self, request: PresignGet) -> Result<PresignedRequest, StoreError> {
        self.timed("presign_get", self.inner.presign_get(request))
            .await
    }

    async fn head(&self, location: &ObjectLocation) -> Result<ObjectMeta, StoreError> {
        self.timed("head", self.inner.head(location)).await
    }

    async fn delete(&self, location: &ObjectLocation) -> Result<(), StoreError> {
        self.timed("delete", self.inner.delete(location)).await
    }

    async fn put_stream(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
        body: ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        self.timed(
            "put_stream",
            self.inner.put_stream(location, content_type, body),
        )
        .await
    }

    async fn get_stream(
        &self,
        location: &ObjectLocation,
        range: Option<ByteRange>,
    ) -> Result<GetObject, StoreError> {
        self.timed("get_stream", self.inner.get_stream(location, range))
            .await
    }

    async fn list(
        &self,
        prefix: &ObjectPrefix,
        continuation: Option<String>,
        limit: u32,
    ) -> Result<ObjectList, StoreError> {
        self.timed("list", self.inner.list(prefix, continuation, limit))
            .await
    }

    async fn create_multipart(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
    ) -> Result<String, StoreError> {
        self.timed(
            "create_multipart",
            self.inner.create_multipart(location, content_type),
        )
        .await
    }

    async fn presign_part(&self, request: PresignPart) -> Result<PresignedRequest, StoreError> {
        self.timed("presign_part", self.inner.presign_part(request))
            .await
    }

    async fn list_parts(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError> {
        self.timed("list_parts", self.inner.list_parts(location, upload_id))
            .await
    }

    async fn complete_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectMeta, StoreError> {
        self.timed(
            "complete_multipart",
            self.inner.complete_multipart(location, upload_id, parts),
        )
        .await
    }

    async fn copy(
        &self,
        from: &ObjectLocation,
        to: &ObjectLocation,
    ) -> Result<ObjectMeta, StoreError> {
        self.timed("copy", self.inner.copy(from, to)).await
    }

    async fn abort_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        self.timed(
            "abort_multipart",
            self.inner.abort_multipart(location, upload_id),
        )
        .await
    }

    async fn ensure_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError> {
        self.timed("ensure_bucket", self.inner.ensure_bucket(spec))
            .await
    }

    async fn remove_bucket(&self, bucket: &BucketName) -> Result<(), StoreError> {
        self.timed("remove_bucket", self.inner.remove_bucket(bucket))
            .await
    }

    async fn bucket_exists(&self, bucket: &BucketName) -> Result<bool, StoreError> {
        self.timed("bucket_exists", self.inner.bucket_exists(bucket))
            .await
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        self.timed("check_ready", self.inner.check_ready()).await
    }

    async fn apply_lock(
        &self,
        location: &ObjectLocation,
        lock: &ObjectLock,
        bypass_governance: bool,
    ) -> Result<LockEnforcement, StoreError> {
        self.timed(
            "apply_lock",
            self.inner.apply_lock(location, lock, bypass_governance),
        )
        .await
    }
}
