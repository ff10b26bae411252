//! Reading files: metadata, listings, download URLs and streamed content.

use coffer_domain::{
    Action, Category, DispositionKind, ErrorCode, FileId, FileRecord, FileStatus, Filename,
    LogicalPath, PageCursor, Role, Subject, content_disposition,
};
use coffer_ports::{
    ByteRange, FileQuery, GetObject, Page, PresignGet, PresignedRequest, ReadFilter,
};
use serde_json::json;

use super::{Files, location, require_status};
use crate::effective_config::require_feature;
use crate::{Caller, ErrorKind, ServiceError};

/// Filters of `GET /files`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFiles {
    pub category: Option<Category>,
    pub path: Option<LogicalPath>,
    pub prefix: Option<LogicalPath>,
    /// Case-insensitive substring of the filename.
    pub q: Option<String>,
    /// Exactly this filename (NFC, as stored).
    pub filename: Option<Filename>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Defaults to `available`; `deleted` lists the trash.
    pub status: Option<FileStatus>,
    pub owner: Option<Subject>,
    pub cursor: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
}

impl Files {
    /// One file's metadata, on record (`file.read`) before it is returned.
    ///
    /// # Errors
    /// `NotFound` (also for other tenants' files); `Forbidden` without read access.
    pub async fn get_file(&self, caller: &Caller, id: FileId) -> Result<FileRecord, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Read)
            .await?
            .file;
        self.recorder
            .record(&data, caller, &scope, "file.read", Some(file.id), json!({}))
            .await?;
        Ok(file)
    }

    /// The files the caller may read, newest first. The query (not the
    /// result) is on record before the page is returned: `file.searched`
    /// when it searches (`q` or `metadata`), `file.listed` otherwise.
    ///
    /// # Errors
    /// `Invalid` for a bad cursor, limit or search term.
    pub async fn list_files(
        &self,
        caller: &Caller,
        request: ListFiles,
    ) -> Result<Page<FileRecord>, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let limit = crate::error::page_limit(request.limit)?;
        let after = request
            .cursor
            .as_deref()
            .map(PageCursor::decode)
            .transpose()?;
        let name_contains = match request.q.clone() {
            Some(q) if q.chars().count() > 255 || q.chars().any(char::is_control) => {
                return Err(ServiceError::invalid(
                    ErrorCode::InvalidQuery,
                    "q must be at most 255 printable characters",
                ));
            }
            Some(q) if q.is_empty() => None,
            q => q,
        };
        if let Some(metadata) = &request.metadata {
            let depth = 1 + metadata
                .values()
                .map(coffer_domain::json_depth)
                .max()
                .unwrap_or(0);
            if depth > coffer_domain::METADATA_MAX_DEPTH {
                return Err(ServiceError::invalid(
                    ErrorCode::InvalidQuery,
                    format!(
                        "metadata must nest at most {} levels",
                        coffer_domain::METADATA_MAX_DEPTH
                    ),
                ));
            }
        }
        let (action, detail) = list_record(&request, name_contains.as_deref(), limit);
        let principal = &caller.principal;
        let filter = if principal.has_role(Role::Admin) {
            ReadFilter::All
        } else {
            ReadFilter::Readable {
                subject: principal.subject.clone(),
                roles: principal.roles.clone(),
                now: self.clock.now(),
            }
        };
        let query = FileQuery {
            filter,
            status: request.status.unwrap_or(FileStatus::Available),
            category: request.category,
            path: request.path,
            prefix: request.prefix,
            name_contains,
            filename: request.filename,
            metadata: request.metadata,
            owner: request.owner,
            after,
            limit,
        };
        let data = self.tenant_data.tenant_data(tenant).await?;
        // The record and the query run together; the page is returned only
        // once both succeeded.
        let (page, ()) = futures::future::try_join(
            async { Ok(data.files.list_files(&scope, &query).await?) },
            self.recorder
                .record(&data, caller, &scope, action, None, detail),
        )
        .await?;
        Ok(page)
    }

    /// A short-lived presigned GET that restores the original filename.
    ///
    /// # Errors
    /// `Conflict` unless the file is available.
    pub async fn download_url(
        &self,
        caller: &Caller,
        id: FileId,
        version: Option<u32>,
    ) -> Result<PresignedRequest, ServiceError> {
        let (tenant, scope) = caller.member()?;
        // Resolved once: the file is read and its access recorded in the
        // same tenant's data.
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Read)
            .await?
            .file;
        require_status(&file, FileStatus::Available)?;
        let file = match version {
            Some(version) => self.at_version(&data, &scope, file, version).await?,
            None => file,
        };
        let expires_in = self.configs.effective_config(tenant).await?.url_ttl();
        // Recorded before the URL exists: no access escapes the log.
        self.recorder
            .record(
                &data,
                caller,
                &scope,
                "file.download_url",
                Some(file.id),
                version_detail(version, json!({})),
            )
            .await?;
        let request = PresignGet {
            location: location(&file)?,
            content_disposition: Some(content_disposition(
                DispositionKind::Attachment,
                &file.filename,
            )),
            content_type: Some(file.content_type.clone()),
            now: self.clock.now(),
            expires_in,
        };
        Ok(self.store_of(tenant).presign_get(request).await?)
    }

    /// The file's bytes (or a range of them), streamed through Coffer.
    ///
    /// # Errors
    /// `RangeNotSatisfiable` for a range outside the file.
    pub async fn open_content(
        &self,
        caller: &Caller,
        id: FileId,
        version: Option<u32>,
        range: Option<ByteRange>,
    ) -> Result<(FileRecord, GetObject), ServiceError> {
        let (tenant, scope) = caller.member()?;
        let eff = self.configs.effective_config(tenant).await?;
        require_feature(&eff, coffer_domain::FeatureKey::ContentStreaming)?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        let file = self
            .access
            .authorized_file(&data, caller, &scope, id, Action::Read)
            .await?
            .file;
        require_status(&file, FileStatus::Available)?;
        let file = match version {
            Some(version) => self.at_version(&data, &scope, file, version).await?,
            None => file,
        };
        if range.is_some_and(|r| r.resolve(file.size_bytes).is_none()) {
            return Err(ServiceError::new(
                ErrorKind::RangeNotSatisfiable,
                ErrorCode::RangeNotSatisfiable,
                format!("the file has {} bytes", file.size_bytes),
            ));
        }
        self.recorder
            .record(
                &data,
                caller,
                &scope,
                "file.content",
                Some(file.id),
                version_detail(version, json!({ "range": range.is_some() })),
            )
            .await?;
        // An empty file has no byte to range over; serve it whole.
        let range = range.filter(|_| file.size_bytes > 0);
        let object = self
            .store_of(tenant)
            .get_stream(&location(&file)?, range)
            .await?;
        Ok((file, object))
    }
}

/// An audit detail, naming the version read when the caller asked for one.
fn version_detail(version: Option<u32>, mut detail: serde_json::Value) -> serde_json::Value {
    if let (Some(version), Some(fields)) = (version, detail.as_object_mut()) {
        fields.insert("version".into(), json!(version));
    }
    detail
}

/// The audit record of a listing: its action and its query parameters.
fn list_record(
    request: &ListFiles,
    q: Option<&str>,
    limit: u32,
) -> (&'static str, serde_json::Value) {
    let action = if q.is_some() || request.metadata.is_some() {
        "file.searched"
    } else {
        "file.listed"
    };
    let detail = json!({
        "category": request.category,
        "path": request.path,
        "prefix": request.prefix,
        "q": q,
        "filename": request.filename,
        "metadata": request.metadata,
        "status": request.status,
        "owner": request.owner,
        "cursor": request.cursor,
        "limit": limit,
    });
    (action, detail)
}
