//! Uploads straight to the store: the client hashes the file, initiates
//! with the SHA-256 declared (so the store and then Coffer refuse any other
//! bytes), sends the bytes to the presigned URLs — in parts, several at a
//! time, for large files — and completes. Bodies stream from the file, so
//! memory stays a few buffers whatever the size. A multipart upload cut off
//! half-way resumes from the parts the store already holds.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coffer_api::{
    FileDto, InitiateBody, InitiatedDto, PartsBody, PartsDto, PresignedDto, ReceivedPartsDto,
};
use coffer_domain::{
    Category, ContentType, ErrorCode, Filename, LogicalPath, MIN_PART_SIZE, Metadata, Sha256Digest,
    Visibility,
};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use reqwest::Method;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use crate::client::{Call, Client, store_error};
use crate::error::{Error, Result};

/// What a new file is called and where it goes.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub filename: Filename,
    /// The folder; `/` when `None`.
    pub path: Option<LogicalPath>,
    pub category: Option<Category>,
    /// Guessed by Coffer from the filename when `None`.
    pub content_type: Option<ContentType>,
    pub visibility: Option<Visibility>,
    pub metadata: Option<Metadata>,
}

impl NewFile {
    /// A file called `filename` in the root folder.
    pub fn new(filename: Filename) -> Self {
        Self {
            filename,
            path: None,
            category: None,
            content_type: None,
            visibility: None,
            metadata: None,
        }
    }

    /// The same file in folder `path`.
    #[must_use]
    pub fn in_folder(mut self, path: LogicalPath) -> Self {
        self.path = Some(path);
        self
    }
}

/// Follows a transfer (the CLI's progress bar). Every method has a no-op
/// default.
pub trait Progress: Send + Sync {
    /// The transfer of `file`'s `total` bytes begins (for an upload, the
    /// file is pending: its id is what [`Client::resume_upload`] takes).
    fn started(&self, _file: &FileDto, _total: u64) {}
    /// `bytes` more went through.
    fn advanced(&self, _bytes: u64) {}
    /// `bytes` counted before must go again (a retried request).
    fn rewound(&self, _bytes: u64) {}
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// The file, available (or scanning, where uploads are scanned).
    pub file: FileDto,
    /// Parts sent by this call (empty for a single-request upload).
    pub parts_sent: Vec<u16>,
    /// Parts the store already held when a resumed upload began.
    pub parts_resumed: Vec<u16>,
    /// Bytes this call sent to the store.
    pub bytes_sent: u64,
}

impl Client {
    /// Uploads the file at `source` as `new`: one presigned PUT below the
    /// multipart threshold, parts in parallel from it on.
    ///
    /// ```no_run
    /// # async fn run(client: coffer_client::Client) -> coffer_client::Result<()> {
    /// use std::sync::Arc;
    /// use coffer_client::{NewFile, NoProgress};
    ///
    /// let new = NewFile::new("report.pdf".parse()?).in_folder("/legal/2026".parse()?);
    /// let report = client.upload("report.pdf".as_ref(), new, Arc::new(NoProgress)).await?;
    /// println!("{} is {:?}", report.file.id, report.file.status);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Coffer's refusals (`413 file_too_large`, `quota_exceeded`, `415`,
    /// `409 duplicate_path`, …) as [`Error::Api`]; the store's as
    /// [`Error::Store`]; a local read error as [`Error::Io`].
    pub async fn upload(
        &self,
        source: &Path,
        new: NewFile,
        progress: Arc<dyn Progress>,
    ) -> Result<UploadReport> {
        let (size, digest) = crate::hashing::sha256_of(source).await?;
        let multipart = size >= self.inner.multipart_threshold.max(MIN_PART_SIZE);
        let body = InitiateBody {
            filename: new.filename,
            size,
            content_type: new.content_type,
            category: new.category,
            path: new.path,
            visibility: new.visibility,
            metadata: new.metadata,
            checksum_sha256: Some(digest),
            multipart,
        };
        let initiated: InitiatedDto = self
            .call(Call::new(Method::POST, "files", false).json(&body)?)
            .await?;
        let file = initiated.file;
        progress.started(&file, size);
        let source = Source::new(source, size);
        let (parts_sent, bytes_sent) = match (initiated.upload, initiated.multipart) {
            (Some(upload), _) => {
                self.put_whole(&upload, &source, &progress).await?;
                (Vec::new(), size)
            }
            (None, Some(multipart)) => {
                let layout = Layout::new(size, multipart.part_size, multipart.part_count)?;
                let all = (1..=layout.count).collect();
                self.put_parts(file.id, &layout, all, &source, &progress)
                    .await?
            }
            (None, None) => {
                return Err(Error::Protocol(
                    "an upload without upload or multipart".into(),
                ));
            }
        };
        let file = self.complete(file.id, &digest).await?;
        Ok(UploadReport {
            file,
            parts_sent,
            parts_resumed: Vec::new(),
            bytes_sent,
        })
    }

    /// Finishes the multipart upload of file `id` from `source`: sends the
    /// parts the store does not hold yet, then completes.
    ///
    /// # Errors
    /// [`Error::Resume`] when `source` is not the file being uploaded (its
    /// size or SHA-256 differs), the file is no longer pending, or it is a
    /// single-request upload (`409 not_multipart`: upload it again).
    pub async fn resume_upload(
        &self,
        id: Uuid,
        source: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<UploadReport> {
        let file = self.file(id).await?;
        let (size, digest) = crate::hashing::sha256_of(source).await?;
        if file.status != coffer_domain::FileStatus::Pending {
            return Err(Error::Resume(format!(
                "the upload is {}",
                format!("{:?}", file.status).to_lowercase()
            )));
        }
        if file.size != size {
            return Err(Error::Resume(format!(
                "{} has {size} bytes, the upload {}",
                source.display(),
                file.size
            )));
        }
        if file
            .checksum_sha256
            .as_deref()
            .is_some_and(|c| c != digest.to_hex())
        {
            return Err(Error::Resume(format!(
                "{} has changed since the upload began",
                source.display()
            )));
        }
        let held: ReceivedPartsDto = match self.call(Call::get(format!("files/{id}/parts"))).await {
            Err(e) if e.code().is_some_and(|c| c.is(ErrorCode::NotMultipart)) => {
                return Err(Error::Resume("a single-request upload starts again".into()));
            }
            other => other?,
        };
        let layout = Layout::new(size, held.part_size, held.part_count)?;
        let resumed: Vec<u16> = held
            .parts
            .iter()
            .filter(|p| p.size == layout.len(p.part_number))
            .map(|p| p.part_number)
            .collect();
        let missing = (1..=layout.count)
            .filter(|n| !resumed.contains(n))
            .collect();
        progress.started(&file, size);
        progress.advanced(resumed.iter().map(|n| layout.len(*n)).sum());
        let source = Source::new(source, size);
        let (parts_sent, bytes_sent) = self
            .put_parts(id, &layout, missing, &source, &progress)
            .await?;
        let file = self.complete(id, &digest).await?;
        Ok(UploadReport {
            file,
            parts_sent,
            parts_resumed: resumed,
            bytes_sent,
        })
    }

    async fn complete(&self, id: Uuid, digest: &Sha256Digest) -> Result<FileDto> {
        // Completing twice answers the same file: safe to retry.
        let file: FileDto = self
            .call(Call::new(
                Method::POST,
                format!("files/{id}/complete"),
                true,
            ))
            .await?;
        match &file.checksum_sha256 {
            Some(verified) if *verified != digest.to_hex() => Err(Error::ChecksumMismatch {
                what: file.filename.clone(),
                expected: verified.clone(),
                actual: digest.to_hex(),
            }),
            _ => Ok(file),
        }
    }

    async fn put_whole(
        &self,
        upload: &PresignedDto,
        source: &Source,
        progress: &Arc<dyn Progress>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self
                .put(upload, source, 0, source.size, progress, "the file")
                .await
            {
                Err(e) if e.is_transient() && attempt + 1 < self.inner.retry.attempts => {
                    tokio::time::sleep(self.inner.retry.delay(attempt, None)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn put_parts(
        &self,
        id: Uuid,
        layout: &Layout,
        parts: Vec<u16>,
        source: &Source,
        progress: &Arc<dyn Progress>,
    ) -> Result<(Vec<u16>, u64)> {
        let sent: Vec<(u16, u64)> = stream::iter(parts)
            .map(|n| async move {
                self.put_part(id, n, layout, source, progress)
                    .await
                    .map(|()| (n, layout.len(n)))
            })
            .buffer_unordered(self.inner.parallelism)
            .try_collect()
            .await?;
        let bytes = sent.iter().map(|(_, len)| len).sum();
        let mut numbers: Vec<u16> = sent.into_iter().map(|(n, _)| n).collect();
        numbers.sort_unstable();
        Ok((numbers, bytes))
    }

    async fn put_part(
        &self,
        id: Uuid,
        number: u16,
        layout: &Layout,
        source: &Source,
        progress: &Arc<dyn Progress>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            // Presigned as it goes: a URL is never older than its part's turn.
            let presign = PartsBody {
                part_numbers: vec![number],
                checksums_sha256: std::collections::BTreeMap::new(),
            };
            let mut presigned: PartsDto = self
                .call(Call::new(Method::POST, format!("files/{id}/parts"), true).json(&presign)?)
                .await?;
            let part = presigned
                .parts
                .pop()
                .ok_or_else(|| Error::Protocol(format!("part {number} was not presigned")))?;
            let what = format!("part {number}");
            match self
                .put(
                    &part.request,
                    source,
                    layout.offset(number),
                    layout.len(number),
                    progress,
                    &what,
                )
                .await
            {
                Err(e) if e.is_transient() && attempt + 1 < self.inner.retry.attempts => {
                    tokio::time::sleep(self.inner.retry.delay(attempt, None)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One PUT of `len` bytes from `offset` to a presigned URL; what it
    /// counted is taken back from `progress` when it fails.
    async fn put(
        &self,
        request: &PresignedDto,
        source: &Source,
        offset: u64,
        len: u64,
        progress: &Arc<dyn Progress>,
        what: &str,
    ) -> Result<()> {
        let counted = Arc::new(AtomicU64::new(0));
        let body = source
            .body(offset, len, progress.clone(), counted.clone())
            .await?;
        let mut put = self.inner.http.put(&request.url).body(body);
        for (name, value) in &request.headers {
            put = put.header(name, value);
        }
        if !request
            .headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("content-length"))
        {
            put = put.header(reqwest::header::CONTENT_LENGTH, len);
        }
        let outcome = match put.send().await {
            Err(e) => Err(Error::connect(&request.url, e)),
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(store_error(response, "PUT", what.to_owned()).await),
        };
        if outcome.is_err() {
            progress.rewound(counted.load(Ordering::Relaxed));
        }
        outcome
    }
}

/// How a file of `size` bytes is cut into parts.
#[derive(Debug, Clone, Copy)]
struct Layout {
    size: u64,
    part_size: u64,
    count: u16,
}

impl Layout {
    fn new(size: u64, part_size: u64, count: u64) -> Result<Self> {
        let count = u16::try_from(count).map_err(|_| Error::Protocol(format!("{count} parts")))?;
        if part_size == 0 || size.div_ceil(part_size) != u64::from(count).max(1) {
            return Err(Error::Protocol(format!(
                "{count} parts of {part_size} bytes cannot hold {size} bytes"
            )));
        }
        Ok(Self {
            size,
            part_size,
            count,
        })
    }

    fn offset(&self, number: u16) -> u64 {
        u64::from(number - 1) * self.part_size
    }

    fn len(&self, number: u16) -> u64 {
        self.part_size
            .min(self.size.saturating_sub(self.offset(number)))
    }
}

/// The local file being uploaded.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    size: u64,
}

/// Read size for request bodies: a few of these per part in flight is all
/// the memory an upload holds.
const CHUNK: usize = 256 * 1024;

impl Source {
    fn new(path: &Path, size: u64) -> Self {
        Self {
            path: path.to_owned(),
            size,
        }
    }

    /// `len` bytes from `offset` as a streamed request body.
    async fn body(
        &self,
        offset: u64,
        len: u64,
        progress: Arc<dyn Progress>,
        counted: Arc<AtomicU64>,
    ) -> Result<reqwest::Body> {
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        let chunks = ReaderStream::with_capacity(file.take(len), CHUNK).inspect_ok(move |chunk| {
            let n = chunk.len() as u64;
            counted.fetch_add(n, Ordering::Relaxed);
            progress.advanced(n);
        });
        Ok(reqwest::Body::wrap_stream(chunks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_file_exactly_once() {
        let layout = Layout::new(35, 16, 3).unwrap_or_else(|e| panic!("{e}"));
        let spans: Vec<(u64, u64)> = (1..=3).map(|n| (layout.offset(n), layout.len(n))).collect();
        assert_eq!(spans, [(0, 16), (16, 16), (32, 3)]);
    }

    #[test]
    fn a_layout_that_cannot_hold_the_file_is_refused() {
        assert!(Layout::new(35, 16, 2).is_err());
        assert!(Layout::new(35, 0, 3).is_err());
        assert!(Layout::new(32, 16, 2).is_ok());
    }
}
