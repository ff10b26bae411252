//! Reading objects: open once, describe from that same open file (so a
//! concurrent replacement cannot mix one object's facts with another's bytes),
//! then stream the asked range in fixed-size chunks.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use coffer_ports::{ByteRange, GetObject, ObjectMeta};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::error::{FsError, blocking};
use crate::layout::Layout;
use crate::sidecar;

const CHUNK: usize = 64 * 1024;

/// Opens the object at `path` and describes it. Blocking.
pub(crate) fn open(
    layout: &Layout,
    bucket_dir: &Path,
    path: &Path,
) -> Result<(File, ObjectMeta), FsError> {
    let missing = || {
        if bucket_dir.is_dir() {
            FsError::NoSuchKey(path.display().to_string())
        } else {
            FsError::NoSuchBucket(bucket_dir.display().to_string())
        }
    };
    let file = match File::open(path) {
        Ok(file) => file,
        // NotADirectory: a shorter key is an object, so this one cannot exist.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(missing());
        }
        Err(e) => return Err(FsError::io("open object")(e)),
    };
    if file
        .metadata()
        .map_err(FsError::io("stat object"))?
        .is_dir()
    {
        return Err(missing());
    }
    let meta = sidecar::describe(layout, path, &file)?;
    Ok((file, meta))
}

/// The object's facts, without its bytes.
pub(crate) async fn head(
    layout: &Layout,
    bucket_dir: PathBuf,
    path: PathBuf,
) -> Result<ObjectMeta, FsError> {
    let layout = layout.clone();
    blocking(move || open(&layout, &bucket_dir, &path).map(|(_, meta)| meta)).await
}

/// The object, or the asked range of it, as a stream.
pub(crate) async fn get(
    layout: &Layout,
    bucket_dir: PathBuf,
    path: PathBuf,
    range: Option<ByteRange>,
) -> Result<GetObject, FsError> {
    let layout = layout.clone();
    let (file, meta, selected) = blocking(move || {
        let (mut file, meta) = open(&layout, &bucket_dir, &path)?;
        let selected = match range {
            None => None,
            Some(range) => Some(
                range
                    .resolve(meta.size)
                    .ok_or(FsError::RangeNotSatisfiable { size: meta.size })?,
            ),
        };
        let start = selected.map_or(0, |(start, _)| start);
        file.seek(SeekFrom::Start(start))
            .map_err(FsError::io("seek object"))?;
        Ok((file, meta, selected))
    })
    .await?;
    let len = selected.map_or(meta.size, |(start, end)| end - start + 1);
    let reader = tokio::fs::File::from_std(file).take(len);
    let body = ReaderStream::with_capacity(reader, CHUNK);
    Ok(GetObject {
        total_size: meta.size,
        range: selected,
        content_type: meta.content_type,
        etag: meta.etag,
        body: Box::pin(body),
    })
}
