//! The request and response types of Coffer's HTTP API (`/api/v1`, and
//! the billing webhook's answer): one set of types, used by the server
//! (`coffer-server`, which reads the requests and writes the responses)
//! and by its clients (which write the requests and read the responses),
//! so the two cannot disagree. Each type derives serde both ways and the
//! utoipa schema the server's OpenAPI document is built from.
//!
//! The JSON is `snake_case`, enum values lowercase. Request bodies refuse
//! unknown fields; responses are open to fields a newer server adds.
//! Request fields that hold domain values (`Filename`, `LogicalPath`,
//! `TenantSlug`, …) are validated as they are read: a body that reads is
//! valid. Instants a client sends are RFC 3339, brought into the years
//! every store can hold ([`instant`]).
//!
//! This crate depends on `coffer-domain` and serde, time, uuid and utoipa
//! only — never on the server's ports, use cases, actix-web or an adapter
//! (`scripts/check-deps.sh`). Where a response is made from a domain value
//! the conversion is here (`FileDto::from(record)`); from a use case's
//! answer, it is the server's (`crates/server/src/http/convert.rs`).
//!
//! ```
//! use coffer_api::FileDto;
//!
//! let file: FileDto = serde_json::from_str(
//!     r#"{
//!         "id": "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b10",
//!         "filename": "contract.pdf",
//!         "path": "/contracts/2026",
//!         "category": "documents",
//!         "content_type": "application/pdf",
//!         "size": 48213,
//!         "checksum_sha256": null,
//!         "visibility": "private",
//!         "metadata": {"case": "A-1"},
//!         "status": "available",
//!         "owner": "alice",
//!         "created_at": "2026-03-01T09:30:00Z",
//!         "updated_at": "2026-03-01T09:30:02Z",
//!         "legal_hold": false,
//!         "version": 1
//!     }"#,
//! )?;
//! assert_eq!(file.filename, "contract.pdf");
//! assert_eq!(file.status, coffer_domain::FileStatus::Available);
//! assert!(file.deleted_at.is_none());
//! # Ok::<(), serde_json::Error>(())
//! ```

mod audit;
mod billing;
mod credentials;
mod events;
mod files;
mod grants;
pub mod instant;
pub mod json;
mod links;
mod page;
mod platform;
mod problem;
mod records;
mod tenants;
mod upload_requests;
mod versions;

pub use audit::*;
pub use billing::*;
pub use credentials::*;
pub use events::*;
pub use files::*;
pub use grants::*;
pub use links::*;
pub use page::*;
pub use platform::*;
pub use problem::*;
pub use records::*;
pub use tenants::*;
pub use upload_requests::*;
pub use versions::*;
