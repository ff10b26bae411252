//! Metering of streamed bodies: size limit, SHA-256 and the first bytes for
//! sniffing, computed while the bytes pass, never by buffering the body.

use std::sync::{Arc, Mutex, PoisonError};

use coffer_domain::Sha256Digest;
use coffer_ports::ByteStream;
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::sniff::SNIFF_LEN;

#[derive(Debug, Default)]
pub(crate) struct Metered {
    pub(crate) bytes: u64,
    pub(crate) over_limit: bool,
    /// The body itself failed (e.g. the client went away).
    pub(crate) body_failed: bool,
    pub(crate) head: Vec<u8>,
    hasher: Sha256,
}

impl Metered {
    pub(crate) fn digest(&self) -> Sha256Digest {
        Sha256Digest::from_bytes(self.hasher.clone().finalize().into())
    }
}

pub(crate) type Meter = Arc<Mutex<Metered>>;

pub(crate) fn read(meter: &Meter) -> std::sync::MutexGuard<'_, Metered> {
    // A poisoned meter only means a panic elsewhere; its numbers are still right.
    meter.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wrap `body` so that it fails as soon as it exceeds `limit` bytes (the
/// store then abandons the upload) and records what passed through.
pub(crate) fn meter(body: ByteStream, limit: u64) -> (ByteStream, Meter) {
    let meter: Meter = Arc::default();
    let state = Arc::clone(&meter);
    let stream = body.map(move |chunk| {
        let mut m = read(&state);
        let chunk = chunk.inspect_err(|_| m.body_failed = true)?;
        m.bytes = m.bytes.saturating_add(chunk.len() as u64);
        if m.bytes > limit {
            m.over_limit = true;
            return Err(std::io::Error::other(format!("body exceeds {limit} bytes")));
        }
        m.hasher.update(&chunk);
        let room = SNIFF_LEN.saturating_sub(m.head.len());
        if room > 0 {
            let take = room.min(chunk.len());
            m.head
                .extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
        Ok(chunk)
    });
    (Box::pin(stream), meter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::stream;

    fn body(chunks: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
        ))
    }

    #[tokio::test]
    async fn counts_hashes_and_keeps_the_head() {
        let (s, meter) = meter(body(vec![b"hello ", b"world"]), 11);
        let collected: Vec<_> = s.collect().await;
        assert!(collected.iter().all(Result::is_ok));
        let m = read(&meter);
        assert_eq!(m.bytes, 11);
        assert!(!m.over_limit);
        assert_eq!(m.head, b"hello world");
        assert_eq!(
            m.digest().to_hex(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
    }

    #[tokio::test]
    async fn fails_once_over_the_limit() {
        let (s, meter) = meter(body(vec![b"12345", b"67890", b"x"]), 8);
        let collected: Vec<_> = s.collect().await;
        assert!(collected.first().is_some_and(Result::is_ok));
        assert!(collected.get(1).is_some_and(Result::is_err));
        assert!(read(&meter).over_limit);
    }
}
