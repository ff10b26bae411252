//! The ObjectStore contract suite — the same cases S3 passes — on the local
//! disk, with presigned URLs served by the test storage route.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_contract::object_store::Harness;
use coffer_domain::{BucketName, ContentType};
use coffer_fs::FsStore;
use coffer_ports::{
    BucketSpec, ByteRange, ByteStream, GetObject, LockEnforcement, ObjectList, ObjectLocation,
    ObjectLock, ObjectMeta, ObjectPrefix, ObjectStore, PresignGet, PresignPart, PresignPut,
    PresignedRequest, StoreError, UploadedPart,
};

use crate::server::{self, TestStore};
use crate::support::BUCKET;

async fn contract_store() -> (Arc<dyn ObjectStore>, Harness) {
    let test = server::start();
    let harness = Harness::new(BucketName::new(BUCKET).unwrap(), None);
    test.store
        .ensure_bucket(&harness.bucket_spec())
        .await
        .unwrap();
    (Arc::new(Owned(test)), harness)
}

coffer_contract::object_store_contract!(contract_store);

/// The store, owning its temp data dir so the dir goes when the case ends.
struct Owned(TestStore);

impl Owned {
    fn store(&self) -> &FsStore {
        &self.0.store
    }
}

#[async_trait]
impl ObjectStore for Owned {
    async fn presign_put(&self, request: PresignPut) -> Result<PresignedRequest, StoreError> {
        self.store().presign_put(request).await
    }
    async fn presign_get(&self, request: PresignGet) -> Result<PresignedRequest, StoreError> {
        self.store().presign_get(request).await
    }
    async fn head(&self, location: &ObjectLocation) -> Result<ObjectMeta, StoreError> {
        self.store().head(location).await
    }
    async fn delete(&self, location: &ObjectLocation) -> Result<(), StoreError> {
        self.store().delete(location).await
    }
    async fn put_stream(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
        body: ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        self.store().put_stream(location, content_type, body).await
    }
    async fn get_stream(
        &self,
        location: &ObjectLocation,
        range: Option<ByteRange>,
    ) -> Result<GetObject, StoreError> {
        self.store().get_stream(location, range).await
    }
    async fn list(
        &self,
        prefix: &ObjectPrefix,
        continuation: Option<String>,
        limit: u32,
    ) -> Result<ObjectList, StoreError> {
        self.store().list(prefix, continuation, limit).await
    }
    async fn create_multipart(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
    ) -> Result<String, StoreError> {
        self.store().create_multipart(location, content_type).await
    }
    async fn presign_part(&self, request: PresignPart) -> Result<PresignedRequest, StoreError> {
        self.store().presign_part(request).await
    }
    async fn list_parts(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError> {
        self.store().list_parts(location, upload_id).await
    }
    async fn complete_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectMeta, StoreError> {
        self.store()
            .complete_multipart(location, upload_id, parts)
            .await
    }
    async fn copy(
        &self,
        from: &ObjectLocation,
        to: &ObjectLocation,
    ) -> Result<ObjectMeta, StoreError> {
        self.store().copy(from, to).await
    }
    async fn abort_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        self.store().abort_multipart(location, upload_id).await
    }
    async fn ensure_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError> {
        self.store().ensure_bucket(spec).await
    }
    async fn remove_bucket(&self, bucket: &coffer_domain::BucketName) -> Result<(), StoreError> {
        self.store().remove_bucket(bucket).await
    }
    async fn bucket_exists(&self, bucket: &coffer_domain::BucketName) -> Result<bool, StoreError> {
        self.store().bucket_exists(bucket).await
    }
    async fn check_ready(&self) -> Result<(), StoreError> {
        self.store().check_ready().await
    }
    async fn apply_lock(
        &self,
        location: &ObjectLocation,
        lock: &ObjectLock,
        bypass_governance: bool,
    ) -> Result<LockEnforcement, StoreError> {
        self.store()
            .apply_lock(location, lock, bypass_governance)
            .await
    }
}
