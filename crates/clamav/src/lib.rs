//! Coffer's [`coffer_ports::Scanner`] on ClamAV's clamd, over TCP or a Unix
//! socket.
//!
//! A body is streamed to clamd with `INSTREAM` (length-prefixed chunks, no
//! temporary file on Coffer's side, bounded memory) while its answer is
//! read, so clamd's early refusal of a body over its `StreamMaxLength` is
//! seen as [`coffer_ports::ScanErrorKind::TooLarge`] rather than as a broken
//! connection. Every wait is bounded ([`ClamdConfig`]). The protocol is
//! written here rather than taken from a crate: see `docs/decisions.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use coffer_clamav::{ClamdConfig, ClamdScanner};
//! use coffer_ports::Scanner;
//!
//! let scanner = ClamdScanner::new(ClamdConfig::new("tcp://127.0.0.1:3310".parse()?));
//! scanner.check_ready().await?;
//! let body = Box::pin(futures::stream::iter([Ok(bytes::Bytes::from_static(b"%PDF-1.7"))]));
//! let verdict = scanner.scan(body).await?;
//! assert!(verdict.is_clean());
//! # Ok(())
//! # }
//! ```

mod address;
mod config;
mod protocol;
mod scanner;

pub use address::{AddressError, ClamdAddress};
pub use config::ClamdConfig;
pub use scanner::ClamdScanner;

#[cfg(feature = "testing")]
pub mod testing;
