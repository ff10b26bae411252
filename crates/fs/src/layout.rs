//! Where things live under the data dir, and the one place a key becomes a path.
//!
//! ```text
//! <data_dir>/objects/<bucket>/t/<tenant>/<category>/<file>       object bytes
//! <data_dir>/objects/<bucket>/t/<tenant>/<category>/<file>~meta  its sidecar (JSON)
//! <data_dir>/uploads/<upload-id>/upload.json                     a multipart upload
//! <data_dir>/uploads/<upload-id>/part-00001-<sha256>             one of its parts
//! <data_dir>/tmp/<uuid>                                          writes in flight
//! <data_dir>/keys/storage-signing.key                            URL signing key (0600)
//! ```
//!
//! Sidecars carry a `~`, which no key segment may hold, so a sidecar can never
//! be taken for an object nor an object for a sidecar.

use std::path::{Path, PathBuf};

use coffer_domain::{BucketName, ObjectKey};
use uuid::Uuid;

use crate::error::FsError;

const SIDECAR_SUFFIX: &str = "~meta";

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub(crate) fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// A fresh, unique path for a write in flight. It lives under the data dir
    /// so the final `rename` stays on one filesystem and is atomic.
    pub(crate) fn temp_file(&self) -> PathBuf {
        self.tmp().join(Uuid::new_v4().to_string())
    }

    pub(crate) fn bucket_dir(&self, bucket: &BucketName) -> Result<PathBuf, FsError> {
        let name = bucket.as_str();
        if !is_safe_segment(name) {
            return Err(FsError::UnsafeKey(name.to_owned()));
        }
        Ok(self.objects().join(name))
    }

    /// The object's file: the bucket dir joined with every key segment, each
    /// re-checked, so no key can reach outside its bucket even if the domain's
    /// validation were ever loosened.
    pub(crate) fn object_path(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<PathBuf, FsError> {
        let mut path = self.bucket_dir(bucket)?;
        for segment in key.as_str().split('/') {
            if !is_safe_segment(segment) {
                return Err(FsError::UnsafeKey(key.to_string()));
            }
            path.push(segment);
        }
        Ok(path)
    }

    pub(crate) fn upload_dir(&self, upload_id: Uuid) -> PathBuf {
        self.uploads().join(upload_id.to_string())
    }
}

/// The sidecar that holds an object's checksum and type.
pub(crate) fn sidecar_path(object: &Path) -> PathBuf {
    let mut name = object.file_name().unwrap_or_default().to_os_string();
    name.push(SIDECAR_SUFFIX);
    object.with_file_name(name)
}

/// A name that can be a key segment: ASCII `[A-Za-z0-9._-]`, not empty, `.` or `..`.
pub(crate) fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_domain::TenantId;

    #[test]
    fn keys_map_below_their_bucket() {
        let layout = Layout::new(PathBuf::from("/data"));
        let tenant = TenantId::new_random();
        let key = ObjectKey::parse(format!("t/{tenant}/documents/a.b")).ok();
        let bucket = BucketName::new("files").ok();
        let path = key
            .zip(bucket)
            .and_then(|(k, b)| layout.object_path(&b, &k).ok());
        assert_eq!(
            path,
            Some(PathBuf::from(format!(
                "/data/objects/files/t/{tenant}/documents/a.b"
            )))
        );
        assert_eq!(
            path.map(|p| sidecar_path(&p)),
            Some(PathBuf::from(format!(
                "/data/objects/files/t/{tenant}/documents/a.b~meta"
            )))
        );
    }

    #[test]
    fn odd_segments_are_refused() {
        for bad in ["", ".", "..", "a~meta", "a b", "ä", "a\\b"] {
            assert!(!is_safe_segment(bad), "{bad:?}");
        }
        assert!(is_safe_segment("a.b-c_d"));
    }
}
