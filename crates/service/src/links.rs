//! Share links (docs/sharing.md): those who may share a file make links to
//! it for people outside the tenant; the outside party opens the link's
//! public page and downloads through it, with no account, as the link.
//!
//! A link is dead once revoked, expired or used up, and opens nothing while
//! its file is not available or its tenant not active. Its token is shown
//! once, at creation: Coffer keeps only its SHA-256. Passwords are kept as
//! Argon2id hashes, and each link refuses passwords for a while after
//! [`coffer_domain::LINK_PASSWORD_ATTEMPTS`] wrong ones. Every use is in the
//! tenant's audit log, recorded before the download URL exists.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use coffer_domain::{
    Action, ContentType, DispositionKind, ErrorCode, FeatureKey, FileId, FileStatus, Filename,
    LINK_PASSWORD_ATTEMPTS, LinkDead, LinkPassword, LinkTerms, LinkTermsError, LinkToken,
    PasswordAttempts, ShareLink, ShareLinkId, Subject, Tenant, TenantStatus, content_disposition,
};
use coffer_ports::{
    Clock, FoundLink, MetadataErrorKind, NewShareLink, PresignGet, PresignedRequest, ShareLinks,
    TenantClaim, TenantData, TenantDataResolver, TenantRegistry, TenantScope,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::effective_config::require_feature;
use crate::files::{AuthorizedFile, FileAccess, location, require_status};
use crate::recorder::Recorder;
use crate::{Caller, EffectiveConfigs, RequestMeta, ServiceError, Stores, TenantCaches};

/// A new link's terms, as the API received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateLink {
    pub expires_at: OffsetDateTime,
    pub password: Option<LinkPassword>,
    pub max_downloads: Option<u32>,
}

/// A link just made, with the token its URL carries: the only time it is
/// known.
#[derive(Debug, Clone)]
pub struct CreatedLink {
    pub link: ShareLink,
    pub token: LinkToken,
}

/// What the public page of a live link shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedLink {
    pub filename: Filename,
    pub content_type: ContentType,
    pub size: u64,
    pub password_required: bool,
    pub expires_at: OffsetDateTime,
    /// Downloads left, for a link with a limit.
    pub downloads_left: Option<u32>,
}

/// Why a link opened nothing: what its public page says instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No link has this token.
    Unknown,
    /// The link was revoked, expired or used up.
    Dead(LinkDead),
    /// The link lives, but its file is not there to download (trashed,
    /// erased, quarantined…) or its tenant is not active.
    Unavailable,
    /// The link has a password, and it was missing or wrong: the page
    /// asks again, showing `link`.
    Password {
        problem: PasswordProblem,
        link: Box<OpenedLink>,
    },
    /// Too many wrong passwords: none is checked before `until`.
    Locked { until: OffsetDateTime },
    /// Coffer could not answer (a dependency down, a bug).
    Failed(ServiceError),
}

impl From<ServiceError> for LinkRefusal {
    fn from(err: ServiceError) -> Self {
        Self::Failed(err)
    }
}

impl From<coffer_ports::MetadataError> for LinkRefusal {
    fn from(err: coffer_ports::MetadataError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<coffer_ports::StoreError> for LinkRefusal {
    fn from(err: coffer_ports::StoreError) -> Self {
        Self::Failed(err.into())
    }
}

/// What was wrong with the password given for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    Missing,
    /// Wrong; `attempts_left` before the link pauses.
    Wrong {
        attempts_left: u32,
    },
}

/// A live link resolved to its tenant and file.
struct Resolved {
    found: FoundLink,
    tenant: Tenant,
    data: Arc<TenantData>,
    scope: TenantScope,
    file: coffer_domain::FileRecord,
}

impl Resolved {
    /// What the link's page shows.
    fn opened(&self) -> OpenedLink {
        let link = &self.found.link;
        OpenedLink {
            filename: self.file.filename.clone(),
            content_type: self.file.content_type.clone(),
            size: self.file.size_bytes,
            password_required: link.password_protected,
            expires_at: link.expires_at,
            downloads_left: link
                .max_downloads
                .map(|max| max.saturating_sub(link.downloads)),
        }
    }
}

/// Share links: made and revoked by those who may share the file, used by
/// anyone who holds one.
#[derive(Clone)]
pub struct LinkSharing {
    links: Arc<dyn ShareLinks>,
    registry: Arc<dyn TenantRegistry>,
    caches: Arc<TenantCaches>,
    tenant_data: Arc<dyn TenantDataResolver>,
    stores: Arc<Stores>,
    configs: EffectiveConfigs,
    clock: Arc<dyn Clock>,
    access: FileAccess,
    recorder: Recorder,
}

impl LinkSharing {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        links: Arc<dyn ShareLinks>,
        registry: Arc<dyn TenantRegistry>,
        caches: Arc<TenantCaches>,
        tenant_data: Arc<dyn TenantDataResolver>,
        stores: Arc<Stores>,
        configs: EffectiveConfigs,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            links,
            registry,
            caches,
            tenant_data,
            stores,
            configs,
            access: FileAccess::new(clock.clone()),
            recorder: Recorder::new(clock.clone()),
            clock,
        }
    }

    /// Make a link to an available file.
    ///
    /// # Errors
    /// `Forbidden` without the right to share the file; `Conflict` unless
    /// it is available; `Invalid` for an expiry in the past or more than a
    /// year ahead, or a download limit of 0.
    pub async fn create_link(
        &self,
        caller: &Caller,
        file: FileId,
        request: CreateLink,
    ) -> Result<CreatedLink, ServiceError> {
        let AuthorizedFile {
            tenant,
            scope,
            data,
            stored,
        } = self.shared_file(caller, file).await?;
        require_feature(
            &self.configs.effective_config(tenant).await?,
            FeatureKey::ShareLinks,
        )?;
        require_status(&stored.file, FileStatus::Available)?;
        let now = self.clock.now();
        let terms = LinkTerms::new(request.expires_at, request.max_downloads, now)
            .map_err(terms_refused)?;
        let password_hash = match request.password {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let token = LinkToken::from_random(random_token()?);
        let link = ShareLink {
            id: ShareLinkId::new_random(),
            tenant_id: tenant.id,
            file_id: file,
            expires_at: terms.expires_at,
            max_downloads: terms.max_downloads,
            downloads: 0,
            password_protected: password_hash.is_some(),
            revoked_at: None,
            created_by: caller.principal.subject.clone(),
            created_at: now,
        };
        // On record (and announced to the tenant's webhook) before the link
        // exists: no door opens unlogged.
        let journal = self.recorder.announce(
            caller,
            "link.created",
            &stored.file,
            json!({
                "link": link.id,
                "expires_at": link.expires_at.unix_timestamp(),
                "max_downloads": link.max_downloads,
                "password": link.password_protected,
            }),
        );
        data.events.record_journal(&scope, journal).await?;
        self.links
            .create_link(NewShareLink {
                link: link.clone(),
                digest: token.digest(),
                password_hash,
            })
            .await?;
        Ok(CreatedLink { link, token })
    }

    /// The links of a file, revoked and expired ones too.
    ///
    /// # Errors
    /// `Forbidden` without the right to share the file.
    pub async fn list_links(
        &self,
        caller: &Caller,
        file: FileId,
    ) -> Result<Vec<ShareLink>, ServiceError> {
        let tenant = self.shared_file(caller, file).await?.tenant;
        Ok(self.links.links_of_file(tenant.id, file).await?)
    }

    /// Revoke a link at once; revoking it again changes nothing.
    ///
    /// # Errors
    /// `NotFound` when the file has no such link.
    pub async fn revoke_link(
        &self,
        caller: &Caller,
        file: FileId,
        link: ShareLinkId,
    ) -> Result<ShareLink, ServiceError> {
        let AuthorizedFile {
            tenant,
            scope,
            data,
            stored,
        } = self.shared_file(caller, file).await?;
        // To the microsecond, as every store keeps it: the stored time then
        // says whether this call revoked the link or an earlier one did.
        let now = self.clock.now();
        let now = now
            .replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now);
        let revoked = self
            .links
            .revoke_link(tenant.id, file, link, now)
            .await
            .map_err(|err| {
                if err.is(MetadataErrorKind::NotFound) {
                    ServiceError::not_found("link")
                } else {
                    err.into()
                }
            })?;
        // Revoking again changes nothing, so it is no news either.
        if revoked.revoked_at == Some(now) {
            let journal = self.recorder.announce(
                caller,
                "link.revoked",
                &stored.file,
                json!({ "link": link }),
            );
            data.events.record_journal(&scope, journal).await?;
        }
        Ok(revoked)
    }

    /// The caller's file `file`, which the caller may share.
    async fn shared_file<'c>(
        &self,
        caller: &'c Caller,
        file: FileId,
    ) -> Result<AuthorizedFile<'c>, ServiceError> {
        self.access
            .member_file(self.tenant_data.as_ref(), caller, file, Action::Share)
            .await
    }

    /// What the public page of `token` shows; the visit is on record.
    ///
    /// # Errors
    /// A [`LinkRefusal`] for a link that opens nothing.
    pub async fn open_link(
        &self,
        token: &str,
        request: &RequestMeta,
    ) -> Result<OpenedLink, LinkRefusal> {
        let resolved = self.resolve(token).await?;
        self.record_use(&resolved, request, "link.opened", json!({}))
            .await?;
        Ok(resolved.opened())
    }

    /// A short-lived presigned GET of the link's file, for who knows the
    /// link's password (when it has one). The download is counted and on
    /// record before the URL exists.
    ///
    /// # Errors
    /// A [`LinkRefusal`]; a wrong password is on record too.
    pub async fn download(
        &self,
        token: &str,
        password: Option<&str>,
        request: &RequestMeta,
    ) -> Result<PresignedRequest, LinkRefusal> {
        let resolved = self.resolve(token).await?;
        self.check_password(&resolved, password, request).await?;
        let link = &resolved.found.link;
        let now = self.clock.now();
        let counted = self
            .links
            .count_download(link.id, now)
            .await?
            // Used up or revoked since it was resolved.
            .ok_or(LinkRefusal::Dead(LinkDead::UsedUp))?;
        self.record_use(
            &resolved,
            request,
            "link.downloaded",
            json!({ "downloads": counted.downloads }),
        )
        .await?;
        let file = &resolved.file;
        let expires_in = self
            .configs
            .effective_config(&resolved.tenant)
            .await?
            .url_ttl();
        let presign = PresignGet {
            location: location(file)?,
            content_disposition: Some(content_disposition(
                DispositionKind::Attachment,
                &file.filename,
            )),
            content_type: Some(file.content_type.clone()),
            now,
            expires_in,
        };
        Ok(self
            .stores
            .for_tenant(&resolved.tenant)
            .presign_get(presign)
            .await?)
    }

    /// The live link of `token`, its active tenant and its available file.
    async fn resolve(&self, token: &str) -> Result<Resolved, LinkRefusal> {
        let token = LinkToken::parse(token).map_err(|_| LinkRefusal::Unknown)?;
        let found = self
            .links
            .find_link(token.digest())
            .await?
            .ok_or(LinkRefusal::Unknown)?;
        if let Some(dead) = found.link.dead(self.clock.now()) {
            return Err(LinkRefusal::Dead(dead));
        }
        let tenant = self
            .caches
            .resolve(
                self.registry.as_ref(),
                &TenantClaim::Id(found.link.tenant_id),
            )
            .await?
            .filter(|tenant| tenant.status == TenantStatus::Active)
            .ok_or(LinkRefusal::Unavailable)?;
        // A tenant that turned external sharing off closes every link at once.
        if !self
            .configs
            .effective_config(&tenant)
            .await?
            .enabled(FeatureKey::ShareLinks)
        {
            return Err(LinkRefusal::Unavailable);
        }
        let scope = TenantScope::new(tenant.id);
        let data = self.tenant_data.tenant_data(&tenant).await?;
        let file = match data.files.get_file(&scope, found.link.file_id).await {
            Ok(stored) if stored.file.status == FileStatus::Available => stored.file,
            Ok(_) => return Err(LinkRefusal::Unavailable),
            Err(err) if err.is(MetadataErrorKind::NotFound) => {
                return Err(LinkRefusal::Unavailable);
            }
            Err(err) => return Err(err.into()),
        };
        Ok(Resolved {
            found,
            tenant,
            data,
            scope,
            file,
        })
    }

    /// Let the download go on if the link needs no password or `password`
    /// is its own; count and record a wrong one.
    async fn check_password(
        &self,
        resolved: &Resolved,
        password: Option<&str>,
        request: &RequestMeta,
    ) -> Result<(), LinkRefusal> {
        let Some(hash) = resolved.found.password_hash.clone() else {
            return Ok(());
        };
        let now = self.clock.now();
        if let Some(until) = resolved.found.attempts.locked_until(now) {
            return Err(LinkRefusal::Locked { until });
        }
        let asked_again = |problem| LinkRefusal::Password {
            problem,
            link: Box::new(resolved.opened()),
        };
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(asked_again(PasswordProblem::Missing));
        };
        if verify_password(password.to_owned(), hash).await? {
            return Ok(());
        }
        let link = &resolved.found.link;
        let attempts: PasswordAttempts = self.links.note_wrong_password(link.id, now).await?;
        self.record_use(
            resolved,
            request,
            "link.password_refused",
            json!({ "failures": attempts.failures }),
        )
        .await?;
        Err(match attempts.locked_until(now) {
            Some(until) => LinkRefusal::Locked { until },
            None => asked_again(PasswordProblem::Wrong {
                attempts_left: LINK_PASSWORD_ATTEMPTS.saturating_sub(attempts.failures),
            }),
        })
    }

    /// Put a use of the link in its tenant's audit log, the link as actor.
    async fn record_use(
        &self,
        resolved: &Resolved,
        request: &RequestMeta,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let link = &resolved.found.link;
        let mut detail = detail;
        if let Some(map) = detail.as_object_mut() {
            map.insert("link".to_owned(), json!(link.id));
        }
        let entry = self.recorder.entry_of(
            Subject::link(link.id),
            request,
            action,
            Some(link.file_id),
            detail,
        );
        resolved
            .data
            .audit
            .append_audit(&resolved.scope, entry)
            .await?;
        Ok(())
    }
}

fn terms_refused(err: LinkTermsError) -> ServiceError {
    let (code, field) = match err {
        LinkTermsError::ExpiryInPast => (ErrorCode::ExpiryInPast, "expires_at"),
        LinkTermsError::ExpiryTooFar => (ErrorCode::ExpiryTooFar, "expires_at"),
        LinkTermsError::DownloadsOutOfRange => (ErrorCode::ValidationFailed, "max_downloads"),
    };
    let mut refused = ServiceError::invalid(code, err.to_string());
    refused.field = Some(field);
    refused
}

fn random_token() -> Result<[u8; 32], ServiceError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::internal(format!("no randomness for a link token: {e}")))?;
    Ok(bytes)
}

/// Argon2id with the crate's defaults (OWASP's minimum), off the async
/// threads: hashing takes tens of milliseconds on purpose.
async fn hash_password(password: LinkPassword) -> Result<String, ServiceError> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| ServiceError::internal(format!("no randomness for a salt: {e}")))?;
    blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_str().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
}

async fn verify_password(password: String, hash: String) -> Result<bool, ServiceError> {
    blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| e.to_string())?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::internal(format!("password work failed: {e}")))?
        .map_err(|e| ServiceError::internal(format!("password hashing: {e}")))
}
