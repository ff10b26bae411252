//! Every stable machine `code` an API error can carry, in one place.
//!
//! Clients match on these strings (the `code` of a problem+json body, see
//! docs/api.md), so a variant's string never changes once released. The
//! server decides the HTTP status from the error's kind, not from the code;
//! the comment on each variant names the status it is produced with.

use std::fmt;

use serde::{Serialize, Serializer};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)+) => {
        /// A stable machine-readable error code; [`ErrorCode::as_str`] is the
        /// snake_case string clients see.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The code a client read from a problem document; `None` for a
            /// code this version does not know (a newer server's).
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // 400: the request cannot be parsed.
    /// 400: the JSON body (or a billing event) is not JSON.
    MalformedJson = "malformed_json",
    /// 400: the query string does not parse.
    MalformedQuery = "malformed_query",
    /// 400: a path id does not parse.
    MalformedId = "malformed_id",
    /// 400: the multipart form does not parse.
    MalformedForm = "malformed_form",
    /// 400: a header is not visible ASCII.
    MalformedHeader = "malformed_header",
    /// 400: a billing event has no `id` or `type`.
    MalformedEvent = "malformed_event",
    /// 400: the billing signature is missing, malformed or does not match.
    InvalidSignature = "invalid_signature",
    /// 400: the billing signature's timestamp is outside the tolerance.
    StaleSignature = "stale_signature",

    // 401: no or refused token.
    /// 401: no `Authorization: Bearer` header (nor a web app session).
    MissingToken = "missing_token",
    /// 401: the token is not valid.
    InvalidToken = "invalid_token",
    /// 401: the token has expired.
    TokenExpired = "token_expired",
    /// 401: the token names no tenant and the caller is not a platform admin.
    TenantMissing = "tenant_missing",
    /// 401: `X-Tenant` names a tenant the token does not allow.
    TenantNotAllowed = "tenant_not_allowed",
    /// 401: the token's tenant is not known here.
    UnknownTenant = "unknown_tenant",

    // 402
    /// 402: the caller's tenant is suspended.
    TenantSuspended = "tenant_suspended",

    // 403: allowed in the tenant, not on this.
    /// 403: the caller lacks the access the action needs.
    AccessDenied = "access_denied",
    /// 403: viewers cannot create files.
    RoleCannotCreate = "role_cannot_create",
    /// 403: the action is for tenant administrators.
    AdminRequired = "admin_required",
    /// 403: the endpoint is for platform administrators.
    PlatformAdminRequired = "platform_admin_required",
    /// 403: the token is not scoped to a tenant.
    NoTenant = "no_tenant",
    /// 403: the feature is disabled for this tenant.
    FeatureDisabled = "feature_disabled",
    /// 403: a CORS preflight from an origin, or for a method or header, not
    /// allowed here.
    CorsRefused = "cors_refused",
    /// 403: a request signed in by the web app's session cookie that
    /// changes something came from another site (CSRF).
    CrossSiteRequest = "cross_site_request",

    // 404
    /// 404: unknown, or another tenant's.
    NotFound = "not_found",
    /// 404: no route for this method and path.
    RouteNotFound = "route_not_found",
    /// 404: billing events are not configured.
    BillingNotConfigured = "billing_not_configured",
    /// 404: the upload request lives, but takes no files now (its tenant is
    /// not active, or has upload requests switched off).
    RequestUnavailable = "request_unavailable",

    // 405
    /// 405: the path exists, not with this method (`Allow` names those it has).
    MethodNotAllowed = "method_not_allowed",

    // 409: conflicts with the current state.
    /// 409: a file with this path and name exists.
    DuplicatePath = "duplicate_path",
    /// 409: no bytes were uploaded yet.
    UploadMissing = "upload_missing",
    /// 409: the uploaded parts do not form a complete object.
    UploadIncomplete = "upload_incomplete",
    /// 409: the file is still pending.
    FilePending = "file_pending",
    /// 409: the file is in the trash.
    FileDeleted = "file_deleted",
    /// 409: the file is already available.
    FileAvailable = "file_available",
    /// 409: the file waits for its malware scan; its bytes are not readable yet.
    FileScanning = "file_scanning",
    /// 409: the malware scan refused the file; its bytes are never readable.
    FileQuarantined = "file_quarantined",
    /// 409: the upload is a single PUT, not multipart.
    NotMultipart = "not_multipart",
    /// 409: the file's retention has passed.
    RetentionExpired = "retention_expired",
    /// 409: a records retention keeps the file; it cannot be erased yet.
    FileRetained = "file_retained",
    /// 409: a legal hold keeps the file; it cannot be trashed or erased.
    LegalHold = "legal_hold",
    /// 409: a compliance retention can only be extended.
    RetentionLocked = "retention_locked",
    /// 409: shortening or removing a governance retention needs `bypass_governance`.
    GovernanceBypassRequired = "governance_bypass_required",
    /// 409: retained or held records stop the tenant's purge.
    RecordsHeld = "records_held",
    /// 409: a tenant with this slug exists.
    SlugTaken = "slug_taken",
    /// 409: the tenant cannot change to that status.
    InvalidTransition = "invalid_transition",
    /// 409: the tenant is not provisioned yet.
    TenantNotReady = "tenant_not_ready",
    /// 409: only a cancelled tenant can be purged.
    TenantNotCancelled = "tenant_not_cancelled",
    /// 409: the tenant's onboarding failed.
    OnboardingFailed = "onboarding_failed",
    /// 409: only a failed onboarding can be retried.
    NotFailed = "not_failed",
    /// 409: the tenant is being moved to another placement already.
    MoveInProgress = "move_in_progress",
    /// 409: the tenant cannot be moved from where it is to where it was
    /// asked to go (docs/tenants-placement.md names the moves there are).
    MoveUnsupported = "move_unsupported",
    /// 409: the tenant is placed there already.
    AlreadyPlaced = "already_placed",
    /// 409: the upload session's registration window has closed.
    UploadSessionExpired = "upload_session_expired",
    /// 409: the metadata store reported a conflict nothing more specific names.
    Conflict = "conflict",
    /// 409: the metadata store refused a change in the current state.
    InvalidState = "invalid_state",
    /// 409: the object store reported a conflict.
    StorageConflict = "storage_conflict",

    // 410
    /// 410: the caller's tenant is cancelled.
    TenantCancelled = "tenant_cancelled",
    /// 410: the upload request was closed by its creator or an admin.
    RequestClosed = "request_closed",
    /// 410: the upload request has expired.
    RequestExpired = "request_expired",
    /// 410: the upload request took every file it allowed.
    RequestFull = "request_full",

    // 413: over a size limit or the quota.
    /// 413: the file is larger than the tenant allows.
    FileTooLarge = "file_too_large",
    /// 413: the tenant's quota would be exceeded.
    QuotaExceeded = "quota_exceeded",
    /// 413: the request body is too large.
    BodyTooLarge = "body_too_large",
    /// 413: a form field is too large.
    FieldTooLarge = "field_too_large",

    // 415
    /// 415: the plan does not allow this content type.
    ContentTypeNotAllowed = "content_type_not_allowed",
    /// 415: the body is neither JSON nor a multipart form.
    UnsupportedMediaType = "unsupported_media_type",

    // 416
    /// 416: the range lies outside the file.
    RangeNotSatisfiable = "range_not_satisfiable",

    // 422: well-formed but invalid, or verification failed.
    /// 422: the body has wrong types, unknown fields or invalid names.
    InvalidBody = "invalid_body",
    /// 422: a value is invalid; the error names the `field`.
    ValidationFailed = "validation_failed",
    /// 422: `limit` is out of range.
    InvalidLimit = "invalid_limit",
    /// 422: a query parameter is invalid.
    InvalidQuery = "invalid_query",
    /// 422: the uploaded size differs from the declared one.
    SizeMismatch = "size_mismatch",
    /// 422: the uploaded bytes do not match `checksum_sha256`.
    ChecksumMismatch = "checksum_mismatch",
    /// 422: the bytes are not of the declared content type.
    ContentMismatch = "content_mismatch",
    /// 422: the declared size is beyond what any store holds (5 TiB),
    /// whatever the tenant's limits.
    SizeOutOfRange = "size_out_of_range",
    /// 422: the webhook's host is, or resolves to, an internal address
    /// (loopback, private, link-local, metadata…) the operator has not allowed.
    WebhookTargetRefused = "webhook_target_refused",
    /// 422: `ttl_secs` is outside what the store and the tenant's plan allow.
    TtlOutOfRange = "ttl_out_of_range",
    /// 422: an upload session's manifest is empty, too long or repeats a key.
    InvalidManifest = "invalid_manifest",
    /// 422: the file is too small for multipart.
    MultipartTooSmall = "multipart_too_small",
    /// 422: part numbers out of range.
    InvalidParts = "invalid_parts",
    /// 422: an expiry lies in the past.
    ExpiryInPast = "expiry_in_past",
    /// 422: an expiry lies further ahead than allowed (share links: 365 days).
    ExpiryTooFar = "expiry_too_far",
    /// 422: the form has no `file` part.
    MissingFile = "missing_file",
    /// 422: the form names no filename.
    MissingFilename = "missing_filename",
    /// 422: the form has an unknown field.
    UnknownField = "unknown_field",
    /// 422: a streamed upload body ended with an error.
    BodyIncomplete = "body_incomplete",
    /// 422: no storage placement is configured for the region.
    RegionNotPlaced = "region_not_placed",
    /// 422: regional databases are configured, and none for the region.
    RegionWithoutDatabase = "region_without_database",
    /// 422: a dedicated database was asked for and none are configured.
    DedicatedDatabaseUnavailable = "dedicated_database_unavailable",
    /// 422: a schema of its own was asked for and schemas are not configured.
    DedicatedSchemaUnavailable = "dedicated_schema_unavailable",
    /// 422: no such tenant setting.
    UnknownSetting = "unknown_setting",
    /// 422: the setting is managed by its own endpoint.
    ReservedSetting = "reserved_setting",
    /// 422: no such feature flag.
    UnknownFeature = "unknown_feature",
    /// 422: the setting's value is invalid.
    InvalidSetting = "invalid_setting",

    // 429
    /// 429: too many requests for the tenant, the user or the client
    /// address; `Retry-After` says when to try again.
    RateLimited = "rate_limited",

    // 500
    /// 500: a bug or an unexpected answer; the detail carries no internals.
    Internal = "internal",

    // 501
    /// 501: the tenant's object store issues no temporary credentials (the
    /// embedded store; an S3 store without `sts` configured).
    CredentialsUnsupported = "credentials_unsupported",

    // 503: a dependency is down.
    /// 503: the metadata database is unavailable.
    MetadataUnavailable = "metadata_unavailable",
    /// 503: the object store is unavailable.
    StorageUnavailable = "storage_unavailable",
    /// 503: the identity provider is unavailable.
    IdentityUnavailable = "identity_unavailable",
    /// 503: the malware scanner is unavailable (`/readyz`).
    ScannerUnavailable = "scanner_unavailable",
    /// 503: the request did not complete in time.
    RequestTimeout = "request_timeout",
    /// 503: the tenant is moving to another placement; writes wait for the
    /// switch (`Retry-After`), reads go on.
    TenantMoving = "tenant_moving",
    /// A move to another region was asked for without
    /// `confirm_region_change: true` (residency is a promise).
    RegionChangeUnconfirmed = "region_change_unconfirmed",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let strings: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), ErrorCode::ALL.len(), "a code string twice");
        for code in strings {
            assert!(
                !code.is_empty()
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && !code.starts_with('_')
                    && !code.ends_with('_'),
                "{code:?} is not snake_case"
            );
        }
    }

    #[test]
    fn every_code_reads_back_from_its_string() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
        }
        assert_eq!(ErrorCode::from_code("a_code_from_a_newer_server"), None);
    }

    #[test]
    fn serializes_and_displays_as_its_string() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.to_string(), code.as_str());
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_owned()))
            );
        }
    }
}
