//! clamd's protocol, the part Coffer speaks (clamd(8), "COMMANDS"):
//!
//! - `zPING\0` → `PONG\0`;
//! - `zINSTREAM\0`, then the body as chunks, each a 4-byte big-endian
//!   length and that many bytes, then a zero length → `stream: OK\0`,
//!   `stream: <signature> FOUND\0`, or `<reason> ERROR\0`
//!   (`INSTREAM size limit exceeded. ERROR` once the body passes
//!   `StreamMaxLength`, after which clamd closes the connection).
//!
//! The `z` prefix makes clamd end its answer with `\0`. Without a session
//! (`IDSESSION`) clamd closes the connection after answering, so one
//! connection carries one command.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use coffer_domain::{ScanVerdict, SignatureName};
use coffer_ports::{ByteStream, ScanError, ScanErrorKind};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

pub const PING: &[u8] = b"zPING\0";
pub const INSTREAM: &[u8] = b"zINSTREAM\0";
const END_OF_STREAM: [u8; 4] = [0; 4];

/// Body chunks are sent in pieces of at most this many bytes: a length must
/// fit in 32 bits, and clamd checks each announced length against what is
/// left of `StreamMaxLength` before it reads the piece, so a body over the
/// limit is refused without sending much past it.
const MAX_CHUNK: usize = 1024 * 1024;
/// Small chunks are gathered into writes of about this size.
const WRITE_BUFFER: usize = 64 * 1024;
/// A longer answer is not one of clamd's.
const MAX_ANSWER: usize = 4096;

/// Why the body could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// The body stream failed: nothing wrong with clamd.
    Body(io::Error),
    /// Writing to clamd failed: it went away, or refused the rest.
    Socket(io::Error),
    /// clamd took no bytes for this long.
    TimedOut(Duration),
}

/// Sends `INSTREAM`, `body` as length-prefixed chunks and the zero-length
/// end. Each write must go through within `write_timeout`; the body stream
/// itself is waited for without a bound (its producer's business).
/// Empty chunks are skipped: a zero length would end the stream early.
pub async fn send_body<W: AsyncWrite + Unpin>(
    writer: W,
    mut body: ByteStream,
    write_timeout: Duration,
) -> Result<(), SendError> {
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, writer);
    let timed = |result: Result<io::Result<()>, tokio::time::error::Elapsed>| match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SendError::Socket(e)),
        Err(_) => Err(SendError::TimedOut(write_timeout)),
    };
    timed(tokio::time::timeout(write_timeout, writer.write_all(INSTREAM)).await)?;
    while let Some(chunk) = body.next().await {
        let mut chunk: Bytes = chunk.map_err(SendError::Body)?;
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(MAX_CHUNK));
            let len = u32::try_from(piece.len()).unwrap_or(u32::MAX).to_be_bytes();
            let write = async {
                writer.write_all(&len).await?;
                writer.write_all(&piece).await
            };
            timed(tokio::time::timeout(write_timeout, write).await)?;
        }
    }
    let end = async {
        writer.write_all(&END_OF_STREAM).await?;
        writer.flush().await
    };
    timed(tokio::time::timeout(write_timeout, end).await)
}

/// What clamd said: the text before its `\0`, and whether the `\0` came.
/// Only a complete answer can be a verdict; one cut off by the end of the
/// connection (or by a reset after some bytes) can only be an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: Vec<u8>,
    pub complete: bool,
}

/// Reads one answer: up to its `\0`, or to the end of the connection.
///
/// # Errors
/// The read's error when nothing was read; `InvalidData` for an answer
/// longer than any of clamd's.
pub async fn read_answer<R: AsyncRead + Unpin>(mut reader: R) -> io::Result<Answer> {
    let mut text = Vec::with_capacity(64);
    let mut buf = [0u8; 512];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(n) => n,
            Err(_) if !text.is_empty() => 0,
            Err(e) => return Err(e),
        };
        let read = &buf[..n];
        if read.is_empty() {
            return Ok(Answer {
                text,
                complete: false,
            });
        }
        if let Some(end) = read.iter().position(|&b| b == 0) {
            text.extend_from_slice(&read[..end]);
            return Ok(Answer {
                text,
                complete: true,
            });
        }
        text.extend_from_slice(read);
        if text.len() > MAX_ANSWER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an answer longer than any of clamd's",
            ));
        }
    }
}

fn error(kind: ScanErrorKind, message: impl Into<String>) -> ScanError {
    ScanError::new(kind, message)
}

fn closed_without_an_answer() -> ScanError {
    error(
        ScanErrorKind::Unavailable,
        "clamd closed the connection without an answer",
    )
}

/// The verdict, or the error, an `INSTREAM` answer means.
pub fn parse_scan_answer(answer: &Answer) -> Result<ScanVerdict, ScanError> {
    let text = String::from_utf8_lossy(&answer.text);
    let text = text.trim_end();
    if text.is_empty() {
        return Err(closed_without_an_answer());
    }
    if text.ends_with(" ERROR") && text.contains("size limit exceeded") {
        return Err(error(
            ScanErrorKind::TooLarge,
            format!("the body is longer than clamd's StreamMaxLength ({text:?})"),
        ));
    }
    let verdict = if text == "stream: OK" {
        Some(Ok(ScanVerdict::Clean))
    } else {
        text.strip_prefix("stream: ")
            .and_then(|rest| rest.strip_suffix(" FOUND"))
            .map(|name| SignatureName::new(name).map(ScanVerdict::infected))
    };
    match verdict {
        Some(Ok(verdict)) if answer.complete => Ok(verdict),
        Some(Ok(_)) => Err(error(
            ScanErrorKind::Internal,
            format!("clamd's answer was cut off: {text:?}"),
        )),
        Some(Err(e)) => Err(error(
            ScanErrorKind::Internal,
            format!("clamd named an unusable signature: {text:?}"),
        )
        .with_source(e)),
        None => Err(error(
            ScanErrorKind::Internal,
            format!("unexpected answer from clamd: {text:?}"),
        )),
    }
}

/// Whether a `PING` answer is a complete `PONG`.
pub fn parse_ping_answer(answer: &Answer) -> Result<(), ScanError> {
    match String::from_utf8_lossy(&answer.text).trim_end() {
        "PONG" if answer.complete => Ok(()),
        "" => Err(closed_without_an_answer()),
        other => Err(error(
            ScanErrorKind::Internal,
            format!("clamd answered PING with {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(text: &[u8]) -> Answer {
        Answer {
            text: text.to_vec(),
            complete: true,
        }
    }

    fn cut_off(text: &[u8]) -> Answer {
        Answer {
            text: text.to_vec(),
            complete: false,
        }
    }

    fn kind(result: Result<ScanVerdict, ScanError>) -> Option<ScanErrorKind> {
        result.err().map(|e| e.kind())
    }

    #[test]
    fn scan_answers_map_to_verdicts_and_kinds() {
        assert_eq!(
            parse_scan_answer(&complete(b"stream: OK")).ok(),
            Some(ScanVerdict::Clean)
        );
        let found =
            parse_scan_answer(&complete(b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND")).ok();
        assert_eq!(
            found
                .as_ref()
                .and_then(ScanVerdict::signature)
                .map(|s| s.as_str()),
            Some("Eicar-Test-Signature.UNOFFICIAL")
        );
        for too_large in [
            complete(b"INSTREAM size limit exceeded. ERROR"),
            cut_off(b"INSTREAM size limit exceeded. ERROR"),
        ] {
            assert_eq!(
                kind(parse_scan_answer(&too_large)),
                Some(ScanErrorKind::TooLarge)
            );
        }
        assert_eq!(
            kind(parse_scan_answer(&cut_off(b""))),
            Some(ScanErrorKind::Unavailable)
        );
        for other in [
            complete(b"INSTREAM: Can't write to temporary file. ERROR"),
            complete(b"COMMAND READ TIMED OUT"),
            complete(b"UNKNOWN COMMAND"),
            complete(b"stream: FOUND"),
            complete(b"stream:  FOUND"),
            complete(b"stream: OK OK"),
            complete(b"stream: Eicar\x01 FOUND"),
            // A verdict only from a complete answer.
            cut_off(b"stream: OK"),
            cut_off(b"stream: Eicar-Test-Signature FOUND"),
        ] {
            assert_eq!(
                kind(parse_scan_answer(&other)),
                Some(ScanErrorKind::Internal),
                "{other:?}"
            );
        }
    }

    #[test]
    fn ping_answers() {
        assert!(parse_ping_answer(&complete(b"PONG")).is_ok());
        let kind = |answer: Answer| parse_ping_answer(&answer).err().map(|e| e.kind());
        assert_eq!(kind(cut_off(b"")), Some(ScanErrorKind::Unavailable));
        assert_eq!(kind(cut_off(b"PONG")), Some(ScanErrorKind::Internal));
        assert_eq!(kind(complete(b"PANG")), Some(ScanErrorKind::Internal));
    }

    #[tokio::test]
    async fn the_body_goes_as_length_prefixed_chunks_without_empty_ones() {
        let chunks: Vec<io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::new()),
            Ok(Bytes::from(vec![7u8; MAX_CHUNK + 2])),
        ];
        let mut sent = Vec::new();
        let body: ByteStream = Box::pin(futures::stream::iter(chunks));
        let result = send_body(&mut sent, body, Duration::from_secs(1)).await;
        assert!(result.is_ok(), "{result:?}");

        let mut expected = INSTREAM.to_vec();
        expected.extend_from_slice(&3u32.to_be_bytes());
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&u32::try_from(MAX_CHUNK).unwrap_or(0).to_be_bytes());
        expected.extend_from_slice(&vec![7u8; MAX_CHUNK]);
        expected.extend_from_slice(&2u32.to_be_bytes());
        expected.extend_from_slice(&[7, 7]);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert!(sent == expected, "framing differs");
    }

    #[tokio::test]
    async fn an_answer_ends_at_its_nul_or_at_the_end_of_the_connection() {
        assert_eq!(
            read_answer(&b"stream: OK\0trailing"[..]).await.ok(),
            Some(complete(b"stream: OK"))
        );
        assert_eq!(read_answer(&b"PONG"[..]).await.ok(), Some(cut_off(b"PONG")));
        let endless = vec![b'x'; MAX_ANSWER + 600];
        assert!(read_answer(&endless[..]).await.is_err());
    }
}
