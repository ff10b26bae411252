//! `POST /webhooks/billing`: signed billing events from a Stripe-compatible
//! provider. Authenticated by the signature (`Stripe-Signature`), not by a
//! bearer token; outside `/api/v1`. See docs/billing.md.

use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use coffer_api::{BillingReceiptDto, Problem};
use coffer_domain::ErrorCode;
use coffer_service::{BillingWebhook, ErrorKind, RequestMeta};
use secrecy::{ExposeSecret as _, SecretString};
use tracing_actix_web::RequestId;

use super::AppState;
use super::error::ApiError;

/// The header a Stripe-compatible provider signs its events in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// The billing endpoint's settings (`[billing]`).
#[derive(Debug, Clone)]
pub struct BillingEndpoint {
    pub secret: SecretString,
    pub tolerance_secs: i64,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhooks/billing").route(web::post().to(receive)));
}

/// Receive a billing event. Answers `200 {id, type, outcome, reason?}` for
/// every authentic event, processed or not (a replay: `outcome = "replay"`).
#[utoipa::path(post, path = "/webhooks/billing", tag = "billing",
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">")),
    request_body(content = Object, description = "a Stripe event: {id, type, created, data: {object}}"),
    responses((status = 200, body = BillingReceiptDto), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // An unsigned request is malformed whether or not billing is configured.
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| {
            ApiError::malformed(ErrorCode::InvalidSignature, "Stripe-Signature is missing")
        })?
        .to_str()
        .map_err(|_| {
            ApiError::malformed(ErrorCode::InvalidSignature, "Stripe-Signature is not ASCII")
        })?;
    let endpoint = state.billing.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            ErrorCode::BillingNotConfigured,
            "billing events are not configured (billing.webhook_secret)",
        )
    })?;
    let meta = RequestMeta {
        request_id: req.extensions().get::<RequestId>().map(ToString::to_string),
        client_addr: req.peer_addr().map(|a| a.ip().to_string()),
    };
    let webhook = BillingWebhook {
        secret: endpoint.secret.expose_secret().as_bytes(),
        tolerance_secs: endpoint.tolerance_secs,
    };
    let receipt = state
        .coffer
        .billing()
        .receive_billing_event(webhook, Some(signature), &body, meta)
        .await?;
    if let Some(tenant) = &receipt.changed {
        // A plan the event changed may call for another placement. The event
        // is recorded already: a move that cannot be queued now is logged,
        // and a platform administrator can ask for it.
        if let Err(err) = state.coffer.mover().follow_plan(None, tenant).await {
            tracing::warn!(tenant = %tenant.slug, error = %err, "the move a billing event's plan calls for was not queued");
        }
    }
    Ok(HttpResponse::Ok().json(receipt))
}
