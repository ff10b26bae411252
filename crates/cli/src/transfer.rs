//! `coffer cp`: local files up to Coffer and Coffer files down, one file
//! or a whole tree, each with its progress bar; an upload interrupted
//! half-way resumes when the same copy runs again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use coffer_api::{FileDto, ListQuery};
use coffer_client::{NewFile, UploadReport};
use coffer_domain::{FileStatus, Filename, LogicalPath};
use futures::TryStreamExt as _;

use crate::address::{Remote, join};
use crate::commands::{Context, joined, print_line, shown};
use crate::exit::{Failure, code};
use crate::progress::Bar;
use crate::resume::{InFlight, Ledger, fingerprint};

pub(crate) async fn cp(
    ctx: &Context,
    source: &str,
    destination: &str,
    recursive: bool,
) -> Result<(), Failure> {
    match (Remote::parse(source)?, Remote::parse(destination)?) {
        (None, Some(to)) => upload(ctx, Path::new(source), &to, recursive).await,
        (Some(from), None) => download(ctx, &from, Path::new(destination), recursive).await,
        (Some(_), Some(_)) => Err(Failure::usage(
            "cp copies between this machine and Coffer; within Coffer use `coffer mv`",
        )),
        (None, None) => Err(Failure::usage(
            "cp: one side must be a Coffer place (coffer:/folder/…)",
        )),
    }
}

async fn upload(ctx: &Context, source: &Path, to: &Remote, recursive: bool) -> Result<(), Failure> {
    let meta = std::fs::metadata(source).map_err(|e| local(source, &e))?;
    if meta.is_dir() {
        if !recursive {
            return Err(Failure::usage(format!(
                "{} is a directory (use -r)",
                source.display()
            )));
        }
        let name = source
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let base = join(&to.as_folder()?, &name)?;
        for (file, relative_dir) in walk(source)? {
            let folder = join(&base, &relative_dir)?;
            let filename = local_name(&file)?;
            upload_one(ctx, &file, folder, filename).await?;
        }
        return Ok(());
    }
    let (folder, filename) = match to {
        Remote::Folder(folder) => (folder.clone(), local_name(source)?),
        Remote::File { path, filename } => (path.clone(), filename.clone()),
        Remote::Id(_) => {
            return Err(Failure::usage(
                "cp: upload to a place (coffer:/folder/ or coffer:/folder/name), not an id",
            ));
        }
    };
    upload_one(ctx, source, folder, filename).await
}

async fn upload_one(
    ctx: &Context,
    source: &Path,
    folder: LogicalPath,
    filename: Filename,
) -> Result<(), Failure> {
    let target = joined(&folder, &filename);
    let ledger = Ledger::new(&ctx.dirs.state, source, &target);
    let bar = Arc::new(Bar::new(filename.as_str(), ctx.json));
    let now = fingerprint(source).ok_or_else(|| {
        Failure::with(code::LOCAL_IO, format!("{}: cannot read", source.display()))
    })?;
    let mut resumed = None;
    if let Some(in_flight) = ledger.load().filter(|f| (f.size, f.modified_nanos) == now) {
        match ctx
            .client
            .resume_upload(in_flight.file_id, source, bar.clone())
            .await
        {
            Ok(report) => resumed = Some(report),
            // Not resumable (gone, completed, a single PUT): start over.
            Err(
                coffer_client::Error::Resume(_)
                | coffer_client::Error::Api {
                    status: 404 | 409, ..
                },
            ) => {
                let _ = ctx.client.delete(in_flight.file_id, true).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let report = match resumed {
        Some(report) => report,
        None => {
            let progress = Arc::new(Remembering {
                bar: bar.clone(),
                ledger: ledger.clone(),
                fingerprint: now,
            });
            ctx.client
                .upload(source, NewFile::new(filename).in_folder(folder), progress)
                .await?
        }
    };
    ledger.clear();
    bar.finish();
    report_upload(ctx, source, &report);
    Ok(())
}

fn report_upload(ctx: &Context, source: &Path, report: &UploadReport) {
    let file = &report.file;
    let human = format!(
        "{} → {} ({} bytes, sha256 {}{})",
        source.display(),
        shown(file),
        file.size,
        file.checksum_sha256.as_deref().unwrap_or("-"),
        if report.parts_resumed.is_empty() {
            String::new()
        } else {
            format!(
                ", resumed after {} stored parts",
                report.parts_resumed.len()
            )
        }
    );
    let json = serde_json::json!({
        "action": "upload",
        "source": source.display().to_string(),
        "file": file,
        "parts_sent": report.parts_sent,
        "parts_resumed": report.parts_resumed,
        "bytes_sent": report.bytes_sent,
    });
    print_line(ctx.json, &json, &human);
}

/// The bar, and the ledger written as soon as the pending file exists.
struct Remembering {
    bar: Arc<Bar>,
    ledger: Ledger,
    fingerprint: (u64, i128),
}

impl coffer_client::Progress for Remembering {
    fn started(&self, file: &FileDto, total: u64) {
        self.ledger.save(&InFlight {
            file_id: file.id,
            size: self.fingerprint.0,
            modified_nanos: self.fingerprint.1,
        });
        self.bar.started(file, total);
    }

    fn advanced(&self, bytes: u64) {
        self.bar.advanced(bytes);
    }

    fn rewound(&self, bytes: u64) {
        self.bar.rewound(bytes);
    }
}

async fn download(
    ctx: &Context,
    from: &Remote,
    destination: &Path,
    recursive: bool,
) -> Result<(), Failure> {
    let folder = match (from, recursive) {
        (Remote::Folder(folder), true) => Some(folder.clone()),
        (Remote::File { .. }, true) => Some(from.as_folder()?),
        (Remote::Folder(folder), false) => {
            return Err(Failure::usage(format!(
                "coffer:{}/ is a folder (use -r)",
                folder.as_str()
            )));
        }
        _ => None,
    };
    let Some(folder) = folder else {
        let file = ctx.resolve(from, FileStatus::Available).await?;
        let target =
            if destination.is_dir() || destination.as_os_str().to_string_lossy().ends_with('/') {
                destination.join(&file.filename)
            } else {
                destination.to_owned()
            };
        return download_one(ctx, &file, &target).await;
    };
    let root = match folder.as_str().rsplit('/').next() {
        Some(last) if !last.is_empty() => destination.join(last),
        _ => destination.to_owned(),
    };
    let query = ListQuery {
        prefix: Some(folder.clone()),
        limit: Some(1000),
        ..ListQuery::default()
    };
    let files: Vec<FileDto> = ctx.client.files(&query)?.try_collect().await?;
    for file in files {
        let relative = file
            .path
            .strip_prefix(folder.as_str())
            .unwrap_or(&file.path)
            .trim_start_matches('/');
        let dir = root.join(relative);
        download_one(ctx, &file, &dir.join(&file.filename)).await?;
    }
    Ok(())
}

async fn download_one(ctx: &Context, file: &FileDto, target: &Path) -> Result<(), Failure> {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| local(dir, &e))?;
    }
    let bar = Arc::new(Bar::new(&file.filename, ctx.json));
    let report = ctx.client.download(file.id, target, bar.clone()).await?;
    bar.finish();
    let human = format!(
        "{} → {} ({} bytes, sha256 verified)",
        shown(&report.file),
        target.display(),
        report.file.size
    );
    let json = serde_json::json!({
        "action": "download",
        "destination": target.display().to_string(),
        "file": report.file,
        "bytes_received": report.bytes_received,
        "resumed_from": report.resumed_from,
    });
    print_line(ctx.json, &json, &human);
    Ok(())
}

/// Every regular file below `root`, with its directory relative to `root`
/// (`/`-separated), in name order.
fn walk(root: &Path) -> Result<Vec<(PathBuf, String)>, Failure> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_owned(), String::new())];
    while let Some((dir, relative)) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| local(&dir, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| local(&dir, &e))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| local(&path, &e))?;
            if kind.is_dir() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let child = if relative.is_empty() {
                    name
                } else {
                    format!("{relative}/{name}")
                };
                pending.push((path, child));
            } else if kind.is_file() {
                found.push((path, relative.clone()));
            }
        }
    }
    Ok(found)
}

fn local_name(path: &Path) -> Result<Filename, Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::usage(format!("{}: no file name", path.display())))?;
    Filename::new(name)
        .map_err(|e| Failure::with(code::INVALID, format!("{}: {e}", path.display())))
}

fn local(path: &Path, e: &std::io::Error) -> Failure {
    let exit = if e.kind() == std::io::ErrorKind::NotFound {
        code::NOT_FOUND
    } else {
        code::LOCAL_IO
    };
    Failure::with(exit, format!("{}: {e}", path.display()))
}
