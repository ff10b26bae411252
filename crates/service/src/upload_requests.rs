//! Upload requests (docs/sharing.md): an editor asks people outside the
//! tenant for files, into one folder; the outside party uploads through the
//! request's public page with no account, as the request.
//!
//! The files are the requester's: the visitor acts through a [`Caller`]
//! whose principal is the request's creator (with the editor role) and
//! whose [`Caller::acting`] is the request, so the ordinary upload use
//! cases ([`Files::initiate_upload`], [`Files::complete_upload`]) apply
//! every limit, verification and scan as for members, and the audit log
//! names the request as actor. Each upload takes a place when it starts
//! (atomically, so a request never takes more than its `max_files`); an
//! upload refused before it exists, or by verification, gives it back.
//! Opening the page is not on record: it shows only what its creator wrote
//! for outside eyes, and every upload through it is.

use std::sync::Arc;

use coffer_domain::{
    Action, ContentType, ErrorCode, FeatureKey, FileId, FileRecord, FileStatus, Filename,
    LinkToken, Metadata, RequestClosed, RequestTerms, RequestTermsError, Resource, Role, Subject,
    Tenant, TenantStatus, UploadRequest, UploadRequestId, decide,
};
use coffer_ports::{
    Clock, MetadataErrorKind, TenantClaim, TenantData, TenantDataResolver, TenantRegistry,
    TenantScope, UploadRequests,
};
use serde_json::json;

use crate::effective_config::require_feature;
use crate::files::check;
use crate::recorder::Recorder;
use crate::{
    Caller, EffectiveConfigs, ErrorKind, Files, InitiateUpload, InitiatedUpload, NewFileFields,
    PartRequest, PresignedPart, RequestMeta, ServiceConfig, ServiceError, TenantCaches,
};

/// The custom metadata key that marks a file as uploaded through a request
/// (its value: the request's id); the public endpoints act on such files only.
pub const REQUEST_MARKER: &str = "upload_request";

/// A request just made, with the token its URL carries: the only time it
/// is known.
#[derive(Debug, Clone)]
pub struct CreatedRequest {
    pub request: UploadRequest,
    pub token: LinkToken,
}

/// What the public page of an open request shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedRequest {
    pub message: Option<String>,
    /// The folder's last segment (`/` for the root), not its whole path.
    pub folder: String,
    pub expires_at: time::OffsetDateTime,
    pub max_size: u64,
    /// Empty: any type the tenant allows.
    pub allowed_types: Vec<ContentType>,
    pub files_left: u32,
}

/// A file a visitor wants to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorUpload {
    pub filename: Filename,
    pub size: u64,
    /// When missing, guessed from the name (as for members).
    pub content_type: Option<ContentType>,
}

/// Why a request took nothing: what its page (or its JSON endpoints) say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRefusal {
    /// No request has this token.
    Unknown,
    /// Closed, expired or full.
    Closed(RequestClosed),
    /// The request lives, but its tenant is not active or has upload
    /// requests switched off.
    Unavailable,
    /// This upload was refused (too large, a type not taken, verification
    /// failed), or Coffer could not answer.
    Failed(ServiceError),
}

impl From<ServiceError> for RequestRefusal {
    fn from(err: ServiceError) -> Self {
        Self::Failed(err)
    }
}

impl From<coffer_ports::MetadataError> for RequestRefusal {
    fn from(err: coffer_ports::MetadataError) -> Self {
        Self::Failed(err.into())
    }
}

/// An open request resolved to its active tenant.
struct Resolved {
    request: UploadRequest,
    tenant: Tenant,
}

/// Upload requests: made, listed and closed by members; used by anyone
/// who holds one.
#[derive(Clone)]
pub struct UploadRequesting {
    requests: Arc<dyn UploadRequests>,
    registry: Arc<dyn TenantRegistry>,
    caches: Arc<TenantCaches>,
    tenant_data: Arc<dyn TenantDataResolver>,
    files: Files,
    configs: EffectiveConfigs,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl UploadRequesting {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        requests: Arc<dyn UploadRequests>,
        registry: Arc<dyn TenantRegistry>,
        caches: Arc<TenantCaches>,
        tenant_data: Arc<dyn TenantDataResolver>,
        files: Files,
        configs: EffectiveConfigs,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            requests,
            registry,
            caches,
            tenant_data,
            files,
            configs,
            recorder: Recorder::new(clock.clone()),
            clock,
            config,
        }
    }

    /// Ask for files into `terms.path`.
    ///
    /// # Errors
    /// `Forbidden` for a viewer or with the `upload_requests` flag off;
    /// `Invalid` for terms out of range (naming the field).
    pub async fn create_request(
        &self,
        caller: &Caller,
        terms: RequestTerms,
    ) -> Result<CreatedRequest, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let now = self.clock.now();
        check(decide(
            &caller.principal,
            Resource::Tenant(tenant.id),
            Action::Create,
            &[],
            now,
        ))?;
        require_feature(
            &self.configs.effective_config(tenant).await?,
            FeatureKey::UploadRequests,
        )?;
        let terms = RequestTerms::new(terms, microseconds(now)).map_err(terms_refused)?;
        let token = LinkToken::from_random(random_token()?);
        let request = UploadRequest {
            id: UploadRequestId::new_random(),
            tenant_id: tenant.id,
            terms,
            files_received: 0,
            closed_at: None,
            created_by: caller.principal.subject.clone(),
            created_at: microseconds(now),
        };
        // On record before the request exists: no door opens unlogged.
        let journal = self.recorder.journal(
            caller,
            "upload_request.created",
            None,
            json!({
                "upload_request": request.id,
                "path": request.terms.path,
                "expires_at": request.terms.expires_at.unix_timestamp(),
                "max_files": request.terms.max_files,
                "max_size": request.terms.max_size,
            }),
        );
        let data = self.tenant_data.tenant_data(tenant).await?;
        data.events.record_journal(&scope, journal).await?;
        self.requests
            .create_request(request.clone(), token.digest())
            .await?;
        Ok(CreatedRequest { request, token })
    }

    /// The tenant's requests for an admin, the caller's own for anyone
    /// else; newest first, closed ones too.
    ///
    /// # Errors
    /// As [`Caller::member`].
    pub async fn list_requests(&self, caller: &Caller) -> Result<Vec<UploadRequest>, ServiceError> {
        let (tenant, _) = caller.member()?;
        let mut requests = self.requests.requests_of_tenant(tenant.id).await?;
        if !caller.principal.is_tenant_admin() {
            requests.retain(|r| r.created_by == caller.principal.subject);
        }
        Ok(requests)
    }

    /// One request, as [`UploadRequesting::list_requests`] shows it.
    ///
    /// # Errors
    /// `NotFound` for a request the caller may not see (another member's,
    /// another tenant's).
    pub async fn get_request(
        &self,
        caller: &Caller,
        id: UploadRequestId,
    ) -> Result<UploadRequest, ServiceError> {
        self.list_requests(caller)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ServiceError::not_found("upload request"))
    }

    /// Close a request at once (its creator or an admin); closing it again
    /// changes nothing.
    ///
    /// # Errors
    /// `NotFound` as [`UploadRequesting::get_request`].
    pub async fn close_request(
        &self,
        caller: &Caller,
        id: UploadRequestId,
    ) -> Result<UploadRequest, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let open = self.get_request(caller, id).await?;
        if open.closed_at.is_some() {
            return Ok(open);
        }
        let now = microseconds(self.clock.now());
        let closed = self
            .requests
            .close_request(tenant.id, id, now)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::NotFound) {
                    ServiceError::not_found("upload request")
                } else {
                    err.into()
                }
            })?;
        if closed.closed_at == Some(now) {
            let journal = self.recorder.journal(
                caller,
                "upload_request.closed",
                None,
                json!({ "upload_request": id, "files_received": closed.files_received }),
            );
            let data = self.tenant_data.tenant_data(tenant).await?;
            data.events.record_journal(&scope, journal).await?;
        }
        Ok(closed)
    }

    /// What the public page of `token` shows.
    ///
    /// # Errors
    /// A [`RequestRefusal`] for a request that takes no files.
    pub async fn open_request(&self, token: &str) -> Result<OpenedRequest, RequestRefusal> {
        let resolved = self.resolve(token).await?;
        if let Some(closed) = resolved.request.closed(self.clock.now()) {
            return Err(RequestRefusal::Closed(closed));
        }
        let request = resolved.request;
        let terms = request.terms;
        Ok(OpenedRequest {
            message: terms.message,
            folder: folder_name(terms.path.as_str()),
            expires_at: terms.expires_at,
            max_size: terms.max_size,
            allowed_types: terms.allowed_types,
            files_left: terms.max_files.saturating_sub(request.files_received),
        })
    }

    /// Start a visitor's upload into the request's folder: takes a place,
    /// then reserves the file (the requester's) and presigns its upload as
    /// for a member (in parts when it is larger than one part).
    ///
    /// # Errors
    /// A [`RequestRefusal`]; `Failed` with `PayloadTooLarge` or
    /// `UnsupportedMediaType` for a file the request (or the tenant) does
    /// not take, or any refusal of [`Files::initiate_upload`].
    pub async fn start_upload(
        &self,
        token: &str,
        upload: VisitorUpload,
        meta: &RequestMeta,
    ) -> Result<InitiatedUpload, RequestRefusal> {
        let resolved = self.resolve(token).await?;
        let request = &resolved.request;
        let now = self.clock.now();
        if let Some(closed) = request.closed(now) {
            return Err(RequestRefusal::Closed(closed));
        }
        let content_type = upload
            .content_type
            .clone()
            .unwrap_or_else(|| ContentType::guess_from(&upload.filename));
        if upload.size > request.terms.max_size {
            return Err(RequestRefusal::Failed(ServiceError::new(
                ErrorKind::PayloadTooLarge,
                ErrorCode::FileTooLarge,
                format!(
                    "this request takes files of at most {} bytes",
                    request.terms.max_size
                ),
            )));
        }
        if !request.accepts(&content_type, upload.size) {
            return Err(RequestRefusal::Failed(ServiceError::new(
                ErrorKind::UnsupportedMediaType,
                ErrorCode::ContentTypeNotAllowed,
                format!(
                    "this request does not take {}; it takes {}",
                    content_type.as_str(),
                    request
                        .terms
                        .allowed_types
                        .iter()
                        .map(ContentType::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )));
        }
        let caller = self.requester(&resolved, meta).await?;
        let eff = self.configs.effective_config(&resolved.tenant).await?;
        let multipart = upload.size > self.config.multipart_part_size
            && eff.enabled(FeatureKey::MultipartUploads);
        let marker = Metadata::new(json!({ REQUEST_MARKER: request.id }))
            .map_err(|e| ServiceError::internal(format!("the request marker: {e}")))?;
        let initiate = InitiateUpload {
            file: NewFileFields {
                filename: upload.filename,
                content_type: Some(content_type),
                category: None,
                path: Some(request.terms.path.clone()),
                visibility: None,
                metadata: Some(marker),
                checksum_sha256: None,
            },
            size: upload.size,
            multipart,
        };
        if self.requests.take_place(request.id, now).await?.is_none() {
            // Another upload took the last place (or it closed) meanwhile.
            return Err(RequestRefusal::Closed(self.why_closed(token).await));
        }
        match self.files.initiate_upload(&caller, initiate).await {
            Ok(initiated) => Ok(initiated),
            Err(err) => {
                self.give_back(request.id).await;
                Err(RequestRefusal::Failed(err))
            }
        }
    }

    /// Presign parts of a visitor's multipart upload.
    ///
    /// # Errors
    /// A [`RequestRefusal`]; `Failed` as [`Files::presign_parts`], or
    /// `NotFound` for a file that did not come through this request.
    pub async fn presign_parts(
        &self,
        token: &str,
        file: FileId,
        parts: Vec<PartRequest>,
        meta: &RequestMeta,
    ) -> Result<Vec<PresignedPart>, RequestRefusal> {
        let (_, caller) = self.visitor_file(token, file, meta).await?;
        Ok(self.files.presign_parts(&caller, file, parts).await?)
    }

    /// Verify a visitor's upload and make the file available (or
    /// `scanning`) in the request's folder, exactly as a member's. Bytes
    /// refused by verification give the request's place back, and the
    /// pending file goes: the visitor may send the file again.
    ///
    /// # Errors
    /// A [`RequestRefusal`]; `Failed` as [`Files::complete_upload`], or
    /// `NotFound` for a file that did not come through this request.
    pub async fn complete_upload(
        &self,
        token: &str,
        file: FileId,
        meta: &RequestMeta,
    ) -> Result<FileRecord, RequestRefusal> {
        let (resolved, caller) = self.visitor_file(token, file, meta).await?;
        match self.files.complete_upload(&caller, file).await {
            Ok(done) => Ok(done),
            Err(err) if err.kind == ErrorKind::Invalid => {
                self.abandon(&resolved, &caller, file, &err).await;
                Err(RequestRefusal::Failed(err))
            }
            Err(err) => Err(RequestRefusal::Failed(err)),
        }
    }

    /// The request of `token` and the on-behalf caller, for a file that
    /// came through it. Closing or expiry stops uploads under way; a
    /// request full only because of them does not.
    async fn visitor_file(
        &self,
        token: &str,
        file: FileId,
        meta: &RequestMeta,
    ) -> Result<(Resolved, Caller), RequestRefusal> {
        let resolved = self.resolve(token).await?;
        match resolved.request.closed(self.clock.now()) {
            None | Some(RequestClosed::Full) => {}
            Some(closed) => return Err(RequestRefusal::Closed(closed)),
        }
        let data = self.tenant_data.tenant_data(&resolved.tenant).await?;
        let scope = TenantScope::new(resolved.tenant.id);
        let marked = match data.files.get_file(&scope, file).await {
            Ok(stored) => marked_by(&stored.file, resolved.request.id),
            Err(err) if err.is(MetadataErrorKind::NotFound) => false,
            Err(err) => return Err(err.into()),
        };
        if !marked {
            return Err(RequestRefusal::Failed(ServiceError::not_found("upload")));
        }
        let caller = self.requester(&resolved, meta).await?;
        Ok((resolved, caller))
    }

    /// The caller a visitor acts as: the request's creator, as an editor of
    /// the request's tenant, with the request as actor.
    async fn requester(
        &self,
        resolved: &Resolved,
        meta: &RequestMeta,
    ) -> Result<Caller, ServiceError> {
        let tenant = &resolved.tenant;
        let subject = resolved.request.created_by.clone();
        let roles = vec![Role::Editor];
        let key = (tenant.id, tenant.home(), subject.clone(), roles.clone());
        let user_id = match self.caches.users.get(&key) {
            Some(id) => id,
            None => {
                let data = self.tenant_data.tenant_data(tenant).await?;
                let id = data
                    .members
                    .upsert_user(&TenantScope::new(tenant.id), &subject, &roles)
                    .await?;
                self.caches.users.insert(key, id);
                id
            }
        };
        let caller = Caller {
            principal: coffer_domain::Principal {
                subject,
                tenant: Some(tenant.id),
                user_id: Some(user_id),
                roles,
            },
            tenant: Some(tenant.clone()),
            request: meta.clone(),
            acting: Some(Subject::upload_request(resolved.request.id)),
        };
        // A visitor only uploads: a write.
        caller.writable()?;
        Ok(caller)
    }

    /// The request of `token` and its active tenant, open or not.
    async fn resolve(&self, token: &str) -> Result<Resolved, RequestRefusal> {
        let token = LinkToken::parse(token).map_err(|_| RequestRefusal::Unknown)?;
        let request = self
            .requests
            .find_request(token.digest())
            .await?
            .ok_or(RequestRefusal::Unknown)?;
        let tenant = self
            .caches
            .resolve(self.registry.as_ref(), &TenantClaim::Id(request.tenant_id))
            .await?
            .filter(|tenant| tenant.status == TenantStatus::Active)
            .ok_or(RequestRefusal::Unavailable)?;
        if !self
            .configs
            .effective_config(&tenant)
            .await?
            .enabled(FeatureKey::UploadRequests)
        {
            return Err(RequestRefusal::Unavailable);
        }
        Ok(Resolved { request, tenant })
    }

    /// Why a request refused a place: asked again, as it is now.
    async fn why_closed(&self, token: &str) -> RequestClosed {
        let now = self.clock.now();
        match LinkToken::parse(token) {
            Ok(token) => match self.requests.find_request(token.digest()).await {
                Ok(Some(request)) => request.closed(now).unwrap_or(RequestClosed::Full),
                _ => RequestClosed::Full,
            },
            Err(_) => RequestClosed::Full,
        }
    }

    /// Drop a visitor's pending file whose bytes verification refused, and
    /// give its place back. Best effort: the refusal is the answer.
    async fn abandon(
        &self,
        resolved: &Resolved,
        caller: &Caller,
        file: FileId,
        err: &ServiceError,
    ) {
        let scope = TenantScope::new(resolved.tenant.id);
        let removed = match self.tenant_data.tenant_data(&resolved.tenant).await {
            Ok(data) => self.remove_pending(&data, &scope, caller, file, err).await,
            Err(e) => Err(e.into()),
        };
        match removed {
            Ok(true) => self.give_back(resolved.request.id).await,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(file = %file, error = %e, "could not drop a refused upload; the sweep will");
            }
        }
    }

    /// Remove `file` if it is still pending; whether it was.
    async fn remove_pending(
        &self,
        data: &TenantData,
        scope: &TenantScope,
        caller: &Caller,
        file: FileId,
        err: &ServiceError,
    ) -> Result<bool, ServiceError> {
        let stored = data.files.get_file(scope, file).await?;
        if stored.file.status != FileStatus::Pending {
            return Ok(false);
        }
        let journal = self.recorder.journal(
            caller,
            "file.upload_abandoned",
            Some(file),
            json!({ "reason": err.code }),
        );
        data.files.remove_file(scope, file, Some(journal)).await?;
        Ok(true)
    }

    async fn give_back(&self, id: UploadRequestId) {
        if let Err(err) = self.requests.give_back_place(id).await {
            tracing::warn!(upload_request = %id, error = %err, "could not give a place back");
        }
    }
}

/// Whether `file` came through request `id`.
fn marked_by(file: &FileRecord, id: UploadRequestId) -> bool {
    file.metadata
        .as_map()
        .get(REQUEST_MARKER)
        .and_then(serde_json::Value::as_str)
        == Some(id.to_string().as_str())
}

/// The last segment of a folder's path; `/` for the root.
fn folder_name(path: &str) -> String {
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("/")
        .to_owned()
}

/// To the microsecond, as every store keeps times: a stored time then
/// compares equal to the one computed here.
fn microseconds(now: time::OffsetDateTime) -> time::OffsetDateTime {
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

fn terms_refused(err: RequestTermsError) -> ServiceError {
    let code = match err {
        RequestTermsError::ExpiryInPast => ErrorCode::ExpiryInPast,
        RequestTermsError::ExpiryTooFar => ErrorCode::ExpiryTooFar,
        _ => ErrorCode::ValidationFailed,
    };
    let mut refused = ServiceError::invalid(code, err.to_string());
    refused.field = Some(err.field());
    refused
}

fn random_token() -> Result<[u8; 32], ServiceError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::internal(format!("no randomness for a request token: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_folder_not_its_path() {
        assert_eq!(folder_name("/"), "/");
        assert_eq!(folder_name("/clients/acme/receipts"), "receipts");
    }
}
