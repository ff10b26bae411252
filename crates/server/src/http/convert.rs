//! Between the API's types (`coffer-api`) and the use cases': request
//! bodies into use-case inputs, use-case answers into responses. These
//! live here, not in `coffer-api`, because the use cases' types are the
//! server's own (`coffer-service`, `coffer-ports`), which a client of the
//! API never sees; conversions from domain values are `From` impls in
//! `coffer-api`.

use coffer_api::{
    AuditDto, CredentialsDto, InitiateBody, InitiatedDto, LegalHoldDto, MultipartDto, PartsBody,
    PresignedDto, ReceivedPartDto, ReceivedPartsDto, RefusedDto, SessionRegistrationDto,
    TenantViewDto, UpdateBody, UploadSessionDto,
};
use coffer_domain::ErrorCode;
use coffer_ports::{AuditEntry, LegalHold, PresignedRequest};
use coffer_service::{
    CredentialAccess, InitiateUpload, InitiatedUpload, IssuedCredentials, NewFileFields,
    PartRequest, ReceivedParts, ServiceError, SessionRegistration, TenantView, UpdateFile,
    UploadTarget,
};

use super::ApiError;
use super::error::{problem_of, status_of};

/// `POST /files` with JSON, as the use case takes it.
pub fn initiate_upload(body: InitiateBody) -> InitiateUpload {
    InitiateUpload {
        file: NewFileFields {
            filename: body.filename,
            content_type: body.content_type,
            category: body.category,
            path: body.path,
            visibility: body.visibility,
            metadata: body.metadata,
            checksum_sha256: body.checksum_sha256,
        },
        size: body.size,
        multipart: body.multipart,
    }
}

/// `PATCH /files/{id}`, as the use case takes it.
pub fn update_file(body: UpdateBody) -> UpdateFile {
    UpdateFile {
        filename: body.filename,
        path: body.path,
        visibility: body.visibility,
        metadata: body.metadata,
    }
}

/// The parts to presign, each with its checksum.
///
/// # Errors
/// A checksum for a part that is not asked for.
pub fn part_requests(body: PartsBody) -> Result<Vec<PartRequest>, ServiceError> {
    if let Some(extra) = body
        .checksums_sha256
        .keys()
        .find(|n| !body.part_numbers.contains(n))
    {
        return Err(ServiceError::invalid(
            ErrorCode::InvalidParts,
            format!("checksums_sha256 names part {extra}, which part_numbers does not"),
        ));
    }
    Ok(body
        .part_numbers
        .iter()
        .map(|&part_number| PartRequest {
            part_number,
            checksum_sha256: body.checksums_sha256.get(&part_number).copied(),
        })
        .collect())
}

/// A page's `limit`, checked as the service's own listings check it.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    Ok(coffer_service::page_limit(limit)?)
}

pub fn presigned(r: PresignedRequest) -> PresignedDto {
    PresignedDto {
        method: r.method,
        url: r.url,
        headers: r.headers,
        expires_at: r.expires_at,
    }
}

pub fn initiated(up: InitiatedUpload) -> InitiatedDto {
    let (upload, multipart) = match up.upload {
        UploadTarget::Single(r) => (Some(presigned(r)), None),
        UploadTarget::Multipart(m) => (
            None,
            Some(MultipartDto {
                part_size: m.part_size,
                part_count: m.part_count,
                expires_at: m.expires_at,
            }),
        ),
    };
    InitiatedDto {
        file: up.file.into(),
        upload,
        multipart,
    }
}

pub fn received_parts(r: ReceivedParts) -> ReceivedPartsDto {
    ReceivedPartsDto {
        part_size: r.part_size,
        part_count: r.part_count,
        parts: r
            .parts
            .into_iter()
            .map(|p| ReceivedPartDto {
                part_number: p.part_number,
                size: p.size,
                etag: p.etag,
            })
            .collect(),
    }
}

pub fn tenant_view(v: TenantView) -> TenantViewDto {
    TenantViewDto {
        tenant: v.tenant.into(),
        limits: v.limits,
        usage: v.usage,
        onboarding: v.onboarding.map(Into::into),
        billing: v.billing,
        placement_status: "placed".to_owned(),
        last_move: None,
    }
}

pub fn audit_entry(e: AuditEntry) -> AuditDto {
    AuditDto {
        id: e.id,
        actor: e.actor.into(),
        action: e.action,
        file_id: e.file_id.map(|f| *f.as_uuid()),
        detail: e.detail,
        request_id: e.request_id,
        client_addr: e.client_addr,
        at: e.at,
        seq: e.seq,
        hash: e.hash.map(|h| h.to_hex()),
    }
}

pub fn credentials(issued: IssuedCredentials) -> CredentialsDto {
    let c = issued.credentials;
    CredentialsDto {
        access: match issued.access {
            CredentialAccess::Write => "write",
            CredentialAccess::Read => "read",
        }
        .to_owned(),
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expires_at: c.expires_at,
        endpoint: c.endpoint,
        region: c.region,
        force_path_style: c.force_path_style,
        bucket: issued.bucket.to_string(),
        buckets: issued.buckets.iter().map(ToString::to_string).collect(),
        prefix: issued.prefix,
        upload_session: issued.upload_session.map(|s| UploadSessionDto {
            id: *s.id.as_uuid(),
            complete_url: format!("/api/v1/upload-sessions/{}/complete", s.id),
            registrable_until: s.registrable_until,
        }),
    }
}

/// What became a file, and what did not, with the problem each refusal
/// answers with.
pub fn session_registration(outcome: SessionRegistration) -> SessionRegistrationDto {
    SessionRegistrationDto {
        registered: outcome.registered.into_iter().map(Into::into).collect(),
        refused: outcome
            .refused
            .into_iter()
            .map(|r| RefusedDto {
                key: r.key,
                problem: problem_of(status_of(&r.error), &r.error),
            })
            .collect(),
    }
}

pub fn legal_hold(h: LegalHold) -> LegalHoldDto {
    LegalHoldDto {
        id: h.id,
        file_id: *h.file_id.as_uuid(),
        reason: h.reason,
        placed_by: h.placed_by.into(),
        placed_at: h.placed_at,
    }
}
