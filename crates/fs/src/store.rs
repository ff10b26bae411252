//! The store itself: opening a data dir, and the HTTP-facing half (authorise
//! a storage URL, then stream the upload or download it allows).

use std::fmt;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_domain::{BucketName, ObjectKey};
use time::OffsetDateTime;

use crate::error::{FsError, blocking};
use crate::layout::Layout;
use crate::multipart::{self, Upload};
use crate::signature::{self, SignatureError, StorageAccess};
use crate::signing_key::SigningKey;

/// Temp files older than this are leftovers of a crash, swept at open.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Where the store keeps its data and how clients reach its URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// The data dir (`COFFER__DATA_DIR`); objects go under `objects/`.
    pub data_dir: PathBuf,
    /// The base URL clients reach Coffer at (`COFFER__SERVER__PUBLIC_URL`),
    /// e.g. `http://127.0.0.1:8080`; storage URLs are `{public_url}/storage/…`.
    pub public_url: String,
}

/// An [`coffer_ports::ObjectStore`] on the local disk. Cheap to clone.
#[derive(Clone)]
pub struct FsStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) layout: Layout,
    pub(crate) signing_key: SigningKey,
    /// `public_url` without a trailing slash.
    pub(crate) public_url: String,
    /// The path part of `public_url` (`""` when it has none).
    pub(crate) base_path: String,
}

impl fmt::Debug for FsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsStore")
            .field("data_dir", &self.inner.layout.root())
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

impl FsStore {
    /// Opens (creating if needed) the store in `config.data_dir`: its
    /// directories (mode 0700), its signing key (0600, created on first use),
    /// and sweeps temp files left by a crash.
    ///
    /// # Errors
    /// The data dir cannot be created, the key is unreadable or readable by
    /// others, or `public_url` is not an `http(s)://` URL.
    pub fn open(config: FsConfig) -> Result<Self, FsError> {
        let public_url = config.public_url.trim_end_matches('/').to_owned();
        let base_path = public_url
            .strip_prefix("http://")
            .or_else(|| public_url.strip_prefix("https://"))
            .ok_or_else(|| {
                FsError::Refused(format!(
                    "public URL {public_url:?} must start with http:// or https://"
                ))
            })?
            .split_once('/')
            .map(|(_, path)| format!("/{path}"))
            .unwrap_or_default();
        let layout = Layout::new(config.data_dir);
        let mut dirs = DirBuilder::new();
        dirs.recursive(true).mode(0o700);
        for dir in [
            layout.root().to_path_buf(),
            layout.objects(),
            layout.tmp(),
            layout.uploads(),
        ] {
            dirs.create(&dir)
                .map_err(FsError::io(format!("create {}", dir.display())))?;
        }
        sweep_temp(&layout.tmp());
        let signing_key = SigningKey::load_or_create(&layout.keys())?;
        Ok(Self {
            inner: Arc::new(Inner {
                layout,
                signing_key,
                public_url,
                base_path,
            }),
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.inner.layout.root()
    }

    /// Checks a request to a storage URL (`PUT`/`GET
    /// {public_url}/storage/{bucket}/{key}?…`) before its body is read:
    /// signature, expiry, method, and for an upload the `Content-Type`,
    /// `Content-Length` and checksum headers against what was signed.
    /// `header` looks a request header up by lowercase name.
    ///
    /// The route answers an error with [`SignatureError::status`]; on success
    /// it calls [`FsStore::serve_put`] or [`FsStore::serve_get`].
    ///
    /// # Errors
    /// See [`SignatureError`] for each refusal and its status.
    pub fn authorize<'h>(
        &self,
        method: &str,
        path: &str,
        query: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<StorageAccess, SignatureError> {
        self.authorize_at(OffsetDateTime::now_utc(), method, path, query, header)
    }

    /// [`FsStore::authorize`] at a given time.
    ///
    /// # Errors
    /// See [`SignatureError`].
    pub fn authorize_at<'h>(
        &self,
        now: OffsetDateTime,
        method: &str,
        path: &str,
        query: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<StorageAccess, SignatureError> {
        signature::authorize(
            &self.inner.signing_key,
            &self.inner.base_path,
            now,
            method,
            path,
            query,
            header,
        )
    }

    /// The multipart upload `upload_id` of `bucket`/`key`.
    pub(crate) async fn upload(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
        upload_id: &str,
    ) -> Result<Upload, FsError> {
        let layout = self.layout().clone();
        let (bucket, key, id) = (bucket.clone(), key.clone(), upload_id.to_owned());
        blocking(move || multipart::load(&layout, &id, &bucket, &key)).await
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    pub(crate) fn paths(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<(PathBuf, PathBuf), FsError> {
        let layout = self.layout();
        Ok((layout.bucket_dir(bucket)?, layout.object_path(bucket, key)?))
    }
}

fn sweep_temp(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
