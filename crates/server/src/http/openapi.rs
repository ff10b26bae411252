//! The OpenAPI document, generated from the handlers and DTOs.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::openapi_conformance::Conformance;
use super::openapi_constraints::Constraints;
use super::openapi_shapes::Shapes;
use super::{
    billing, credentials, dto, error, events, files, platform, records, tenants, versions,
};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Coffer", description = "Multi-tenant file service: metadata and permissions here, bytes directly between client and object store through presigned URLs."),
    paths(
        files::initiate, files::upload_form, files::complete, files::parts, files::received_parts,
        files::list, files::get,
        files::update, files::delete, files::restore, files::download, files::content,
        files::list_grants, files::add_grant, files::remove_grant, files::current_tenant, files::audit,
        credentials::issue, credentials::complete_session,
        records::put_retention, records::delete_retention, records::hold_file, records::file_holds,
        records::hold_folder, records::all_holds, records::release,
        versions::initiate_version, versions::list_versions, versions::download_version,
        versions::version_content, versions::restore_version,
        tenants::create, tenants::list, tenants::get, tenants::update, tenants::retry,
        tenants::get_setting, tenants::put_setting, tenants::get_feature, tenants::put_feature,
        tenants::effective_config,
        events::get_webhook, events::put_webhook, events::delete_webhook, events::list_events,
        platform::metrics, billing::receive,
    ),
    components(schemas(
        error::Problem, dto::FileDto, dto::InitiatedDto, dto::PresignedDto, dto::MultipartDto,
        dto::InitiateBody, dto::UpdateBody, dto::PartsBody, dto::PartsDto, dto::PartDto,
        dto::ReceivedPartsDto, dto::ReceivedPartDto,
        dto::DownloadDto, dto::GrantDto, dto::GrantBody, dto::GrantsDto, dto::TenantDto,
        dto::TenantViewDto, dto::OnboardingDto, dto::CreateTenantBody, dto::UpdateTenantBody, dto::AuditDto,
        events::WebhookBody, events::WebhookDto, events::EventDto, billing::BillingReceiptDto,
        platform::PlatformMetricsDto, platform::TenantUsageDto,
        tenants::SettingBody, tenants::SettingDto, tenants::FeatureBody, tenants::FeatureDto,
        tenants::EffectiveConfigDto,
        credentials::CredentialsBody, credentials::CredentialsDto, credentials::UploadSessionDto,
        credentials::CompleteSessionBody, credentials::SessionFileBody,
        credentials::SessionRegistrationDto, credentials::RefusedDto,
        records::RetentionBody, records::HoldBody, records::FolderHoldBody, records::LegalHoldDto,
        records::LegalHoldsDto, dto::RetentionDto, versions::InitiateVersionBody,
        versions::VersionDto, versions::VersionsDto,
    )),
    modifiers(&Bearer, &Conformance, &Constraints, &Shapes),
    tags((name = "files"), (name = "records"), (name = "versions"), (name = "permissions"), (name = "tenant"), (name = "platform"), (name = "events"), (name = "billing"))
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

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
