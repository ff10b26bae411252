use std::io;
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::ScanVerdict;
use coffer_ports::{ByteStream, ScanError, ScanErrorKind, Scanner};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{self, SendError};
use crate::{ClamdAddress, ClamdConfig};

/// A connection to clamd, over TCP or a Unix socket.
trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

/// How long to look for clamd's answer after it stopped taking the body:
/// when it refuses a body over its limit it answers, then hangs up.
const ANSWER_AFTER_HANGUP: Duration = Duration::from_secs(1);

/// [`Scanner`] on ClamAV's clamd. One connection per call (clamd answers one
/// command per connection); nothing is held between calls, so a clamd that
/// restarts is used again at the next call.
#[derive(Debug, Clone)]
pub struct ClamdScanner {
    config: ClamdConfig,
}

impl ClamdScanner {
    /// A scanner for `config`. Nothing is sent until the first call: use
    /// [`Scanner::check_ready`] to see whether clamd answers.
    pub fn new(config: ClamdConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &ClamdConfig {
        &self.config
    }

    fn unavailable(&self, what: impl std::fmt::Display) -> ScanError {
        ScanError::new(
            ScanErrorKind::Unavailable,
            format!("clamd at {}: {what}", self.config.address),
        )
    }

    async fn connect(&self) -> Result<Box<dyn Connection>, ScanError> {
        let connecting = async {
            Ok::<Box<dyn Connection>, io::Error>(match &self.config.address {
                ClamdAddress::Tcp { host, port } => {
                    let stream = TcpStream::connect((host.as_str(), *port)).await?;
                    // The end of the stream is a 4-byte write: send it at once.
                    stream.set_nodelay(true)?;
                    Box::new(stream)
                }
                #[cfg(unix)]
                ClamdAddress::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
                #[cfg(not(unix))]
                ClamdAddress::Unix(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "Unix sockets are not available on this platform",
                    ));
                }
            })
        };
        match tokio::time::timeout(self.config.connect_timeout, connecting).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(self.unavailable("cannot connect").with_source(e)),
            Err(_) => Err(self.unavailable(format_args!(
                "no connection within {:?}",
                self.config.connect_timeout
            ))),
        }
    }

    /// A failed read of clamd's answer.
    fn read_failed(&self, e: io::Error) -> ScanError {
        if e.kind() == io::ErrorKind::InvalidData {
            ScanError::new(ScanErrorKind::Internal, "unexpected answer from clamd").with_source(e)
        } else {
            self.unavailable("lost the connection while waiting for the answer")
                .with_source(e)
        }
    }

    /// clamd answered, or hung up, before it had the whole body: never a
    /// verdict.
    fn answered_early(&self, answer: io::Result<protocol::Answer>) -> ScanError {
        match answer.map(|answer| protocol::parse_scan_answer(&answer)) {
            Ok(Err(e)) => e,
            Ok(Ok(verdict)) => ScanError::new(
                ScanErrorKind::Internal,
                format!("clamd answered `{verdict}` before it had the whole body"),
            ),
            Err(e) => self.read_failed(e),
        }
    }
}

#[async_trait]
impl Scanner for ClamdScanner {
    async fn scan(&self, body: ByteStream) -> Result<ScanVerdict, ScanError> {
        let connection = self.connect().await?;
        let (reader, writer) = tokio::io::split(connection);
        // The answer is read while the body is sent: clamd answers early
        // (and hangs up) when the body passes its StreamMaxLength.
        let answer = protocol::read_answer(reader);
        let send = protocol::send_body(writer, body, self.config.read_timeout);
        tokio::pin!(answer, send);
        let sent = tokio::select! {
            biased;
            early = &mut answer => return Err(self.answered_early(early)),
            sent = &mut send => sent,
        };
        match sent {
            Ok(()) => {}
            Err(SendError::Body(e)) => {
                // Dropping the connection mid-stream makes clamd discard it.
                return Err(
                    ScanError::new(ScanErrorKind::Internal, "the body stream failed")
                        .with_source(e),
                );
            }
            Err(SendError::TimedOut(waited)) => {
                return Err(self.unavailable(format_args!("took no data for {waited:?}")));
            }
            Err(SendError::Socket(e)) => {
                let grace = ANSWER_AFTER_HANGUP.min(self.config.read_timeout);
                return Err(match tokio::time::timeout(grace, answer).await {
                    Ok(Ok(said)) if !said.text.is_empty() => self.answered_early(Ok(said)),
                    _ => self
                        .unavailable("lost the connection while sending the body")
                        .with_source(e),
                });
            }
        }
        match tokio::time::timeout(self.config.read_timeout, answer).await {
            Ok(Ok(answer)) => protocol::parse_scan_answer(&answer),
            Ok(Err(e)) => Err(self.read_failed(e)),
            Err(_) => Err(self.unavailable(format_args!(
                "no answer within {:?}",
                self.config.read_timeout
            ))),
        }
    }

    async fn check_ready(&self) -> Result<(), ScanError> {
        let ping = async {
            let mut connection = self.connect().await?;
            connection
                .write_all(protocol::PING)
                .await
                .map_err(|e| self.unavailable("cannot send PING").with_source(e))?;
            let answer = protocol::read_answer(&mut connection)
                .await
                .map_err(|e| self.read_failed(e))?;
            protocol::parse_ping_answer(&answer)
        };
        tokio::time::timeout(self.config.ready_timeout, ping)
            .await
            .unwrap_or_else(|_| {
                Err(self.unavailable(format_args!(
                    "no PONG within {:?}",
                    self.config.ready_timeout
                )))
            })
    }
}
