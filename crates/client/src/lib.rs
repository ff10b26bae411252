//! An async client of Coffer's HTTP API, for Rust services and the
//! `coffer` command line.
//!
//! - **Files**: metadata, listings as a [`Stream`](futures::Stream) over
//!   pages, rename/move, trash and restore, permissions.
//! - **Uploads** go straight to the store through presigned URLs: one PUT
//!   for small files, parts in parallel for large ones, streamed from disk
//!   (memory stays a few buffers), the SHA-256 declared so the store and
//!   Coffer refuse other bytes, and resumable from the parts already stored
//!   ([`Client::resume_upload`]).
//! - **Downloads** come straight from the store, resume with `Range`, and
//!   are checked against the SHA-256 Coffer verified.
//! - **Errors** carry the problem document's `code` as a typed
//!   [`Code`]; idempotent calls are retried with backoff on `503`
//!   and connection errors.
//! - **Tokens** from a [`StaticToken`], a service account
//!   ([`ClientCredentials`]) or a person's device-grant sign-in
//!   ([`Issuer::device_authorization`], then [`RefreshingToken`]), renewed
//!   before they expire.
//!
//! ```no_run
//! # async fn run() -> coffer_client::Result<()> {
//! use std::sync::Arc;
//! use coffer_client::{Client, ClientCredentials, Issuer, NewFile, NoProgress};
//!
//! let issuer = Issuer::discover(
//!     "https://sso.example.com/realms/coffer",
//!     "billing-service",
//!     Some("its-secret"),
//! )
//! .await?;
//! let client = Client::builder("https://files.example.com")
//!     .token_source(Arc::new(ClientCredentials::new(Arc::new(issuer))))
//!     .build()?;
//!
//! let new = NewFile::new("invoice-0042.pdf".parse()?).in_folder("/invoices/2026".parse()?);
//! let uploaded = client.upload("invoice-0042.pdf".as_ref(), new, Arc::new(NoProgress)).await?;
//! client
//!     .download(uploaded.file.id, "copy.pdf".as_ref(), Arc::new(NoProgress))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The request and response types are `coffer-api`'s, the server's own.

/// The guide (docs/client.md), its example compiled as a doctest.
#[doc = include_str!("../../../docs/client.md")]
pub mod guide {}

mod calls;
mod client;
mod download;
mod error;
mod hashing;
mod oidc;
mod token;
mod upload;

pub use client::{Client, ClientBuilder, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PARALLELISM, Retry};
pub use coffer_api as api;
pub use coffer_domain::ErrorCode;
pub use download::DownloadReport;
pub use error::{Code, Error, Result};
pub use oidc::{DeviceAuthorization, Issuer};
pub use token::{ClientCredentials, RefreshingToken, StaticToken, TokenSource, Tokens};
pub use upload::{NewFile, NoProgress, Progress, UploadReport};
