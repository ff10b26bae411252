//! The API's calls on files, permissions, the tenant, its audit log and
//! its events — each a typed method over `coffer-api`'s types.

use coffer_api::{
    AuditDto, AuditQueryParams, DownloadDto, EventDto, EventsQuery, FileDto, GrantBody, GrantDto,
    GrantsDto, LinkBody, LinkDto, LinksDto, ListQuery, TenantViewDto, UpdateBody,
    UploadRequestBody, UploadRequestDto, UploadRequestsDto,
};
use coffer_domain::{Filename, LogicalPath};
use futures::{Stream, TryStreamExt as _};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Call, Client};
use crate::error::Result;

impl Client {
    /// A file's metadata.
    ///
    /// # Errors
    /// `404 not_found` for a file the caller cannot see (another tenant's
    /// included), `403` without read access.
    pub async fn file(&self, id: Uuid) -> Result<FileDto> {
        self.call(Call::get(format!("files/{id}"))).await
    }

    /// The available file named `filename` in the folder `path`, if any.
    ///
    /// # Errors
    /// As [`Client::files`].
    pub async fn find(&self, path: &LogicalPath, filename: &Filename) -> Result<Option<FileDto>> {
        let query = ListQuery {
            path: Some(path.clone()),
            filename: Some(filename.clone()),
            limit: Some(1),
            ..ListQuery::default()
        };
        let mut files = std::pin::pin!(self.files(&query)?);
        files.try_next().await
    }

    /// The files the caller may read, matching `query`, newest first;
    /// pages are fetched as the stream is read (`query.cursor` is where to
    /// start, `query.limit` the page size).
    ///
    /// ```no_run
    /// # async fn run(client: coffer_client::Client) -> coffer_client::Result<()> {
    /// use futures::TryStreamExt as _;
    /// use coffer_api::ListQuery;
    ///
    /// let query = ListQuery { prefix: Some("/legal".parse()?), ..ListQuery::default() };
    /// let files: Vec<_> = client.files(&query)?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Items are errors when a page cannot be fetched; building the stream
    /// fails only for a query that does not serialize.
    pub fn files(
        &self,
        query: &ListQuery,
    ) -> Result<impl Stream<Item = Result<FileDto>> + Send + 'static> {
        let mut first = query.clone();
        let cursor = first.cursor.take();
        Ok(self.pages("files", "cursor", query_params(&first)?, cursor))
    }

    /// Renames, moves, changes visibility or merges metadata.
    ///
    /// # Errors
    /// `409 duplicate_path` when the new place is taken; `403` without
    /// write (or manage, for visibility) access.
    pub async fn update(&self, id: Uuid, change: &UpdateBody) -> Result<FileDto> {
        self.call(Call::new(Method::PATCH, format!("files/{id}"), true).json(change)?)
            .await
    }

    /// Moves a file to the trash, or erases it (`permanent`).
    ///
    /// # Errors
    /// `403` without manage access; `409` under retention or legal hold.
    pub async fn delete(&self, id: Uuid, permanent: bool) -> Result<()> {
        let mut call = Call::new(Method::DELETE, format!("files/{id}"), true).absent_is_done();
        if permanent {
            call = call.param("permanent", "true");
        }
        self.call_empty(call).await
    }

    /// Brings a file back from the trash.
    ///
    /// # Errors
    /// `409 duplicate_path` when its name was taken meanwhile.
    pub async fn restore(&self, id: Uuid) -> Result<FileDto> {
        self.call(Call::new(Method::POST, format!("files/{id}/restore"), true))
            .await
    }

    /// A presigned URL for the file's bytes (the access is audited first).
    ///
    /// # Errors
    /// `409 file_scanning`/`file_quarantined` while the bytes may not be read.
    pub async fn download_url(&self, id: Uuid) -> Result<DownloadDto> {
        self.call(Call::get(format!("files/{id}/download")).param("redirect", "false"))
            .await
    }

    /// The permissions on a file.
    ///
    /// # Errors
    /// `403` without manage access.
    pub async fn grants(&self, id: Uuid) -> Result<Vec<GrantDto>> {
        let grants: GrantsDto = self
            .call(Call::get(format!("files/{id}/permissions")))
            .await?;
        Ok(grants.items)
    }

    /// Gives a member or a role access to a file.
    ///
    /// # Errors
    /// `403` without manage access.
    pub async fn grant(&self, id: Uuid, grant: &GrantBody) -> Result<GrantDto> {
        self.call(Call::new(Method::POST, format!("files/{id}/permissions"), false).json(grant)?)
            .await
    }

    /// Takes a permission away.
    ///
    /// # Errors
    /// `404` for a permission that is not there.
    pub async fn revoke(&self, id: Uuid, grant_id: Uuid) -> Result<()> {
        self.call_empty(Call::new(
            Method::DELETE,
            format!("files/{id}/permissions/{grant_id}"),
            true,
        ))
        .await
    }

    /// Makes a share link: a public page that downloads the file for anyone
    /// with its URL ([`LinkDto::url`], in this answer only) until it
    /// expires, is used up or is revoked.
    ///
    /// # Errors
    /// `403` without manage access; `409` unless the file is available;
    /// `422` for an expiry past or more than 365 days ahead.
    pub async fn create_link(&self, id: Uuid, link: &LinkBody) -> Result<LinkDto> {
        // Not idempotent: a retried POST would make a second link.
        self.call(Call::new(Method::POST, format!("files/{id}/links"), false).json(link)?)
            .await
    }

    /// The share links of a file, revoked and expired ones too (no URLs).
    ///
    /// # Errors
    /// `403` without manage access.
    pub async fn links(&self, id: Uuid) -> Result<Vec<LinkDto>> {
        let links: LinksDto = self.call(Call::get(format!("files/{id}/links"))).await?;
        Ok(links.items)
    }

    /// Revokes a share link at once (revoking it again is no error).
    ///
    /// # Errors
    /// `404` for a link the file does not have.
    pub async fn revoke_link(&self, id: Uuid, link_id: Uuid) -> Result<()> {
        self.call_empty(Call::new(
            Method::DELETE,
            format!("files/{id}/links/{link_id}"),
            true,
        ))
        .await
    }

    /// Asks people outside the tenant for files into a folder: a public
    /// page that takes uploads for anyone with its URL
    /// ([`UploadRequestDto::url`], in this answer only) until it expires,
    /// is full or is closed.
    ///
    /// # Errors
    /// `403` for a viewer or with the tenant's `upload_requests` flag off;
    /// `422` for terms out of range (naming the field).
    pub async fn create_upload_request(
        &self,
        request: &UploadRequestBody,
    ) -> Result<UploadRequestDto> {
        // Not idempotent: a retried POST would make a second request.
        self.call(Call::new(Method::POST, "upload-requests", false).json(request)?)
            .await
    }

    /// The caller's upload requests (a tenant admin's: all the tenant's),
    /// newest first, closed ones too (no URLs).
    ///
    /// # Errors
    /// `402`/`410` for a suspended or cancelled tenant.
    pub async fn upload_requests(&self) -> Result<Vec<UploadRequestDto>> {
        let requests: UploadRequestsDto = self.call(Call::get("upload-requests")).await?;
        Ok(requests.items)
    }

    /// Closes an upload request at once (closing it again is no error).
    ///
    /// # Errors
    /// `404` for a request the caller did not make (unless an admin).
    pub async fn close_upload_request(&self, id: Uuid) -> Result<UploadRequestDto> {
        self.call(Call::new(
            Method::DELETE,
            format!("upload-requests/{id}"),
            true,
        ))
        .await
    }

    /// The caller's tenant: plan, limits and usage.
    ///
    /// # Errors
    /// `402`/`410` for a suspended or cancelled tenant.
    pub async fn tenant(&self) -> Result<TenantViewDto> {
        self.call(Call::get("tenant")).await
    }

    /// The tenant's audit log, newest first (tenant admins).
    ///
    /// # Errors
    /// As [`Client::files`]; items are `403 admin_required` for others.
    pub fn audit(
        &self,
        query: &AuditQueryParams,
    ) -> Result<impl Stream<Item = Result<AuditDto>> + Send + 'static> {
        let mut first = query.clone();
        let cursor = first.cursor.take();
        Ok(self.pages("audit", "cursor", query_params(&first)?, cursor))
    }

    /// The tenant's events, oldest first, from `query.after` (tenant admins).
    ///
    /// # Errors
    /// As [`Client::audit`].
    pub fn events(
        &self,
        query: &EventsQuery,
    ) -> Result<impl Stream<Item = Result<EventDto>> + Send + 'static> {
        let mut first = query.clone();
        let after = first.after.take();
        Ok(self.pages("events", "after", query_params(&first)?, after))
    }
}

/// A flat query struct as parameters.
fn query_params(query: &impl serde::Serialize) -> Result<Vec<(String, String)>> {
    Ok(Call::get("").query(query)?.into_query())
}
