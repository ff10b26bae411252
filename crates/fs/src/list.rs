//! Listing a tenant's objects in key order, a page at a time, like S3's
//! `ListObjectsV2` with `start-after`.
//!
//! The walk visits directory entries in the order their keys sort in (a
//! directory `a` holds keys `a/…`, so it sorts as `a/`), which makes a
//! depth-first walk yield keys in byte order; subtrees that lie wholly before
//! the continuation are skipped unopened, so a page costs about its own size,
//! not the tenant's.

use std::fs::DirEntry;
use std::path::Path;

use coffer_domain::ObjectKey;
use coffer_ports::ListedObject;
use time::OffsetDateTime;

use crate::error::FsError;
use crate::layout::is_safe_segment;

/// Up to `want` keys under `dir` (whose keys start with `prefix`, ending in
/// `/`) that sort after `after`. Blocking.
pub(crate) fn walk(
    dir: &Path,
    prefix: &str,
    after: Option<&str>,
    want: usize,
    out: &mut Vec<ListedObject>,
) -> Result<(), FsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FsError::io("list directory")(e)),
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(FsError::io("list directory"))?;
        if let Some(child) = Child::of(&entry, prefix)? {
            children.push(child);
        }
    }
    children.sort_by(|a, b| a.key.cmp(&b.key));
    for child in children {
        if out.len() >= want {
            break;
        }
        if child.is_dir {
            // Every key below starts with `child.key`; skip the subtree when
            // all of it sorts before the continuation.
            let wholly_before =
                after.is_some_and(|a| *child.key < *a && !a.starts_with(&child.key));
            if !wholly_before {
                walk(&dir.join(&child.name), &child.key, after, want, out)?;
            }
        } else if after.is_none_or(|a| *child.key > *a)
            && let Ok(key) = ObjectKey::parse(child.key)
        {
            out.push(ListedObject {
                key,
                size: child.size,
                last_modified: child.modified,
            });
        }
    }
    Ok(())
}

struct Child {
    name: String,
    /// The full key (for a directory, the key prefix ending in `/`).
    key: String,
    is_dir: bool,
    size: u64,
    modified: Option<OffsetDateTime>,
}

impl Child {
    /// Sidecars, temp names and anything else that cannot be a key segment
    /// are not objects; symlinks are never followed.
    fn of(entry: &DirEntry, prefix: &str) -> Result<Option<Self>, FsError> {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Ok(None);
        };
        if !is_safe_segment(&name) {
            return Ok(None);
        }
        let file_type = entry.file_type().map_err(FsError::io("list directory"))?;
        if file_type.is_dir() {
            let key = format!("{prefix}{name}/");
            return Ok(Some(Self {
                name,
                key,
                is_dir: true,
                size: 0,
                modified: None,
            }));
        }
        if !file_type.is_file() {
            return Ok(None);
        }
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            // Deleted while we looked: not part of this page.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FsError::io("stat object")(e)),
        };
        Ok(Some(Self {
            key: format!("{prefix}{name}"),
            name,
            is_dir: false,
            size: metadata.len(),
            modified: metadata.modified().ok().map(OffsetDateTime::from),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_yields_byte_order_and_resumes() -> Result<(), Box<dyn std::error::Error>> {
        // '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f): "a-c" < "a.d" < "a/b".
        let dir = tempfile::tempdir()?;
        let tenant = coffer_domain::TenantId::new_random();
        let root = dir.path().join("t").join(tenant.to_string());
        std::fs::create_dir_all(root.join("a"))?;
        for file in ["a/b", "a-c", "a.d", "b", "a~meta"] {
            std::fs::write(root.join(file), b"x")?;
        }
        let prefix = format!("t/{tenant}/");
        let keys = |after: Option<&str>, want| -> Result<Vec<String>, FsError> {
            let mut out = Vec::new();
            walk(&root, &prefix, after, want, &mut out)?;
            Ok(out
                .into_iter()
                .map(|o| o.key.as_str().replacen(&prefix, "", 1))
                .collect())
        };
        assert_eq!(keys(None, 10)?, ["a-c", "a.d", "a/b", "b"]);
        assert_eq!(keys(None, 2)?, ["a-c", "a.d"]);
        assert_eq!(keys(Some(&format!("{prefix}a.d")), 10)?, ["a/b", "b"]);
        assert_eq!(keys(Some(&format!("{prefix}a/b")), 10)?, ["b"]);
        Ok(())
    }
}
