//! The secret that signs storage URLs: 32 random bytes, created on first use
//! in `<data_dir>/keys/storage-signing.key` with mode 0600, and refused when
//! group or others can read it (as ssh refuses a readable private key).

use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::FsError;

const FILE_NAME: &str = "storage-signing.key";
const KEY_BYTES: usize = 32;

#[derive(Clone)]
pub(crate) struct SigningKey([u8; KEY_BYTES]);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Reads the key in `dir`, creating it (and `dir`, mode 0700) if missing.
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self, FsError> {
        let path = dir.join(FILE_NAME);
        let error = |reason: String| FsError::SigningKey {
            path: path.display().to_string(),
            reason,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| error(e.to_string()))?;
        let mut key = [0_u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| error(e.to_string()))?;
        // create_new: when two processes race, exactly one key wins and both read it.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(hex::encode(key).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| error(e.to_string()))?;
                return Ok(Self(key));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(error(e.to_string())),
        }
        let mode = std::fs::metadata(&path)
            .map_err(|e| error(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(error(format!(
                "readable by others (mode {:o}); run `chmod 600` on it",
                mode & 0o777
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| error(e.to_string()))?;
        hex::decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes).ok())
            .map(Self)
            .ok_or_else(|| error("not 32 hex-encoded bytes".to_owned()))
    }

    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_private_and_stable() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let keys = dir.path().join("keys");
        let first = SigningKey::load_or_create(&keys)?;
        let second = SigningKey::load_or_create(&keys)?;
        assert_eq!(first.0, second.0);
        let mode = std::fs::metadata(keys.join(FILE_NAME))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(keys.join(FILE_NAME), std::fs::Permissions::from_mode(0o644))?;
        assert!(SigningKey::load_or_create(&keys).is_err());
        Ok(())
    }
}
