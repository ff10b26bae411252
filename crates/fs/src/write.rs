//! How bytes reach the disk: streamed into a temp file while being counted
//! and hashed, fsync'd, then renamed over the real path and the directory
//! fsync'd. Until the rename nothing exists under the real key, so a body that
//! fails midway, a mismatch or a crash never leaves half an object.

use std::fmt::Display;
use std::fs::{DirBuilder, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use coffer_domain::Sha256Digest;
use coffer_ports::ObjectMeta;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use crate::error::FsError;
use crate::layout::Layout;
use crate::sidecar::{self, Sidecar, etag_of};

/// Every file Coffer writes under the data directory (object bytes, parts,
/// sidecars, upload records) is readable by its owner only, as are the
/// directories (0700): the bytes are tenants' files, and another local user
/// has no business reading them.
pub(crate) const FILE_MODE: u32 = 0o600;
pub(crate) const DIR_MODE: u32 = 0o700;

/// Creates (or truncates) `path` with [`FILE_MODE`]. Blocking.
pub(crate) fn create_private(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates the directory `path` (not its parents) with [`DIR_MODE`]. Blocking.
pub(crate) fn create_private_dir(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)
}

/// What the body must be; checked while it streams, before anything is kept.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expect {
    pub exact_len: Option<u64>,
    pub max_len: Option<u64>,
    pub checksum: Option<Sha256Digest>,
}

/// A file in `tmp/` that removes itself unless it was committed.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file now lives elsewhere under another name; nothing to clean up.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a leftover is invisible to readers and swept at open.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A body safely on disk, not yet visible under any key.
#[derive(Debug)]
pub(crate) struct Received {
    pub temp: TempFile,
    pub size: u64,
    pub sha256: Sha256Digest,
}

/// Streams `body` into a temp file, enforcing `expect` as it goes.
pub(crate) async fn receive<S, E>(
    layout: &Layout,
    body: S,
    expect: Expect,
) -> Result<Received, FsError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let temp = TempFile::new(layout.temp_file());
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(temp.path())
        .await
        .map_err(FsError::io("create temp file"))?;
    let limit = expect.exact_len.or(expect.max_len);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| FsError::Body(e.to_string()))?;
        size = size.saturating_add(chunk.len() as u64);
        if let Some(limit) = limit.filter(|limit| size > *limit) {
            return Err(FsError::LengthMismatch {
                expected: limit,
                actual: size,
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(FsError::io("write temp file"))?;
    }
    file.flush().await.map_err(FsError::io("write temp file"))?;
    file.sync_all()
        .await
        .map_err(FsError::io("fsync temp file"))?;
    if let Some(expected) = expect.exact_len.filter(|expected| *expected != size) {
        return Err(FsError::LengthMismatch {
            expected,
            actual: size,
        });
    }
    let sha256 = Sha256Digest::from_bytes(hasher.finalize().into());
    if expect.checksum.is_some_and(|c| c != sha256) {
        return Err(FsError::BadDigest);
    }
    Ok(Received { temp, size, sha256 })
}

/// Makes `received` the object at `target` (inside `bucket_dir`), with its
/// sidecar. Blocking.
pub(crate) fn commit(
    layout: &Layout,
    received: Received,
    bucket_dir: &Path,
    target: &Path,
    content_type: &str,
) -> Result<ObjectMeta, FsError> {
    let parent = target
        .parent()
        .ok_or_else(|| FsError::Refused("an object needs a parent directory".to_owned()))?;
    let inode = std::fs::metadata(received.temp.path())
        .map_err(FsError::io("stat temp file"))?
        .ino();
    rename_into(received.temp.path(), parent, bucket_dir, target)?;
    received.temp.disarm();
    let sha256 = received.sha256.to_hex();
    let record = Sidecar {
        size: received.size,
        sha256: sha256.clone(),
        content_type: content_type.to_owned(),
        inode,
    };
    sidecar::write(layout, target, &record)?;
    sync_dir(parent)?;
    Ok(ObjectMeta {
        size: received.size,
        etag: Some(etag_of(&sha256)),
        content_type: Some(content_type.to_owned()),
        checksum_sha256: Some(received.sha256),
        last_modified: std::fs::metadata(target)
            .and_then(|m| m.modified())
            .ok()
            .map(OffsetDateTime::from),
    })
}

/// Renames `from` to `target`, creating `parent` as needed. A concurrent
/// delete may remove an empty parent between the two steps, hence the retry.
fn rename_into(
    from: &Path,
    parent: &Path,
    bucket_dir: &Path,
    target: &Path,
) -> Result<(), FsError> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        ensure_dir(parent, bucket_dir)?;
        match std::fs::rename(from, target) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < ATTEMPTS => {}
            Err(_) if target.is_dir() => {
                return Err(FsError::Conflict(format!(
                    "{} is a prefix of other keys",
                    target.display()
                )));
            }
            Err(e) => return Err(FsError::io("commit object")(e)),
        }
    }
    Err(FsError::Conflict(
        "the object's directory kept disappearing".to_owned(),
    ))
}

/// Creates `dir` and its missing ancestors below `bucket_dir`, fsyncing each
/// new directory's parent so the new entries survive a crash. A missing bucket
/// is not created: buckets come from `ensure_bucket`.
pub(crate) fn ensure_dir(dir: &Path, bucket_dir: &Path) -> Result<(), FsError> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir == bucket_dir || !dir.starts_with(bucket_dir) {
        return Err(FsError::NoSuchBucket(bucket_dir.display().to_string()));
    }
    let parent = dir
        .parent()
        .ok_or_else(|| FsError::NoSuchBucket(bucket_dir.display().to_string()))?;
    ensure_dir(parent, bucket_dir)?;
    match create_private_dir(dir) {
        Ok(()) => sync_dir(parent),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(_) if dir.exists() => Err(FsError::Conflict(format!(
            "{} is an object, so it cannot hold other keys",
            dir.display()
        ))),
        Err(e) => Err(FsError::io("create directory")(e)),
    }
}

/// Makes a directory's entries (a rename, a new file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(FsError::io("fsync directory"))
}
