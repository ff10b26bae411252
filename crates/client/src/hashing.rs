//! SHA-256 of local files, off the async threads.

use std::path::Path;

use coffer_domain::Sha256Digest;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The hasher fed with the whole file at `path`, and the file's length.
pub(crate) async fn hash_file(path: &Path) -> Result<(Sha256, u64)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut hasher = Sha256::new();
        let len = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(&path, e))?;
        Ok((hasher, len))
    })
    .await
    .map_err(|e| Error::Protocol(format!("hashing stopped: {e}")))?
}

/// The size and SHA-256 of the file at `path`.
pub(crate) async fn sha256_of(path: &Path) -> Result<(u64, Sha256Digest)> {
    let (hasher, len) = hash_file(path).await?;
    Ok((len, Sha256Digest::from_bytes(hasher.finalize().into())))
}
