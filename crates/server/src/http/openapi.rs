//! The OpenAPI document, generated from the handlers and the API's types
//! (`coffer-api`).

use actix_web::HttpResponse;
use coffer_api as api;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::openapi_conformance::Conformance;
use super::openapi_constraints::Constraints;
use super::openapi_shapes::Shapes;
use super::{
    billing, credentials, events, files, links, platform, records, tenants, upload_requests,
    versions,
};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Coffer", description = "Multi-tenant file service: metadata and permissions here, bytes directly between client and object store through presigned URLs."),
    paths(
        files::initiate, files::upload_form, files::complete, files::parts, files::received_parts,
        files::list, files::get,
        files::update, files::delete, files::restore, files::download, files::content,
        files::list_grants, files::add_grant, files::remove_grant, files::current_tenant, files::audit,
        links::create_link, links::list_links, links::revoke_link,
        upload_requests::create_request, upload_requests::list_requests,
        upload_requests::get_request, upload_requests::close_request,
        credentials::issue, credentials::complete_session,
        records::put_retention, records::delete_retention, records::hold_file, records::file_holds,
        records::hold_folder, records::all_holds, records::release,
        versions::initiate_version, versions::list_versions, versions::download_version,
        versions::version_content, versions::restore_version,
        tenants::create, tenants::list, tenants::get, tenants::update, tenants::retry, tenants::move_tenant,
        tenants::get_setting, tenants::put_setting, tenants::get_feature, tenants::put_feature,
        tenants::effective_config,
        events::get_webhook, events::put_webhook, events::delete_webhook, events::list_events,
        platform::metrics, billing::receive,
    ),
    components(schemas(
        api::Problem, api::FileDto, api::InitiatedDto, api::PresignedDto, api::MultipartDto,
        api::InitiateBody, api::UpdateBody, api::PartsBody, api::PartsDto, api::PartDto,
        api::ReceivedPartsDto, api::ReceivedPartDto, api::DownloadDto, api::GrantDto,
        api::GrantBody, api::GrantsDto, api::TenantDto, api::TenantViewDto,
        api::OnboardingDto, api::MoveDto, api::PlacementDto, api::MoveTenantBody, api::CreateTenantBody, api::UpdateTenantBody, api::AuditDto,
        api::WebhookBody, api::WebhookDto, api::EventDto, api::BillingReceiptDto,
        api::PlatformMetricsDto, api::TenantUsageDto, api::SettingBody, api::SettingDto,
        api::FeatureBody, api::FeatureDto, api::EffectiveConfigDto, api::CredentialsBody,
        api::CredentialsDto, api::UploadSessionDto, api::CompleteSessionBody,
        api::SessionFileBody, api::SessionRegistrationDto, api::RefusedDto,
        api::RetentionBody, api::HoldBody, api::FolderHoldBody, api::LegalHoldDto,
        api::LegalHoldsDto, api::RetentionDto, api::InitiateVersionBody, api::VersionDto,
        api::VersionsDto, api::LinkDto, api::LinkBody, api::LinksDto, api::UploadRequestDto,
        api::UploadRequestBody, api::UploadRequestsDto,
    )),
    modifiers(&Bearer, &Conformance, &Constraints, &Shapes),
    tags((name = "files"), (name = "records"), (name = "versions"), (name = "permissions"), (name = "links"), (name = "upload-requests"), (name = "tenant"), (name = "platform"), (name = "events"), (name = "billing"))
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, serialised once: it is large and never changes while the
/// server runs.
static DOCUMENT: std::sync::LazyLock<bytes::Bytes> = std::sync::LazyLock::new(|| {
    serde_json::to_vec(&ApiDoc::openapi())
        .map(bytes::Bytes::from)
        .unwrap_or_default()
});

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(DOCUMENT.clone())
}

/// One operation of the document: its method, its path's segments (`None`
/// for a `{parameter}`) and its use-case name.
struct Operation {
    method: &'static str,
    segments: Vec<Option<String>>,
    name: String,
}

/// Every operation of the document, read once.
static OPERATIONS: std::sync::LazyLock<Vec<Operation>> = std::sync::LazyLock::new(|| {
    let doc = ApiDoc::openapi();
    let mut operations = Vec::new();
    for (path, item) in &doc.paths.paths {
        let segments: Vec<Option<String>> = path
            .split('/')
            .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
            .collect();
        for (method, operation) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            let Some(operation) = operation else { continue };
            let Some(id) = &operation.operation_id else {
                continue;
            };
            let tag = operation
                .tags
                .as_ref()
                .and_then(|tags| tags.first())
                .map_or("api", String::as_str);
            operations.push(Operation {
                method,
                segments: segments.clone(),
                name: format!("{tag}.{id}"),
            });
        }
    }
    operations
});

/// The use case a request reaches: `{tag}.{operationId}` of the document's
/// operation for its method and path — the handler, as the document names
/// it (the tag keeps `files.list` and `platform.list` apart). A literal
/// segment beats a parameter, so a setting's own path (`…/settings/max_file_size`)
/// names its own operation. `None` outside the document (storage route,
/// probes, unknown paths).
pub fn use_case(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    OPERATIONS
        .iter()
        .filter(|op| op.method == method && op.segments.len() == segments.len())
        .filter(|op| {
            op.segments
                .iter()
                .zip(&segments)
                .all(|(want, got)| want.as_deref().is_none_or(|want| want == *got))
        })
        .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
        .map(|op| op.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::use_case;

    #[test]
    fn requests_are_named_for_their_operation() {
        let id = "0196b1d4-6f1e-7c3a-9a43-2a1c5e0f9b10";
        for (method, path, name) in [
            ("POST", "/api/v1/files".to_owned(), Some("files.initiate")),
            ("GET", "/api/v1/files".to_owned(), Some("files.list")),
            ("GET", "/api/v1/tenants".to_owned(), Some("platform.list")),
            ("GET", format!("/api/v1/files/{id}"), Some("files.get")),
            (
                "GET",
                "/api/v1/tenant".to_owned(),
                Some("tenant.current_tenant"),
            ),
            (
                "PUT",
                "/api/v1/tenant/webhook".to_owned(),
                Some("events.put_webhook"),
            ),
            (
                "PUT",
                format!("/api/v1/tenants/{id}/settings/max_file_size"),
                Some("platform.put_setting_max_file_size"),
            ),
            ("GET", "/storage/objects/x".to_owned(), None),
            ("GET", "/health".to_owned(), None),
            ("TRACE", "/api/v1/files".to_owned(), None),
        ] {
            assert_eq!(use_case(method, &path), name, "{method} {path}");
        }
    }
}
