//! Temporary store credentials for bulk work (docs/storage.md, "Temporary
//! credentials"): `write` confines an editor to a fresh upload session's
//! prefix, put-only; `read` lets a tenant admin read and list the tenant's
//! own prefix in every bucket it has objects in. The store enforces both
//! (a session policy), so isolation no longer rests on Coffer's code alone.
//! What lands in a session becomes files through
//! [`crate::Files::register_session`].

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::{
    Action, BucketName, Category, ErrorCode, Resource, TenantId, UploadSessionId, decide,
};
use coffer_ports::{
    Clock, CredentialRequest, CredentialScope, ObjectPrefix, TemporaryCredentials,
    TenantDataResolver, TenantScope, UploadSession, UploadSessions,
};
use serde::Serialize;
use serde_json::json;

use crate::files::check;
use crate::recorder::Recorder;
use crate::{Caller, ErrorKind, ServiceConfig, ServiceError, Stores};

/// STS's shortest session.
pub const MIN_CREDENTIAL_TTL: Duration = Duration::from_secs(900);

/// What the credentials may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialAccess {
    /// Put objects under a new upload session's prefix (editors).
    Write,
    /// Read and list the tenant's objects (tenant admins, for export).
    Read,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsRequest {
    pub access: CredentialAccess,
    /// `None`: the deployment's default, within the plan's maximum.
    pub ttl: Option<Duration>,
}

/// Credentials and where they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    pub access: CredentialAccess,
    pub credentials: TemporaryCredentials,
    /// Write: the bucket of the session's prefix. Read: the first of `buckets`.
    pub bucket: BucketName,
    /// Every bucket the credentials apply in (one for write).
    pub buckets: Vec<BucketName>,
    /// The key prefix the credentials are confined to, trailing slash included.
    pub prefix: String,
    /// The session to register the uploads of (write only).
    pub upload_session: Option<UploadSession>,
}

/// Issues temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    sessions: Arc<dyn UploadSessions>,
    tenant_data: Arc<dyn TenantDataResolver>,
    stores: Arc<Stores>,
    clock: Arc<dyn Clock>,
    config: Arc<ServiceConfig>,
    recorder: Recorder,
}

impl Credentials {
    pub fn new(
        sessions: Arc<dyn UploadSessions>,
        tenant_data: Arc<dyn TenantDataResolver>,
        stores: Arc<Stores>,
        clock: Arc<dyn Clock>,
        config: Arc<ServiceConfig>,
    ) -> Self {
        Self {
            recorder: Recorder::new(clock.clone()),
            sessions,
            tenant_data,
            stores,
            clock,
            config,
        }
    }

    /// Credentials for the caller's tenant, on record in its audit log
    /// before they are handed out.
    ///
    /// # Errors
    /// `Forbidden` for a viewer (write) or a non-admin (read);
    /// `Unsupported` (`credentials_unsupported`) when the tenant's store
    /// issues none; `Invalid` (`ttl_out_of_range`) for a lifetime outside
    /// 900 s … the plan's maximum.
    pub async fn issue(
        &self,
        caller: &Caller,
        request: CredentialsRequest,
    ) -> Result<IssuedCredentials, ServiceError> {
        let (tenant, scope) = match request.access {
            CredentialAccess::Write => {
                let member = caller.member()?;
                check(decide(
                    &caller.principal,
                    Resource::Tenant(member.0.id),
                    Action::Create,
                    &[],
                    self.clock.now(),
                ))?;
                member
            }
            CredentialAccess::Read => {
                caller.admin("reading the tenant's objects with credentials")?
            }
        };
        let issuer = self.stores.issuer_for(tenant).ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Unsupported,
                ErrorCode::CredentialsUnsupported,
                "this deployment's object store issues no temporary credentials; use presigned URLs",
            )
        })?;
        let max = self
            .config
            .credentials
            .max_ttl
            .for_plan(tenant.plan)
            .min(issuer.max_duration());
        let ttl = request
            .ttl
            .unwrap_or_else(|| self.config.credentials.default_ttl.min(max));
        if ttl < MIN_CREDENTIAL_TTL || ttl > max {
            return Err(ServiceError::invalid(
                ErrorCode::TtlOutOfRange,
                format!(
                    "ttl_secs must be {} to {} for this tenant",
                    MIN_CREDENTIAL_TTL.as_secs(),
                    max.as_secs()
                ),
            ));
        }
        let now = self.clock.now();
        let session_id = UploadSessionId::new_v7();
        let grant = match request.access {
            CredentialAccess::Write => {
                let bucket = self
                    .config
                    .placement
                    .bucket_for(tenant, &Category::default_category());
                let prefix = ObjectPrefix::upload_session(tenant.id, bucket, session_id);
                Grant::put(
                    prefix,
                    format!("coffer-w-{}", session_id.as_uuid().simple()),
                )
            }
            CredentialAccess::Read => {
                let buckets = self.stores.buckets_of(&self.config.placement, tenant);
                let prefixes = buckets
                    .into_iter()
                    .map(|b| ObjectPrefix::tenant(tenant.id, b))
                    .collect();
                Grant::read(prefixes, tenant.id, now)
            }
        };
        let credentials = issuer
            .issue(CredentialRequest {
                scope: grant.scope.clone(),
                session_name: grant.session_name.clone(),
                duration: ttl,
            })
            .await?;
        // The session is opened once the store said when the credentials
        // expire (it may cap the lifetime asked for). Until this request
        // answers nobody holds them, so nothing can land unrecorded.
        let session = match request.access {
            CredentialAccess::Write => {
                let expires_at = credentials.expires_at;
                let session = UploadSession {
                    id: session_id,
                    tenant_id: tenant.id,
                    created_by: caller.principal.subject.clone(),
                    bucket: grant.first()?.bucket().clone(),
                    expires_at,
                    registrable_until: expires_at + self.config.credentials.registration_window,
                    created_at: now,
                };
                self.sessions.open_session(session.clone()).await?;
                Some(session)
            }
            CredentialAccess::Read => None,
        };
        let first = grant.first()?;
        let issued = IssuedCredentials {
            access: request.access,
            bucket: first.bucket().clone(),
            prefix: first.as_str().to_owned(),
            buckets: grant
                .prefixes()
                .iter()
                .map(|p| p.bucket().clone())
                .collect(),
            upload_session: session,
            credentials,
        };
        self.record(caller, tenant, &scope, &issued).await?;
        Ok(issued)
    }

    async fn record(
        &self,
        caller: &Caller,
        tenant: &coffer_domain::Tenant,
        scope: &TenantScope,
        issued: &IssuedCredentials,
    ) -> Result<(), ServiceError> {
        let data = self.tenant_data.tenant_data(tenant).await?;
        let detail = json!({
            "access": issued.access,
            "buckets": issued.buckets,
            "prefix": issued.prefix,
            "expires_at": issued.credentials.expires_at.unix_timestamp(),
            "upload_session": issued.upload_session.as_ref().map(|s| s.id),
        });
        let recorded = self
            .recorder
            .record(&data, caller, scope, "credentials.issued", None, detail)
            .await;
        if recorded.is_err()
            && let Some(session) = &issued.upload_session
        {
            // Not on record: the credentials never leave; nothing will land.
            self.forget(tenant.id, session.id).await;
        }
        recorded
    }

    async fn forget(&self, tenant: TenantId, session: UploadSessionId) {
        if let Err(err) = self.sessions.remove_session(tenant, session).await {
            tracing::warn!(%session, error = %err, "could not forget an upload session; the sweep will");
        }
    }
}

/// What one request is granted, before the store issues it.
struct Grant {
    scope: CredentialScope,
    session_name: String,
}

impl Grant {
    fn put(prefix: ObjectPrefix, session_name: String) -> Self {
        Self {
            scope: CredentialScope::PutUnder(prefix),
            session_name,
        }
    }

    fn read(prefixes: Vec<ObjectPrefix>, tenant: TenantId, now: time::OffsetDateTime) -> Self {
        Self {
            scope: CredentialScope::ReadUnder(prefixes),
            session_name: format!(
                "coffer-r-{}-{}",
                tenant.as_uuid().simple(),
                now.unix_timestamp()
            ),
        }
    }

    /// The prefixes granted: one (write), or the tenant's in each of its
    /// buckets (read) — the same key prefix in every bucket.
    fn prefixes(&self) -> &[ObjectPrefix] {
        match &self.scope {
            CredentialScope::PutUnder(prefix) => std::slice::from_ref(prefix),
            CredentialScope::ReadUnder(prefixes) => prefixes,
        }
    }

    fn first(&self) -> Result<&ObjectPrefix, ServiceError> {
        self.prefixes()
            .first()
            .ok_or_else(|| ServiceError::internal("the tenant's placement names no bucket"))
    }
}
