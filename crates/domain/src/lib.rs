//! Coffer's domain: the types and rules every other crate builds on.
//!
//! Nothing here does I/O or is async. Every newtype validates in its
//! constructor, so a value that exists is valid: a [`Filename`] is NFC and has
//! no control characters, an [`ObjectKey`] always lies under its tenant's
//! prefix, and so on. The one access rule of the product is [`decide`].

mod access;
mod audit_chain;
mod cursor;
mod disposition;
mod error;
mod error_code;
mod file;
mod grant;
mod ids;
mod key;
mod limits;
mod onboarding;
pub mod outbound;
mod principal;
mod records;
mod scan;
mod share_link;
mod tenant;
mod tenant_move;
mod tenant_settings;
mod upload_request;
pub mod webhook;

pub use access::{Action, Decision, DenyReason, Resource, decide, effective_access};
pub use audit_chain::{
    ChainBreak, ChainHash, ChainWalk, ChainedFields, canonical_time, chain_time,
};
pub use cursor::PageCursor;
pub use disposition::{DispositionKind, content_disposition};
pub use error::ValidationError;
pub use error_code::ErrorCode;
pub use file::{
    Category, ContentType, FileRecord, FileStatus, FileVersion, Filename, LogicalPath,
    METADATA_MAX_BYTES, METADATA_MAX_DEPTH, Metadata, NotCompletable, Sha256Digest, Visibility,
    holds_nul, json_depth,
};
pub use grant::{Access, Grant, GrantSubject};
pub use ids::{FileId, GrantId, ShareLinkId, TenantId, UploadRequestId, UploadSessionId, UserId};
pub use key::{BucketName, KeyOutsideTenant, ObjectKey, Placement, SessionPrefix, TenantPrefix};
pub use limits::{
    LimitOverrides, LimitViolation, MAX_OBJECT_SIZE, MAX_PARTS, MIN_PART_SIZE, NegativeUsage,
    PlanLimits, RequestRates, Usage, UsageChange, is_storable,
};
pub use onboarding::{
    Onboarding, OnboardingRequest, OnboardingState, OnboardingStep, steps_from_str, steps_to_string,
};
pub use principal::{Principal, Role, SYSTEM_SUBJECT, Subject};
pub use records::{
    RemovalBlock, Retention, RetentionChangeRefused, RetentionMode, RetentionRule,
    decide_retention_change, removal_block,
};
pub use scan::{ScanVerdict, SignatureName};
pub use share_link::{
    LINK_PASSWORD_ATTEMPTS, LINK_PASSWORD_WINDOW, LinkDead, LinkDigest, LinkPassword, LinkTerms,
    LinkTermsError, LinkToken, MAX_LINK_DOWNLOADS, MAX_LINK_LIFETIME, PasswordAttempts, ShareLink,
};
pub use tenant::{Plan, Region, Tenant, TenantSlug, TenantStatus, is_plain_identifier};
pub use tenant_move::{
    MoveState, MoveStep, TenantMove, TenantPlacement, move_steps_from_str, move_steps_to_string,
};
pub use tenant_settings::{
    ConfigKeyError, EffectiveConfig, FeatureFlag, FeatureKey, FlagState, MAX_RETENTION_DAYS,
    MAX_URL_TTL_SECS, RESERVED_SETTINGS, RecordsRetention, SettingKey, Source, Sourced,
    TenantConfig,
};
pub use upload_request::{
    MAX_REQUEST_FILES, MAX_REQUEST_MESSAGE_CHARS, MAX_REQUEST_TYPES, RequestClosed, RequestTerms,
    RequestTermsError, UploadRequest,
};
