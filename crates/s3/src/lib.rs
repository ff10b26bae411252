//! Coffer's [`coffer_ports::ObjectStore`] on S3 and S3-compatible stores
//! (AWS S3, SeaweedFS, MinIO, Garage, Cloudflare R2), built on `aws-sdk-s3`.
//!
//! File bytes move between clients and the store through presigned URLs
//! whose signatures bind content type, length, checksum and encryption; the
//! adapter streams bodies through with bounded memory when Coffer must touch
//! them, and sets buckets up private, encrypted and with CORS for the web
//! origins. Every call re-checks that the key lies under the tenant's prefix
//! before anything is sent. Configuration and store-specific notes are in
//! `docs/storage.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), coffer_s3::S3Error> {
//! use coffer_s3::{S3Config, S3Store};
//!
//! let store = S3Store::new(S3Config {
//!     endpoint: Some("http://127.0.0.1:27400".to_owned()),
//!     access_key_id: Some("coffer".to_owned()),
//!     secret_access_key: Some("secret".into()),
//!     force_path_style: true,
//!     ..S3Config::default()
//! })
//! .await?;
//! # let _ = store;
//! # Ok(())
//! # }
//! ```

mod bucket;
mod client;
mod config;
mod copy;
mod credentials;
mod direct_get;
mod error;
mod lock;
mod multipart;
mod objects;
mod presign;
mod signing_credentials;
mod store;
mod upload;

pub use config::{S3Config, StsConfig};
pub use credentials::S3CredentialIssuer;
pub use error::S3Error;
pub use store::S3Store;
