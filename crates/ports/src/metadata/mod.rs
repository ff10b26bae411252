//! The metadata ports: small traits, one per concern, each implemented by
//! PostgreSQL (production) and SQLite (embedded) where its queries live.
//!
//! Registry-level ports (tenants, settings, onboarding, scans, upload
//! sessions, billing, job locks)
//! are the platform path shared by every instance. A tenant's own data
//! (files, members, grants, audit log, events, integrity) is reached
//! through [`TenantDataResolver`], which knows which database holds it.

mod audit;
mod databases;
mod files;
mod grants;
mod group_commit;
mod integrity;
mod members;
mod moves;
mod onboarding;
mod page;
mod ports;
mod readiness;
mod records;
mod registry;
mod scans;
mod sessions;
mod settings;
mod share_links;
mod tenant_data;
mod upload_requests;
mod versions;

pub use audit::{AuditChain, AuditEntry, AuditLog, AuditQuery, ChainHead, NewAudit, TenantAudits};
pub use databases::{TenantDatabases, databases_for};
pub use files::{
    FileCatalog, FileCatalogLayer, FilePatch, FileQuery, NewFile, ObjectFacts, ReadFilter,
    ReadRestriction, StoredFile,
};
pub use grants::{Grants, NewGrant};
pub use group_commit::GroupCommit;
pub use integrity::{FileObject, FileObjectQuery, Integrity};
pub use members::Members;
pub use moves::{
    ChainCarried, MoveProgress, MoveQueue, NewMove, ObjectRef, TableCopy, TenantRowCopier,
};
pub use onboarding::{NewOnboarding, OnboardingQueue, OnboardingQueueLayer, OnboardingUpdate};
pub use page::{MAX_PAGE_SIZE, Page, TenantScope, fetch_size, page_size};
pub use ports::{MetadataPorts, TenantMoves};
pub use readiness::MetadataReadiness;
pub use records::{BindingRecord, HoldTarget, LegalHold, NewLegalHold, Records};
pub use registry::{NewTenant, TenantPatch, TenantRegistry};
pub use scans::{ScanJob, ScanQueue};
pub use sessions::{UploadSession, UploadSessions};
pub use settings::TenantSettings;
pub use share_links::{FoundLink, NewShareLink, ShareLinks};
pub use tenant_data::{OneDatabase, TenantData, TenantDataResolver};
pub use upload_requests::UploadRequests;
pub use versions::{FileVersions, NewVersion};

#[cfg(feature = "mock")]
pub use audit::MockAuditLog;
#[cfg(feature = "mock")]
pub use databases::MockTenantDatabases;
#[cfg(feature = "mock")]
pub use files::MockFileCatalog;
#[cfg(feature = "mock")]
pub use grants::MockGrants;
#[cfg(feature = "mock")]
pub use integrity::MockIntegrity;
#[cfg(feature = "mock")]
pub use members::MockMembers;
#[cfg(feature = "mock")]
pub use moves::{MockMoveQueue, MockTenantRowCopier};
#[cfg(feature = "mock")]
pub use onboarding::MockOnboardingQueue;
#[cfg(feature = "mock")]
pub use readiness::MockMetadataReadiness;
#[cfg(feature = "mock")]
pub use records::MockRecords;
#[cfg(feature = "mock")]
pub use registry::MockTenantRegistry;
#[cfg(feature = "mock")]
pub use scans::MockScanQueue;
#[cfg(feature = "mock")]
pub use sessions::MockUploadSessions;
#[cfg(feature = "mock")]
pub use settings::MockTenantSettings;
#[cfg(feature = "mock")]
pub use share_links::MockShareLinks;
#[cfg(feature = "mock")]
pub use tenant_data::MockTenantDataResolver;
#[cfg(feature = "mock")]
pub use upload_requests::MockUploadRequests;
#[cfg(feature = "mock")]
pub use versions::MockFileVersions;
