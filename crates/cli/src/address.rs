//! How the command line names files in Coffer: `coffer:/folder/name`,
//! `coffer:/folder/` (a folder), or a file id (`coffer:<id>` or the bare id).

use coffer_domain::{Filename, LogicalPath};
use uuid::Uuid;

use crate::exit::Failure;

/// The prefix that marks an argument as a place in Coffer.
pub const SCHEME: &str = "coffer:";

/// A place in Coffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A file by id.
    Id(Uuid),
    /// A file by folder and name.
    File {
        path: LogicalPath,
        filename: Filename,
    },
    /// A folder (written with a trailing `/`, or the root).
    Folder(LogicalPath),
}

impl Remote {
    /// Reads `coffer:…` or a bare id; `None` for a local path.
    pub fn parse(arg: &str) -> Result<Option<Self>, Failure> {
        let Some(rest) = arg.strip_prefix(SCHEME) else {
            return Ok(Uuid::parse_str(arg).ok().map(Self::Id));
        };
        if let Ok(id) = Uuid::parse_str(rest) {
            return Ok(Some(Self::Id(id)));
        }
        let rest = if rest.is_empty() { "/" } else { rest };
        if !rest.starts_with('/') {
            return Err(Failure::usage(format!(
                "{arg}: write {SCHEME}/folder/name, {SCHEME}/folder/ or a file id"
            )));
        }
        if let Some(folder) = rest.strip_suffix('/') {
            return folder_path(if folder.is_empty() { "/" } else { folder }, arg)
                .map(|p| Some(Self::Folder(p)));
        }
        let (folder, name) = rest.rsplit_once('/').unwrap_or(("", rest));
        let path = folder_path(if folder.is_empty() { "/" } else { folder }, arg)?;
        let filename = Filename::new(name).map_err(|e| Failure::usage(format!("{arg}: {e}")))?;
        Ok(Some(Self::File { path, filename }))
    }

    /// This place read as a folder (`coffer:/a/b` names folder `/a/b` when
    /// a command needs one).
    pub fn as_folder(&self) -> Result<LogicalPath, Failure> {
        match self {
            Self::Folder(path) => Ok(path.clone()),
            Self::File { path, filename } => {
                let joined = if path.is_root() {
                    format!("/{}", filename.as_str())
                } else {
                    format!("{}/{}", path.as_str(), filename.as_str())
                };
                folder_path(&joined, &joined)
            }
            Self::Id(id) => Err(Failure::usage(format!("{id} is a file, not a folder"))),
        }
    }
}

fn folder_path(raw: &str, arg: &str) -> Result<LogicalPath, Failure> {
    LogicalPath::new(raw).map_err(|e| Failure::usage(format!("{arg}: {e}")))
}

/// `folder` joined with a relative `a/b` (for a tree copied recursively).
pub fn join(folder: &LogicalPath, relative: &str) -> Result<LogicalPath, Failure> {
    if relative.is_empty() {
        return Ok(folder.clone());
    }
    let base = if folder.is_root() {
        ""
    } else {
        folder.as_str()
    };
    folder_path(&format!("{base}/{relative}"), relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arg: &str) -> Option<Remote> {
        Remote::parse(arg).unwrap_or_else(|e| panic!("{arg}: {e}"))
    }

    #[test]
    fn files_folders_and_ids_are_told_apart() {
        let id = Uuid::now_v7();
        assert_eq!(parse(&id.to_string()), Some(Remote::Id(id)));
        assert_eq!(parse(&format!("coffer:{id}")), Some(Remote::Id(id)));
        assert_eq!(parse("report.pdf"), None);
        assert!(
            matches!(parse("coffer:/legal/2026/"), Some(Remote::Folder(p)) if p.as_str() == "/legal/2026")
        );
        assert!(matches!(parse("coffer:/"), Some(Remote::Folder(p)) if p.is_root()));
        assert!(matches!(parse("coffer:"), Some(Remote::Folder(p)) if p.is_root()));
        assert!(matches!(
            parse("coffer:/legal/2026/report.pdf"),
            Some(Remote::File { path, filename }) if path.as_str() == "/legal/2026" && filename.as_str() == "report.pdf"
        ));
        assert!(matches!(
            parse("coffer:/report.pdf"),
            Some(Remote::File { path, .. }) if path.is_root()
        ));
    }

    #[test]
    fn a_relative_or_dotted_place_is_a_usage_error() {
        assert!(Remote::parse("coffer:legal/x").is_err());
        assert!(Remote::parse("coffer:/a/../b").is_err());
    }

    #[test]
    fn a_file_place_reads_as_a_folder_when_asked() {
        let remote = parse("coffer:/legal/2026").unwrap_or_else(|| panic!("remote"));
        assert_eq!(
            remote.as_folder().ok().map(|p| p.as_str().to_owned()),
            Some("/legal/2026".to_owned())
        );
        let root = LogicalPath::root();
        assert_eq!(
            join(&root, "a/b").ok().map(|p| p.as_str().to_owned()),
            Some("/a/b".to_owned())
        );
    }
}
