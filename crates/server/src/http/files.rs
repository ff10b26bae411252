//! `/api/v1/files…`, `/api/v1/tenant` and `/api/v1/audit`: the tenant API.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, guard, web};
use coffer_api::{
    AuditDto, AuditQueryParams, DeleteQuery, DownloadDto, DownloadQuery, FileDto, GrantBody,
    GrantDto, GrantsDto, InitiateBody, InitiatedDto, ListQuery, PageDto, PartDto, PartsBody,
    PartsDto, Problem, ReceivedPartsDto, TenantViewDto, UpdateBody,
};
use coffer_domain::PageCursor;
use coffer_domain::{
    Category, ContentType, DispositionKind, ErrorCode, FileId, Filename, GrantId, LogicalPath,
    Metadata, Sha256Digest, Subject, Visibility, content_disposition,
};
use coffer_ports::{AuditQuery, ByteRange};
use coffer_service::{AddGrant, ErrorKind, ListFiles, NewFileFields, StreamUpload};
use futures::{SinkExt as _, StreamExt as _};
use uuid::Uuid;

use super::AppState;
use super::auth::Authenticated;
use super::convert;
use super::error::ApiError;
use super::json_body::JsonBody;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/files")
            .route(web::post().guard(guard::fn_guard(is_form)).to(upload_form))
            .route(web::post().to(initiate))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/files/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/files/{id}/complete").route(web::post().to(complete)))
    .service(
        web::resource("/files/{id}/parts")
            .route(web::post().to(parts))
            .route(web::get().to(received_parts)),
    )
    .service(web::resource("/files/{id}/restore").route(web::post().to(restore)))
    .service(web::resource("/files/{id}/download").route(web::get().to(download)))
    .service(web::resource("/files/{id}/content").route(web::get().to(content)))
    .service(
        web::resource("/files/{id}/permissions")
            .route(web::get().to(list_grants))
            .route(web::post().to(add_grant)),
    )
    .service(
        web::resource("/files/{id}/permissions/{grant_id}").route(web::delete().to(remove_grant)),
    )
    .service(web::resource("/tenant").route(web::get().to(current_tenant)))
    .service(web::resource("/audit").route(web::get().to(audit)));
}

fn is_form(ctx: &guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn file_id(id: Uuid) -> FileId {
    FileId::from_uuid(id)
}

/// Initiate a direct upload.
#[utoipa::path(post, path = "/api/v1/files", tag = "files", request_body = InitiateBody,
    responses((status = 201, body = InitiatedDto), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn initiate(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody<InitiateBody>,
) -> Result<HttpResponse> {
    let up = state
        .coffer
        .files()
        .initiate_upload(&caller.0, convert::initiate_upload(body.into_inner()))
        .await?;
    state.metrics.upload_started();
    Ok(HttpResponse::Created().json(convert::initiated(up)))
}

/// Stream a file through Coffer (`multipart/form-data`: fields first, then the `file` part).
#[utoipa::path(post, path = crate::http::openapi_conformance::FORM_UPLOAD_PATH, tag = "files",
    request_body(content_type = "multipart/form-data", description = "Text fields `filename`, `content_type`, `category`, `path`, `visibility`, `metadata` (JSON), `checksum_sha256`, then the `file` part last."),
    responses((status = 201, body = FileDto), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload_form(
    state: web::Data<AppState>,
    caller: Authenticated,
    mut form: Multipart,
) -> Result<HttpResponse> {
    let mut fields = FormFields::default();
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| ApiError::malformed(ErrorCode::MalformedForm, e.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            let value = read_text(&mut field).await?;
            fields.set(&name, value)?;
            continue;
        }
        let part_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let part_type = field.content_type().map(|m| m.essence_str().to_owned());
        let request = fields.into_request(part_name, part_type)?;
        // actix's body is bound to this thread; the store wants a Send
        // stream. A small channel carries the chunks across, and its bound
        // keeps memory flat: the client is read only as fast as the store writes.
        let (mut tx, rx) = futures::channel::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let form = &mut form;
        // Whether a part follows the file: the fields after it would go
        // unread, so the body fails before the upload can complete.
        let pump = async move {
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    return false;
                }
            }
            drop(field);
            let trailing = form.next().await.is_some();
            if trailing {
                let _ = tx
                    .send(Err(std::io::Error::other("a part follows the file")))
                    .await;
            }
            trailing
        };
        let upload = state
            .coffer
            .files()
            .upload_stream(&caller.0, request, Box::pin(rx));
        let (trailing, stored) = futures::join!(pump, upload);
        if trailing {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                ErrorCode::InvalidBody,
                "the `file` part must be the form's last: send the other fields before it",
            ));
        }
        let file = stored?;
        state.metrics.upload_completed(file.size_bytes);
        return Ok(HttpResponse::Created().json(FileDto::from(file)));
    }
    Err(ApiError::new(
        ErrorKind::Invalid,
        ErrorCode::MissingFile,
        "the form has no `file` part",
    ))
}

/// Text fields of an upload form, validated as they arrive.
#[derive(Default)]
struct FormFields {
    filename: Option<Filename>,
    content_type: Option<ContentType>,
    category: Option<Category>,
    path: Option<LogicalPath>,
    visibility: Option<Visibility>,
    metadata: Option<Metadata>,
    checksum_sha256: Option<Sha256Digest>,
}

impl FormFields {
    fn set(&mut self, name: &str, value: String) -> Result<()> {
        let invalid = |e: coffer_domain::ValidationError| ApiError(e.into());
        match name {
            "filename" => self.filename = Some(Filename::new(value).map_err(invalid)?),
            "content_type" => self.content_type = Some(ContentType::new(value).map_err(invalid)?),
            "category" => self.category = Some(Category::new(value).map_err(invalid)?),
            "path" => self.path = Some(LogicalPath::new(value).map_err(invalid)?),
            "visibility" => self.visibility = Some(value.parse().map_err(invalid)?),
            "checksum_sha256" => {
                self.checksum_sha256 = Some(Sha256Digest::parse(&value).map_err(invalid)?)
            }
            "metadata" => {
                let json: serde_json::Value = serde_json::from_str(&value).map_err(|e| {
                    ApiError::new(
                        ErrorKind::Invalid,
                        ErrorCode::InvalidBody,
                        format!("metadata: {e}"),
                    )
                })?;
                self.metadata = Some(Metadata::new(json).map_err(invalid)?);
            }
            other => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    ErrorCode::UnknownField,
                    format!("unknown form field {other:?}"),
                ));
            }
        }
        Ok(())
    }

    fn into_request(
        self,
        part_name: Option<String>,
        part_type: Option<String>,
    ) -> Result<StreamUpload> {
        let filename = match (self.filename, part_name) {
            (Some(name), _) => name,
            (None, Some(name)) => Filename::new(name).map_err(|e| ApiError(e.into()))?,
            (None, None) => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    ErrorCode::MissingFilename,
                    "name the file in `filename` or the part's filename",
                ));
            }
        };
        // A browser labels unknown files application/octet-stream: that is no declaration.
        let content_type = self.content_type.or_else(|| {
            part_type
                .filter(|t| t != ContentType::OCTET_STREAM)
                .and_then(|t| ContentType::new(t).ok())
        });
        Ok(StreamUpload {
            file: NewFileFields {
                filename,
                content_type,
                category: self.category,
                path: self.path,
                visibility: self.visibility,
                metadata: self.metadata,
                checksum_sha256: self.checksum_sha256,
            },
        })
    }
}

async fn read_text(field: &mut actix_multipart::Field) -> Result<String> {
    const MAX: usize = 32 * 1024;
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::malformed(ErrorCode::MalformedForm, e.to_string()))?;
        if buf.len() + chunk.len() > MAX {
            return Err(ApiError::new(
                ErrorKind::PayloadTooLarge,
                ErrorCode::FieldTooLarge,
                "form fields are limited to 32 KiB",
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| {
        ApiError::new(
            ErrorKind::Invalid,
            ErrorCode::InvalidBody,
            "form fields must be UTF-8",
        )
    })
}

/// Verify a direct upload and make the file available. Idempotent.
#[utoipa::path(post, path = "/api/v1/files/{id}/complete", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = FileDto), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn complete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let file = state
        .coffer
        .files()
        .complete_upload(&caller.0, file_id(*id))
        .await?;
    state.metrics.upload_completed(file.size_bytes);
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}

/// Presign part URLs of a multipart upload.
#[utoipa::path(post, path = "/api/v1/files/{id}/parts", tag = "files", params(("id" = Uuid, Path)), request_body = PartsBody,
    responses((status = 200, body = PartsDto), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn parts(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<PartsBody>,
) -> Result<HttpResponse> {
    let requests = convert::part_requests(body.into_inner())?;
    let parts = state
        .coffer
        .files()
        .presign_parts(&caller.0, file_id(*id), requests)
        .await?;
    let parts = parts
        .into_iter()
        .map(|p| PartDto {
            part_number: p.part_number,
            request: convert::presigned(p.request),
        })
        .collect();
    Ok(HttpResponse::Ok().json(PartsDto { parts }))
}

/// The parts of a pending multipart upload the store already holds, to
/// resume an interrupted upload.
#[utoipa::path(get, path = "/api/v1/files/{id}/parts", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = ReceivedPartsDto), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn received_parts(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let parts = state
        .coffer
        .files()
        .received_parts(&caller.0, file_id(*id))
        .await?;
    Ok(HttpResponse::Ok().json(convert::received_parts(parts)))
}

/// List the files the caller may read, newest first.
#[utoipa::path(get, path = "/api/v1/files", tag = "files", params(ListQuery),
    responses((status = 200, body = PageDto<FileDto>), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let metadata = match q.metadata {
        Some(raw) => match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    ErrorCode::InvalidQuery,
                    "metadata must be a JSON object",
                ));
            }
        },
        None => None,
    };
    let owner = q
        .owner
        .map(Subject::new)
        .transpose()
        .map_err(|e| ApiError(e.into()))?;
    let request = ListFiles {
        category: q.category,
        path: q.path,
        prefix: q.prefix,
        q: q.q,
        filename: q.filename,
        metadata,
        status: q.status,
        owner,
        cursor: q.cursor,
        limit: q.limit,
    };
    let page = state.coffer.files().list_files(&caller.0, request).await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.into_iter().map(FileDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One file's metadata.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = FileDto), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let file = state
        .coffer
        .files()
        .get_file(&caller.0, file_id(*id))
        .await?;
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}

/// Rename, move, change visibility, merge metadata.
#[utoipa::path(patch, path = "/api/v1/files/{id}", tag = "files", params(("id" = Uuid, Path)), request_body = UpdateBody,
    responses((status = 200, body = FileDto), (status = 403, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateBody>,
) -> Result<HttpResponse> {
    let file = state
        .coffer
        .files()
        .update_file(
            &caller.0,
            file_id(*id),
            convert::update_file(body.into_inner()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}

/// Move to the trash, or erase with `permanent=true`.
#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "files", params(("id" = Uuid, Path), DeleteQuery),
    responses((status = 204), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse> {
    state
        .coffer
        .files()
        .delete_file(&caller.0, file_id(*id), query.permanent.unwrap_or(false))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore from the trash.
#[utoipa::path(post, path = "/api/v1/files/{id}/restore", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200, body = FileDto), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let file = state
        .coffer
        .files()
        .restore_file(&caller.0, file_id(*id))
        .await?;
    Ok(HttpResponse::Ok().json(FileDto::from(file)))
}

/// A presigned download: `302` to it, or `200 {url, expires_at}` with `redirect=false`.
#[utoipa::path(get, path = "/api/v1/files/{id}/download", tag = "files", params(("id" = Uuid, Path), DownloadQuery),
    responses((status = 302), (status = 200, body = DownloadDto), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn download(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse> {
    presigned_download(&state, &caller, file_id(*id), None, &query).await
}

/// A download of the file, or of one of its versions.
pub(super) async fn presigned_download(
    state: &AppState,
    caller: &Authenticated,
    id: FileId,
    version: Option<u32>,
    query: &DownloadQuery,
) -> Result<HttpResponse> {
    let url = state
        .coffer
        .files()
        .download_url(&caller.0, id, version)
        .await?;
    if query.redirect.unwrap_or(true) {
        Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url.url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish())
    } else {
        Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(DownloadDto {
                url: url.url,
                expires_at: url.expires_at,
            }))
    }
}

/// The bytes, streamed through Coffer, with `Range` support.
#[utoipa::path(get, path = "/api/v1/files/{id}/content", tag = "files", params(("id" = Uuid, Path)),
    responses((status = 200), (status = 206), (status = 416, body = Problem)), security(("bearer" = [])))]
pub async fn content(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    streamed_content(&state, &caller, file_id(*id), None, &req).await
}

/// The bytes of the file, or of one of its versions, streamed.
pub(super) async fn streamed_content(
    state: &AppState,
    caller: &Authenticated,
    id: FileId,
    version: Option<u32>,
    req: &HttpRequest,
) -> Result<HttpResponse> {
    // An unparsable or multi-range header is ignored, as RFC 9110 allows: the whole file is sent.
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(ByteRange::parse_header);
    let (file, object) = match state
        .coffer
        .files()
        .open_content(&caller.0, id, version, range)
        .await
    {
        Err(err) if err.kind == ErrorKind::RangeNotSatisfiable => {
            let mut response = actix_web::ResponseError::error_response(&ApiError(err));
            if let Some(size) = size_of(state, caller, id, version).await
                && let Ok(value) = header::HeaderValue::from_str(&format!("bytes */{size}"))
            {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
        other => other?,
    };
    let mut response = match object.range {
        Some((start, end)) => {
            let mut r = HttpResponse::PartialContent();
            r.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", object.total_size),
            ));
            r
        }
        None => HttpResponse::Ok(),
    };
    let length = object.range.map_or(object.total_size, |(s, e)| e - s + 1);
    response
        .insert_header((header::CONTENT_TYPE, file.content_type.as_str()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(DispositionKind::Attachment, &file.filename),
        ))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(("x-content-type-options", "nosniff"))
        .no_chunking(length);
    if let Some(etag) = object.etag {
        response.insert_header((header::ETAG, etag));
    }
    Ok(response.streaming(object.body))
}

/// The size of the file, or of one of its versions, for a `416`'s
/// `Content-Range`; `None` when it cannot be read.
async fn size_of(
    state: &AppState,
    caller: &Authenticated,
    id: FileId,
    version: Option<u32>,
) -> Option<u64> {
    let files = state.coffer.files();
    match version {
        None => files
            .get_file(&caller.0, id)
            .await
            .ok()
            .map(|f| f.size_bytes),
        Some(version) => files
            .list_versions(&caller.0, id)
            .await
            .ok()?
            .into_iter()
            .find(|v| v.version == version)
            .map(|v| v.size_bytes),
    }
}

/// The file's grants.
#[utoipa::path(get, path = "/api/v1/files/{id}/permissions", tag = "permissions", params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantsDto), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse> {
    let grants = state
        .coffer
        .sharing()
        .list_grants(&caller.0, file_id(*id))
        .await?;
    Ok(HttpResponse::Ok().json(GrantsDto {
        items: grants.into_iter().map(GrantDto::from).collect(),
    }))
}

/// Grant access (replaces a grant to the same subject).
#[utoipa::path(post, path = "/api/v1/files/{id}/permissions", tag = "permissions", params(("id" = Uuid, Path)), request_body = GrantBody,
    responses((status = 201, body = GrantDto), (status = 403, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn add_grant(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Uuid>,
    body: JsonBody<GrantBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let request = AddGrant {
        subject: body.subject,
        access: body.access,
        expires_at: body.expires_at,
    };
    let grant = state
        .coffer
        .sharing()
        .add_grant(&caller.0, file_id(*id), request)
        .await?;
    Ok(HttpResponse::Created().json(GrantDto::from(grant)))
}

/// Remove a grant.
#[utoipa::path(delete, path = "/api/v1/files/{id}/permissions/{grant_id}", tag = "permissions",
    params(("id" = Uuid, Path), ("grant_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn remove_grant(
    state: web::Data<AppState>,
    caller: Authenticated,
    ids: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse> {
    let (file, grant) = ids.into_inner();
    state
        .coffer
        .sharing()
        .remove_grant(&caller.0, file_id(file), GrantId::from_uuid(grant))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's tenant: plan, limits, usage, status.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant",
    responses((status = 200, body = TenantViewDto), (status = 402, body = Problem), (status = 410, body = Problem)), security(("bearer" = [])))]
pub async fn current_tenant(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse> {
    let view = state.coffer.tenants().current_tenant(&caller.0).await?;
    Ok(HttpResponse::Ok().json(convert::tenant_view(view)))
}

/// The tenant's audit log (tenant admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "tenant", params(AuditQueryParams),
    responses((status = 200, body = PageDto<AuditDto>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn audit(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<AuditQueryParams>,
) -> Result<HttpResponse> {
    let q = query.into_inner();
    let query = AuditQuery {
        actor: q
            .actor
            .map(Subject::new)
            .transpose()
            .map_err(|e| ApiError(e.into()))?,
        action: q.action,
        file_id: q.file_id.map(FileId::from_uuid),
        since: q.since,
        until: q.until,
        after: q
            .cursor
            .as_deref()
            .map(PageCursor::decode)
            .transpose()
            .map_err(|e| ApiError(e.into()))?,
        limit: convert::page_limit(q.limit)?,
        oldest_first: false,
    };
    let page = state.coffer.audit().list_audit(&caller.0, query).await?;
    Ok(HttpResponse::Ok().json(PageDto {
        items: page.items.into_iter().map(convert::audit_entry).collect(),
        next_cursor: page.next_cursor,
    }))
}
