//! The small JSON file next to each object that remembers what the bytes
//! alone cannot tell: the SHA-256 computed while they were written, and the
//! content type.
//!
//! An object is committed by two renames (bytes, then sidecar). A crash
//! between them, or two writers racing on one key, can leave a sidecar that
//! describes other bytes; each sidecar therefore records the inode and size of
//! the file it describes (a rename keeps the inode), and a sidecar that does
//! not match is rebuilt from the bytes instead of being believed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use coffer_domain::{ContentType, Sha256Digest};
use coffer_ports::ObjectMeta;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::FsError;
use crate::layout::{Layout, sidecar_path};
use crate::write;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sidecar {
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub content_type: String,
    /// Inode of the data file this sidecar describes.
    pub inode: u64,
}

impl Sidecar {
    fn describes(&self, metadata: &std::fs::Metadata) -> bool {
        self.inode == metadata.ino() && self.size == metadata.len()
    }
}

/// The ETag of an object: its quoted SHA-256, so it is stable across restarts
/// and equal for equal bytes.
pub(crate) fn etag_of(sha256_hex: &str) -> String {
    format!("\"{sha256_hex}\"")
}

/// Writes `sidecar` for the object at `object`, atomically (temp file, fsync,
/// rename). The caller fsyncs the directory.
pub(crate) fn write(layout: &Layout, object: &Path, sidecar: &Sidecar) -> Result<(), FsError> {
    let temp = layout.temp_file();
    let bytes = serde_json::to_vec(sidecar).map_err(|e| FsError::Corrupt {
        path: object.display().to_string(),
        reason: e.to_string(),
    })?;
    let result = (|| {
        let mut file = write::create_private(&temp).map_err(FsError::io("create sidecar"))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(FsError::io("write sidecar"))?;
        std::fs::rename(&temp, sidecar_path(object)).map_err(FsError::io("commit sidecar"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn read(object: &Path) -> Option<Sidecar> {
    let bytes = std::fs::read(sidecar_path(object)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What is known of the open object `file` at `path`: its sidecar when the
/// sidecar matches the bytes, else facts recomputed from the bytes (and the
/// sidecar rewritten). Leaves `file`'s cursor anywhere.
pub(crate) fn describe(layout: &Layout, path: &Path, file: &File) -> Result<ObjectMeta, FsError> {
    let metadata = file.metadata().map_err(FsError::io("stat object"))?;
    let sidecar = match read(path) {
        Some(sidecar) if sidecar.describes(&metadata) => sidecar,
        _ => {
            let sidecar = Sidecar {
                size: metadata.len(),
                sha256: hash_file(file)?.to_hex(),
                // The type was lost with the sidecar; the metadata store still knows it.
                content_type: ContentType::OCTET_STREAM.to_owned(),
                inode: metadata.ino(),
            };
            write(layout, path, &sidecar)?;
            sidecar
        }
    };
    let checksum = Sha256Digest::parse(&sidecar.sha256).map_err(|e| FsError::Corrupt {
        path: sidecar_path(path).display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(ObjectMeta {
        size: metadata.len(),
        etag: Some(etag_of(&sidecar.sha256)),
        content_type: Some(sidecar.content_type),
        checksum_sha256: Some(checksum),
        last_modified: metadata.modified().ok().map(OffsetDateTime::from),
    })
}

fn hash_file(mut file: &File) -> Result<Sha256Digest, FsError> {
    file.seek(SeekFrom::Start(0))
        .map_err(FsError::io("hash object"))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(FsError::io("hash object"))?;
        let Some(chunk) = buffer.get(..read).filter(|c| !c.is_empty()) else {
            break;
        };
        hasher.update(chunk);
    }
    Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
}
