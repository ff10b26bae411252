//! Multipart uploads on disk: one directory per upload under `uploads/`,
//! holding `upload.json` (which bucket, key and type it is for) and one file
//! per part named `part-{number:05}-{sha256}`. Naming a part by its hash makes
//! storing it a single atomic rename, and lets `complete` find exactly the
//! bytes whose ETag the client acknowledged.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use coffer_domain::{BucketName, ObjectKey, Sha256Digest};
use coffer_ports::UploadedPart;
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use crate::error::FsError;
use crate::layout::Layout;
use crate::sidecar::etag_of;
use crate::write::{self, Received, sync_dir};

const RECORD: &str = "upload.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
}

/// An upload that exists and belongs to the location it was asked for.
#[derive(Debug)]
pub(crate) struct Upload {
    pub dir: PathBuf,
    pub record: UploadRecord,
}

/// Starts an upload. Blocking.
pub(crate) fn create(layout: &Layout, record: &UploadRecord) -> Result<Uuid, FsError> {
    let id = Uuid::new_v4();
    let dir = layout.upload_dir(id);
    write::create_private_dir(&dir).map_err(FsError::io("create upload"))?;
    let bytes = serde_json::to_vec(record).map_err(|e| FsError::Corrupt {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    // The id is not known to anyone yet, so no reader can see a partial record.
    write::create_private(&dir.join(RECORD))
        .and_then(|mut file| std::io::Write::write_all(&mut file, &bytes))
        .map_err(FsError::io("write upload"))?;
    sync_dir(&dir)?;
    sync_dir(&layout.uploads())?;
    Ok(id)
}

/// The upload `upload_id` of `bucket`/`key`; any other upload id is unknown
/// here, so one location's id never opens another's upload. Blocking.
pub(crate) fn load(
    layout: &Layout,
    upload_id: &str,
    bucket: &BucketName,
    key: &ObjectKey,
) -> Result<Upload, FsError> {
    let unknown = || FsError::NoSuchUpload(upload_id.to_owned());
    let id = Uuid::parse_str(upload_id).map_err(|_| unknown())?;
    let dir = layout.upload_dir(id);
    let bytes = std::fs::read(dir.join(RECORD)).map_err(|_| unknown())?;
    let record: UploadRecord = serde_json::from_slice(&bytes).map_err(|e| FsError::Corrupt {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    if record.bucket != bucket.as_str() || record.key != key.as_str() {
        return Err(unknown());
    }
    Ok(Upload { dir, record })
}

/// Keeps a received part as part `number`, replacing an earlier upload of the
/// same number. Blocking. Returns the part's ETag.
pub(crate) fn keep_part(dir: &Path, number: u16, received: Received) -> Result<String, FsError> {
    let sha256 = received.sha256.to_hex();
    let name = part_name(number, &sha256);
    std::fs::rename(received.temp.path(), dir.join(&name)).map_err(|e| {
        if dir.is_dir() {
            FsError::io("keep part")(e)
        } else {
            FsError::NoSuchUpload(dir.display().to_string())
        }
    })?;
    for (other, path) in parts_on_disk(dir)? {
        if other.part_number == number && path.file_name().is_some_and(|n| n != name.as_str()) {
            let _ = std::fs::remove_file(path);
        }
    }
    sync_dir(dir)?;
    Ok(etag_of(&sha256))
}

/// The parts uploaded so far, by number. Blocking.
pub(crate) fn list_parts(dir: &Path) -> Result<Vec<UploadedPart>, FsError> {
    let mut parts: Vec<UploadedPart> = parts_on_disk(dir)?.into_iter().map(|(p, _)| p).collect();
    parts.sort_by_key(|p| p.part_number);
    // Two files of one number only survive a crash inside `keep_part`; the
    // client's `complete` names the one it means, so listing either is fine.
    parts.dedup_by_key(|p| p.part_number);
    Ok(parts)
}

/// The part files `parts` name, in order, or `Conflict` when the list is
/// empty, out of order, or names bytes that were never uploaded. Blocking.
pub(crate) fn resolve_parts(dir: &Path, parts: &[UploadedPart]) -> Result<Vec<PathBuf>, FsError> {
    if parts.is_empty() {
        return Err(FsError::Conflict(
            "a multipart upload needs at least one part".to_owned(),
        ));
    }
    let mut previous = 0;
    let mut files = Vec::with_capacity(parts.len());
    for part in parts {
        if part.part_number <= previous {
            return Err(FsError::Conflict(
                "parts must be listed in ascending order".to_owned(),
            ));
        }
        previous = part.part_number;
        // Parsing the ETag as a digest also keeps it from naming any other path.
        let sha256 = Sha256Digest::parse(part.etag.trim_matches('"')).map_err(|_| {
            FsError::Conflict(format!("part {} has a foreign ETag", part.part_number))
        })?;
        let file = dir.join(part_name(part.part_number, &sha256.to_hex()));
        if !file.is_file() {
            return Err(FsError::Conflict(format!(
                "part {} with ETag {} was not uploaded",
                part.part_number, part.etag
            )));
        }
        files.push(file);
    }
    Ok(files)
}

/// The concatenated bytes of `files`, read in chunks.
pub(crate) fn concat(files: Vec<PathBuf>) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::iter(files)
        .then(|path| async move { tokio::fs::File::open(path).await })
        .map_ok(|file| ReaderStream::with_capacity(file, 64 * 1024))
        .try_flatten()
}

/// Removes upload directories older than `max_age` that belong to `bucket`.
/// Best effort: this is housekeeping, not correctness. Blocking.
pub(crate) fn sweep(layout: &Layout, bucket: &BucketName, max_age: Duration) {
    let Ok(entries) = std::fs::read_dir(layout.uploads()) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let record = entry.path().join(RECORD);
        let old = std::fs::metadata(&record)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > max_age);
        let ours = std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice::<UploadRecord>(&b).ok())
            .is_some_and(|r| r.bucket == bucket.as_str());
        if old && ours {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn part_name(number: u16, sha256_hex: &str) -> String {
    format!("part-{number:05}-{sha256_hex}")
}

fn parts_on_disk(dir: &Path) -> Result<Vec<(UploadedPart, PathBuf)>, FsError> {
    let entries =
        std::fs::read_dir(dir).map_err(|_| FsError::NoSuchUpload(dir.display().to_string()))?;
    let mut parts = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((number, sha256)) = name
            .to_str()
            .and_then(|n| n.strip_prefix("part-"))
            .and_then(|n| n.split_once('-'))
        else {
            continue;
        };
        if let (Ok(part_number), Ok(_)) = (number.parse(), Sha256Digest::parse(sha256)) {
            let size = entry.metadata().map(|m| m.len()).unwrap_or_default();
            parts.push((
                UploadedPart {
                    part_number,
                    etag: etag_of(sha256),
                    size,
                },
                entry.path(),
            ));
        }
    }
    Ok(parts)
}
