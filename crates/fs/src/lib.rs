//! Coffer's embedded object store: file bytes on the local disk, behind the
//! same [`coffer_ports::ObjectStore`] port as S3, so `coffer serve` works with
//! nothing else installed.
//!
//! - **Durability**: a write streams into a temp file under the data dir while
//!   it is counted and hashed, is fsync'd, renamed over the key's path, and
//!   the directory is fsync'd. Nothing appears under a key before its bytes
//!   are complete and checked; a failing body or a crash leaves no half object.
//! - **Keys** become paths segment by segment, each re-validated, so no key can
//!   name a path outside its bucket's directory.
//! - **Storage URLs** are Coffer's own: `PUT`/`GET
//!   {public_url}/storage/{bucket}/{key}?…&X-Coffer-Expires=…&X-Coffer-Signature=…`,
//!   an HMAC-SHA256 over the method, bucket, key, expiry and, for an upload,
//!   the content type, exact length and checksum (for a download, the
//!   `Content-Disposition`/`Content-Type` it will answer with). The signing key
//!   is created on first use in `<data_dir>/keys/` with mode 0600.
//!
//! The HTTP route that serves storage URLs lives in the server; this crate
//! gives it a framework-free API:
//!
//! ```no_run
//! # async fn route(store: coffer_fs::FsStore, method: &str, path: &str, query: &str,
//! #     headers: std::collections::HashMap<String, String>,
//! #     body: futures::stream::Empty<Result<bytes::Bytes, std::io::Error>>) {
//! use coffer_fs::StorageAccess;
//! let header = |name: &str| headers.get(name).map(String::as_str);
//! match store.authorize(method, path, query, header) {
//!     Err(refused) => { /* answer refused.status() with refused.code() */ }
//!     Ok(StorageAccess::Put(access)) => match store.serve_put(access, body).await {
//!         Ok(stored) => { /* 200 with ETag: stored.etag */ }
//!         Err(failed) => { /* answer failed.status() */ }
//!     },
//!     Ok(StorageAccess::Get(access)) => {
//!         let range = header("range").and_then(coffer_fs::parse_range);
//!         match store.serve_get(access, range).await {
//!             Ok(object) => { /* object.status, object.headers, object.body */ }
//!             Err(failed) => { /* answer failed.status() */ }
//!         }
//!     }
//! }
//! # }
//! ```

mod error;
mod layout;
mod list;
mod multipart;
mod object_store;
mod params;
mod presign;
mod read;
mod serve;
mod sidecar;
mod signature;
mod signing_key;
mod store;
mod write;

pub use error::FsError;
pub use presign::MAX_EXPIRY;
pub use serve::{PutOutcome, ServedObject, TransferError, parse_range};
pub use signature::{
    CHECKSUM_HEADER, GetAccess, MAX_PART_BYTES, PutAccess, SignatureError, StorageAccess,
};
pub use store::{FsConfig, FsStore};
