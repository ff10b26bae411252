//! Uploads in flight, remembered in the XDG state directory so that the
//! same `coffer cp` run again after an interruption resumes instead of
//! starting over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// One upload in flight: which pending file, from which local file as it
/// was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub file_id: Uuid,
    pub size: u64,
    pub modified_nanos: i128,
}

/// Where the upload of `source` to `target` is remembered. Not keyed by
/// server: a server that does not know the file (`404`) starts it over.
#[derive(Debug, Clone)]
pub struct Ledger {
    file: PathBuf,
}

impl Ledger {
    pub fn new(state_dir: &Path, source: &Path, target: &str) -> Self {
        let source = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_owned());
        let key = Sha256::digest(format!("{}\n{target}", source.display()));
        Self {
            file: state_dir
                .join("uploads")
                .join(format!("{}.json", hex::encode(&key[..16]))),
        }
    }

    pub fn load(&self) -> Option<InFlight> {
        std::fs::read(&self.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    /// Best effort: an upload that cannot be remembered still goes on.
    pub fn save(&self, in_flight: &InFlight) {
        if let Ok(json) = serde_json::to_vec(in_flight) {
            let _ = crate::files::write_private(&self.file, &json);
        }
    }

    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The local file's size and modification time, to tell whether it is
/// still the file an upload began with.
pub fn fingerprint(path: &Path) -> Option<(u64, i128)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    let nanos = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
        .unwrap_or(0);
    Some((meta.len(), nanos))
}
