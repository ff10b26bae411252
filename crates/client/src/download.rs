//! Downloads straight from the store through presigned URLs: streamed to a
//! partial file beside the destination while hashed, resumed with `Range`
//! after a dropped connection (or from a partial file a killed run left),
//! and renamed into place only when the SHA-256 Coffer verified matches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use coffer_api::FileDto;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::StatusCode;
use reqwest::header::RANGE;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use crate::client::{Client, store_error};
use crate::error::{Error, Result};
use crate::upload::Progress;

/// What a download did.
#[derive(Debug, Clone)]
pub struct DownloadReport {
    pub file: FileDto,
    /// Bytes received by this call.
    pub bytes_received: u64,
    /// Bytes a partial file held from an earlier run.
    pub resumed_from: u64,
}

impl Client {
    /// Downloads file `id` to `dest` (replacing it), checking its SHA-256.
    ///
    /// ```no_run
    /// # async fn run(client: coffer_client::Client, id: uuid::Uuid) -> coffer_client::Result<()> {
    /// use std::sync::Arc;
    /// use coffer_client::NoProgress;
    ///
    /// let report = client.download(id, "contract.pdf".as_ref(), Arc::new(NoProgress)).await?;
    /// assert_eq!(report.file.size, std::fs::metadata("contract.pdf").map_or(0, |m| m.len()));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::ChecksumMismatch`] when the bytes are not the verified ones
    /// (nothing is left at `dest` then); Coffer's refusals as
    /// [`Error::Api`]; the store's as [`Error::Store`].
    pub async fn download(
        &self,
        id: Uuid,
        dest: &Path,
        progress: Arc<dyn Progress>,
    ) -> Result<DownloadReport> {
        let file = self.file(id).await?;
        let partial = partial_path(dest);
        let (mut hasher, resumed_from) = resume_from(&partial, file.size).await?;
        let mut have = resumed_from;
        progress.started(&file, file.size);
        progress.advanced(have);
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .map_err(|e| Error::io(&partial, e))?;
        let mut attempt = 0;
        loop {
            match self
                .receive(&file, have, &mut out, &mut hasher, &*progress, &partial)
                .await
            {
                Ok(received) => {
                    have += received;
                    break;
                }
                Err((e, received))
                    if e.is_transient() && attempt + 1 < self.inner.retry.attempts =>
                {
                    have += received;
                    tokio::time::sleep(self.inner.retry.delay(attempt, None)).await;
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
        out.flush().await.map_err(|e| Error::io(&partial, e))?;
        drop(out);
        let actual = hex::encode(hasher.finalize());
        if let Some(expected) = file.checksum_sha256.as_ref().filter(|e| **e != actual) {
            // The bytes are wrong: keeping them to resume from would only repeat it.
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(Error::ChecksumMismatch {
                what: file.filename.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        if have != file.size {
            return Err(Error::Protocol(format!(
                "{have} bytes received of {}",
                file.size
            )));
        }
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(|e| Error::io(dest, e))?;
        Ok(DownloadReport {
            bytes_received: have - resumed_from,
            file,
            resumed_from,
        })
    }

    /// Appends the file's bytes from `offset` to `out`; the count received
    /// goes with the error too, so a retry resumes after it.
    async fn receive(
        &self,
        file: &FileDto,
        offset: u64,
        out: &mut tokio::fs::File,
        hasher: &mut Sha256,
        progress: &dyn Progress,
        partial: &Path,
    ) -> Result<u64, (Error, u64)> {
        if offset == file.size {
            return Ok(0);
        }
        let mut body = std::pin::pin!(
            self.download_stream(file.id, Some(offset))
                .await
                .map_err(|e| (e, 0))?
        );
        let mut received = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| (e, received))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| (Error::io(partial, e), received))?;
            hasher.update(&chunk);
            received += chunk.len() as u64;
            progress.advanced(chunk.len() as u64);
        }
        Ok(received)
    }

    /// The bytes of file `id` from `offset` (all of them for `None` or 0),
    /// straight from the store.
    ///
    /// # Errors
    /// As [`Client::download_url`]; a store refusal as [`Error::Store`].
    pub async fn download_stream(
        &self,
        id: Uuid,
        offset: Option<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let presigned = self.download_url(id).await?;
        let mut get = self.inner.http.get(&presigned.url);
        let offset = offset.unwrap_or(0);
        if offset > 0 {
            get = get.header(RANGE, format!("bytes={offset}-"));
        }
        let response = get
            .send()
            .await
            .map_err(|e| Error::connect(&presigned.url, e))?;
        let expected = if offset > 0 {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        if response.status() != expected {
            return Err(store_error(response, "GET", format!("file {id}")).await);
        }
        let url = presigned.url;
        Ok(response
            .bytes_stream()
            .map_err(move |e| Error::connect(&url, e)))
    }
}

/// Where a download collects its bytes until they are verified.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".coffer-partial");
    dest.with_file_name(name)
}

/// The hash of what an earlier run left in `partial`, and its length; a
/// partial file longer than the file starts over.
async fn resume_from(partial: &Path, size: u64) -> Result<(Sha256, u64)> {
    match tokio::fs::metadata(partial).await {
        Ok(meta) if meta.len() <= size => crate::hashing::hash_file(partial).await,
        Ok(_) => {
            tokio::fs::remove_file(partial)
                .await
                .map_err(|e| Error::io(partial, e))?;
            Ok((Sha256::new(), 0))
        }
        Err(_) => Ok((Sha256::new(), 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_sit_beside_their_destination() {
        assert_eq!(
            partial_path(Path::new("/tmp/out/report.pdf")),
            Path::new("/tmp/out/report.pdf.coffer-partial")
        );
    }
}
