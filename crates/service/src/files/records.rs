//! Records rules on files (docs/records.md): retention and legal holds,
//! set by tenant admins, and the store's own lock kept in step where the
//! store has one.

use coffer_domain::{
    Action, ErrorCode, FileId, FileRecord, FileStatus, LogicalPath, RemovalBlock, Retention,
    RetentionChangeRefused, Tenant, ValidationError, decide_retention_change,
};
use coffer_ports::{HoldTarget, LegalHold, NewLegalHold, ObjectLock};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Files, location, require_status};
use crate::{Caller, ServiceError};

/// The longest a retention may reach: 100 years from now.
const MAX_RETENTION: Duration = Duration::days(36_525);

/// A change of a file's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionChange {
    /// The new retention; `None` removes it.
    pub retention: Option<Retention>,
    /// Allow shortening or removing a governance retention (audited).
    pub bypass_governance: bool,
}

/// What a hold covers, as a caller names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldRequest {
    File(FileId),
    Folder(LogicalPath),
}

/// The refusal a records rule gives an erase.
pub(crate) fn removal_refused(block: RemovalBlock) -> ServiceError {
    match block {
        RemovalBlock::LegalHold => ServiceError::conflict(
            ErrorCode::LegalHold,
            "a legal hold keeps the file; release every hold first",
        ),
        RemovalBlock::Retained(r) => ServiceError::conflict(
            ErrorCode::FileRetained,
            format!(
                "the file is under {} retention until {}",
                r.mode,
                r.retain_until
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| r.retain_until.to_string())
            ),
        ),
    }
}

impl Files {
    /// The retention the tenant's rule gives a file of this category
    /// completing at `now`.
    pub(super) async fn default_retention(
        &self,
        tenant: &Tenant,
        file: &FileRecord,
        now: OffsetDateTime,
    ) -> Result<Option<Retention>, ServiceError> {
        let eff = self.configs.effective_config(tenant).await?;
        Ok(eff.retention_for(&file.category, now))
    }

    /// Set, extend, shorten or remove a file's retention. Tenant admins
    /// only; compliance only grows, governance shrinks only with
    /// `bypass_governance`, and a bypass is on record.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound`; `Conflict` for a pending
    /// file (`file_pending`), `retention_locked`, `governance_bypass_required`;
    /// `Invalid` for a date not in the future or beyond 100 years.
    pub async fn set_retention(
        &self,
        caller: &Caller,
        id: FileId,
        change: RetentionChange,
    ) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.admin("file retention")?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        // Through the access check, so a missing (or another tenant's) id
        // is on record as every file refusal is.
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Delete)
            .await?
            .file;
        if file.status == FileStatus::Pending {
            return require_status(&file, FileStatus::Available).map(|()| file);
        }
        let now = self.clock.now();
        if let Some(next) = &change.retention
            && !(now < next.retain_until && next.retain_until <= now + MAX_RETENTION)
        {
            return Err(ValidationError::new(
                "retain_until",
                "must lie in the future, at most 100 years from now",
            )
            .into());
        }
        decide_retention_change(
            file.retention.as_ref(),
            change.retention.as_ref(),
            change.bypass_governance,
            now,
        )
        .map_err(|refused| match refused {
            RetentionChangeRefused::Compliance(_) => {
                ServiceError::conflict(ErrorCode::RetentionLocked, refused.to_string())
            }
            RetentionChangeRefused::GovernanceNeedsBypass(_) => {
                ServiceError::conflict(ErrorCode::GovernanceBypassRequired, refused.to_string())
            }
        })?;
        // The bypass is on record only where it was needed.
        let bypassed = change.bypass_governance
            && decide_retention_change(
                file.retention.as_ref(),
                change.retention.as_ref(),
                false,
                now,
            )
            .is_err();
        let journal = self.recorder.announce(
            caller,
            "file.retention_changed",
            &file,
            json!({
                "from": file.retention,
                "to": change.retention,
                "bypass_governance": bypassed,
            }),
        );
        let updated = data
            .records
            .set_retention(&scope, id, change.retention, now, journal)
            .await
            .map_err(ServiceError::from_file_lookup)?;
        self.lock_in_store(tenant, &updated, bypassed).await;
        Ok(updated)
    }

    /// Place a legal hold on a file, or on every file under a folder (as
    /// the folder is now). Tenant admins only.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound` for a missing or pending
    /// file; `Invalid` for an empty or overlong reason.
    pub async fn place_hold(
        &self,
        caller: &Caller,
        target: HoldRequest,
        reason: String,
    ) -> Result<Vec<LegalHold>, ServiceError> {
        let (tenant, scope) = caller.admin("legal holds")?;
        let reason = reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(ValidationError::new("reason", "must be 1 to 1000 characters").into());
        }
        let data = self.tenant_data.tenant_data(tenant).await?;
        let (target, file) = match target {
            HoldRequest::File(id) => (HoldTarget::File(id), Some(id)),
            HoldRequest::Folder(path) => (HoldTarget::Folder(path), None),
        };
        let detail = match &target {
            HoldTarget::File(_) => json!({ "reason": reason }),
            HoldTarget::Folder(path) => json!({ "reason": reason, "folder": path }),
        };
        let journal = self
            .recorder
            .journal(caller, "file.legal_hold_placed", file, detail);
        let hold = NewLegalHold {
            target,
            reason,
            placed_by: caller.principal.subject.clone(),
            placed_at: self.clock.now(),
        };
        let holds = data
            .records
            .place_holds(&scope, hold, journal)
            .await
            .map_err(ServiceError::from_file_lookup)?;
        for hold in &holds {
            self.sync_store_lock(tenant, &data, hold.file_id).await;
        }
        Ok(holds)
    }

    /// Release one hold; the file stays held while another remains.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound` for an unknown hold.
    pub async fn release_hold(
        &self,
        caller: &Caller,
        hold: Uuid,
    ) -> Result<LegalHold, ServiceError> {
        let (tenant, scope) = caller.admin("legal holds")?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let journal = self.recorder.journal(
            caller,
            "file.legal_hold_released",
            None,
            json!({ "hold": hold }),
        );
        let (released, file) = data
            .records
            .release_hold(&scope, hold, journal)
            .await
            .map_err(|err| {
                if err.is(coffer_ports::MetadataErrorKind::NotFound) {
                    ServiceError::not_found("legal hold")
                } else {
                    err.into()
                }
            })?;
        self.lock_in_store(tenant, &file, false).await;
        Ok(released)
    }

    /// The holds placed on one file, or on any file of the tenant, oldest
    /// first. Tenant admins only.
    ///
    /// # Errors
    /// `Forbidden` for non-admins; `NotFound` for a missing file.
    pub async fn list_holds(
        &self,
        caller: &Caller,
        file: Option<FileId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<LegalHold>, ServiceError> {
        let (tenant, scope) = caller.admin("legal holds")?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        if let Some(id) = file {
            self.access
                .authorized_file(&data, caller, &scope, id, Action::Read)
                .await?;
        }
        // A read of the records, on record like every read (docs/audit.md).
        self.recorder
            .record(
                &data,
                caller,
                &scope,
                "file.legal_holds_read",
                file,
                json!({ "after": after }),
            )
            .await?;
        Ok(data
            .records
            .list_holds(&scope, file, after, limit.clamp(1, 1000))
            .await?)
    }

    /// Bring the store's lock of a file in step with its record.
    async fn sync_store_lock(&self, tenant: &Tenant, data: &coffer_ports::TenantData, id: FileId) {
        let scope = coffer_ports::TenantScope::new(tenant.id);
        match data.files.get_file(&scope, id).await {
            Ok(stored) => self.lock_in_store(tenant, &stored.file, false).await,
            Err(err) => {
                tracing::warn!(file = %id, error = %err, "could not read a file to lock it in the store");
            }
        }
    }

    /// Ask the store to enforce the file's retention and hold too, where it
    /// can. Coffer's own refusal does not depend on it, so a store that
    /// fails is logged, not the caller's error.
    pub(super) async fn lock_in_store(
        &self,
        tenant: &Tenant,
        file: &FileRecord,
        bypass_governance: bool,
    ) {
        let lock = ObjectLock {
            retention: file.retention.filter(|r| r.is_active(self.clock.now())),
            legal_hold: file.legal_hold,
        };
        let location = match location(file) {
            Ok(location) => location,
            Err(err) => {
                tracing::warn!(file = %file.id, error = %err, "a file's key is outside its tenant");
                return;
            }
        };
        match self
            .store_of(tenant)
            .apply_lock(&location, &lock, bypass_governance)
            .await
        {
            Ok(outcome) => {
                tracing::debug!(file = %file.id, ?outcome, "store lock applied");
            }
            Err(err) => {
                tracing::warn!(file = %file.id, error = %err, "the store did not take the file's lock; Coffer's own refusal still holds");
            }
        }
    }
}
