//! [`ObjectStore`] for [`FsStore`]. Every method maps its location's key to a
//! path through [`crate::layout`]; the key lies under its tenant's prefix
//! because an [`ObjectLocation`] cannot be built otherwise. `list` builds the
//! prefix from the tenant and walks that tenant's directory only.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::{BucketName, ContentType};
use coffer_ports::{
    BucketSpec, ByteRange, ByteStream, GetObject, LockEnforcement, ObjectList, ObjectLocation,
    ObjectLock, ObjectMeta, ObjectPrefix, ObjectStore, PresignGet, PresignPart, PresignPut,
    PresignedRequest, StoreError, UploadedPart,
};

use crate::error::{FsError, blocking};
use crate::multipart::{self, UploadRecord};
use crate::store::FsStore;
use crate::write::{self, Expect, sync_dir};
use crate::{list, read};

/// The most keys one `list` call returns, as in S3.
const MAX_LIST: u32 = 1000;

#[async_trait]
impl ObjectStore for FsStore {
    async fn presign_put(&self, request: PresignPut) -> Result<PresignedRequest, StoreError> {
        Ok(self.presign_put_url(&request)?)
    }

    async fn presign_get(&self, request: PresignGet) -> Result<PresignedRequest, StoreError> {
        Ok(self.presign_get_url(&request)?)
    }

    async fn head(&self, location: &ObjectLocation) -> Result<ObjectMeta, StoreError> {
        let (bucket_dir, path) = self.paths(location.bucket(), location.key())?;
        Ok(read::head(self.layout(), bucket_dir, path).await?)
    }

    async fn delete(&self, location: &ObjectLocation) -> Result<(), StoreError> {
        let (bucket_dir, path) = self.paths(location.bucket(), location.key())?;
        Ok(blocking(move || delete_object(&bucket_dir, &path)).await?)
    }

    async fn put_stream(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
        body: ByteStream,
    ) -> Result<ObjectMeta, StoreError> {
        let (bucket_dir, path) = self.paths(location.bucket(), location.key())?;
        if !bucket_dir.is_dir() {
            return Err(FsError::NoSuchBucket(location.bucket().to_string()).into());
        }
        let layout = self.layout().clone();
        let received = write::receive(&layout, body, Expect::default()).await?;
        let content_type = content_type.to_string();
        Ok(
            blocking(move || write::commit(&layout, received, &bucket_dir, &path, &content_type))
                .await?,
        )
    }

    async fn get_stream(
        &self,
        location: &ObjectLocation,
        range: Option<ByteRange>,
    ) -> Result<GetObject, StoreError> {
        let (bucket_dir, path) = self.paths(location.bucket(), location.key())?;
        Ok(read::get(self.layout(), bucket_dir, path, range).await?)
    }

    async fn list(
        &self,
        prefix: &ObjectPrefix,
        continuation: Option<String>,
        limit: u32,
    ) -> Result<ObjectList, StoreError> {
        let bucket = prefix.bucket();
        let prefix = prefix.as_str().to_owned();
        if let Some(after) = continuation.as_deref().filter(|a| !a.starts_with(&prefix)) {
            return Err(FsError::Refused(format!(
                "continuation {after:?} is not one of this tenant's listings"
            ))
            .into());
        }
        let bucket_dir = self.layout().bucket_dir(bucket)?;
        let bucket_name = bucket.to_string();
        let want = limit.clamp(1, MAX_LIST) as usize;
        Ok(blocking(move || {
            if !bucket_dir.is_dir() {
                return Err(FsError::NoSuchBucket(bucket_name));
            }
            // The prefix was built from ids by `ObjectPrefix` (no `..`, no
            // empty segment): its segments are directories of the layout.
            let prefix_dir = prefix
                .split('/')
                .filter(|s| !s.is_empty())
                .fold(bucket_dir, |dir, segment| dir.join(segment));
            let mut objects = Vec::with_capacity(want + 1);
            // One more than asked tells whether another page exists.
            list::walk(
                &prefix_dir,
                &prefix,
                continuation.as_deref(),
                want + 1,
                &mut objects,
            )?;
            let more = objects.len() > want;
            objects.truncate(want);
            let next = more
                .then(|| objects.last().map(|o| o.key.to_string()))
                .flatten();
            Ok(ObjectList { objects, next })
        })
        .await?)
    }

    async fn create_multipart(
        &self,
        location: &ObjectLocation,
        content_type: &ContentType,
    ) -> Result<String, StoreError> {
        let (bucket_dir, _) = self.paths(location.bucket(), location.key())?;
        let layout = self.layout().clone();
        let record = UploadRecord {
            bucket: location.bucket().to_string(),
            key: location.key().to_string(),
            content_type: content_type.to_string(),
        };
        let id = blocking(move || {
            if !bucket_dir.is_dir() {
                return Err(FsError::NoSuchBucket(record.bucket));
            }
            multipart::create(&layout, &record)
        })
        .await?;
        Ok(id.to_string())
    }

    async fn presign_part(&self, request: PresignPart) -> Result<PresignedRequest, StoreError> {
        Ok(self.presign_part_url(&request)?)
    }

    async fn list_parts(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError> {
        let upload = self
            .upload(location.bucket(), location.key(), upload_id)
            .await?;
        Ok(blocking(move || multipart::list_parts(&upload.dir)).await?)
    }

    async fn complete_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
        parts: Vec<UploadedPart>,
    ) -> Result<ObjectMeta, StoreError> {
        let (bucket_dir, path) = self.paths(location.bucket(), location.key())?;
        let upload = self
            .upload(location.bucket(), location.key(), upload_id)
            .await?;
        let dir = upload.dir.clone();
        let files = blocking(move || multipart::resolve_parts(&dir, &parts)).await?;
        let layout = self.layout().clone();
        let received = write::receive(&layout, multipart::concat(files), Expect::default()).await?;
        Ok(blocking(move || {
            let content_type = &upload.record.content_type;
            let meta = write::commit(&layout, received, &bucket_dir, &path, content_type)?;
            // The object is committed; a leftover upload dir is only clutter.
            let _ = std::fs::remove_dir_all(&upload.dir);
            Ok(meta)
        })
        .await?)
    }

    /// Through a temp file like any write, so the copy is a new file: a
    /// later write to `from` cannot reach it.
    async fn copy(
        &self,
        from: &ObjectLocation,
        to: &ObjectLocation,
    ) -> Result<ObjectMeta, StoreError> {
        from.same_tenant(to)?;
        let (bucket_dir, path) = self.paths(to.bucket(), to.key())?;
        let source = self.get_stream(from, None).await?;
        let content_type = source
            .content_type
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let layout = self.layout().clone();
        let expect = Expect {
            exact_len: Some(source.total_size),
            ..Expect::default()
        };
        let received = write::receive(&layout, source.body, expect).await?;
        Ok(
            blocking(move || write::commit(&layout, received, &bucket_dir, &path, &content_type))
                .await?,
        )
    }

    async fn abort_multipart(
        &self,
        location: &ObjectLocation,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        match self
            .upload(location.bucket(), location.key(), upload_id)
            .await
        {
            Ok(upload) => Ok(blocking(move || {
                std::fs::remove_dir_all(&upload.dir).map_err(FsError::io("abort upload"))
            })
            .await?),
            Err(FsError::NoSuchUpload(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the bucket's directory (mode 0700) and sweeps its abandoned
    /// multipart uploads. CORS does not apply here: storage URLs are served by
    /// Coffer itself, whose HTTP layer owns CORS.
    async fn ensure_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError> {
        let bucket_dir = self.layout().bucket_dir(&spec.bucket)?;
        let layout = self.layout().clone();
        let bucket = spec.bucket.clone();
        let max_age = Duration::from_secs(u64::from(spec.abort_incomplete_multipart_days) * 86_400);
        Ok(blocking(move || {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&bucket_dir)
                .map_err(FsError::io("create bucket"))?;
            if max_age > Duration::ZERO {
                multipart::sweep(&layout, &bucket, max_age);
            }
            Ok(())
        })
        .await?)
    }

    async fn remove_bucket(&self, bucket: &BucketName) -> Result<(), StoreError> {
        let dir = self.layout().bucket_dir(bucket)?;
        let name = bucket.to_string();
        Ok(blocking(move || {
            if !dir.exists() {
                return Ok(());
            }
            if holds_files(&dir).map_err(FsError::io("read bucket"))? {
                return Err(FsError::Conflict(format!("bucket {name} is not empty")));
            }
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(FsError::io("remove bucket")(e))
                }
                _ => Ok(()),
            }
        })
        .await?)
    }

    async fn bucket_exists(&self, bucket: &BucketName) -> Result<bool, StoreError> {
        let dir = self.layout().bucket_dir(bucket)?;
        Ok(blocking(move || Ok(dir.is_dir())).await?)
    }

    async fn apply_lock(
        &self,
        location: &ObjectLocation,
        _lock: &ObjectLock,
        _bypass_governance: bool,
    ) -> Result<LockEnforcement, StoreError> {
        // The local disk has no object lock: Coffer's own refusal is the only one.
        self.head(location).await?;
        Ok(LockEnforcement::NotSupported)
    }

    async fn check_ready(&self) -> Result<(), StoreError> {
        let probe = self.layout().temp_file();
        blocking(move || {
            std::fs::write(&probe, b"ready")
                .and_then(|()| std::fs::remove_file(&probe))
                .map_err(FsError::io("write to the data dir"))
        })
        .await
        .map_err(|e| {
            StoreError::new(coffer_ports::StoreErrorKind::Unavailable, e.to_string()).with_source(e)
        })
    }
}

/// Removes an object and its sidecar, then the directories it leaves empty
/// (never the bucket itself). Missing objects are fine. Blocking.
fn delete_object(bucket_dir: &Path, path: &Path) -> Result<(), FsError> {
    if !bucket_dir.is_dir() {
        return Err(FsError::NoSuchBucket(bucket_dir.display().to_string()));
    }
    if path.is_dir() {
        // A key prefix of other objects, not an object: nothing to delete.
        return Ok(());
    }
    for file in [path.to_path_buf(), crate::layout::sidecar_path(path)] {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(FsError::io("delete object")(e)),
        }
    }
    let mut dir: Option<PathBuf> = path.parent().map(Path::to_path_buf);
    while let Some(current) = dir.filter(|d| d.starts_with(bucket_dir) && d != bucket_dir) {
        if let Err(e) = std::fs::remove_dir(&current) {
            // Not empty (or already gone): the durable state is what the rename left.
            if e.kind() != std::io::ErrorKind::NotFound {
                return sync_dir(&current);
            }
        }
        dir = current.parent().map(Path::to_path_buf);
    }
    Ok(())
}

/// Whether a bucket directory holds any file (an object, a sidecar, a part)
/// at any depth; empty directories left by deleted objects do not count.
fn holds_files(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if holds_files(&entry.path())? {
                return Ok(true);
            }
        } else {
            return Ok(true);
        }
    }
    Ok(false)
}
