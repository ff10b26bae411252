//! The web app's session (docs/web-app.md): signing in with the issuer's
//! authorization code flow and PKCE (or, in embedded mode, the dev
//! issuer's form), kept in an HttpOnly cookie the page's scripts cannot
//! read; refreshing it; signing out.
//!
//! The access token itself is the session: every API request the app
//! makes carries it as the cookie, and [`super::auth`] verifies it exactly
//! like a bearer token. A cookie arrives with requests other sites make,
//! so the cookie is `SameSite=Strict` and a cookie-signed request that
//! changes anything must come from this origin ([`same_origin`]).

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_domain::{ErrorCode, Role, Subject};
use coffer_keycloak::dev::DevIssuer;
use coffer_keycloak::web::{WebClient, WebSignInError, WebTokens};
use coffer_ports::TenantClaim;
use coffer_service::ErrorKind;
use maud::html;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::OnceCell;

use super::auth::Authenticated;
use super::error::ApiError;
use super::{AppState, links::public_base, public};

/// The session: the access token.
pub(crate) const SESSION_COOKIE: &str = "coffer_session";
/// The refresh token, sent to the refresh route only.
const REFRESH_COOKIE: &str = "coffer_refresh";
const REFRESH_PATH: &str = "/app/session/refresh";
/// One sign-in in flight: state, nonce, PKCE verifier, where to return.
const SIGN_IN_COOKIE: &str = "coffer_sign_in";
const CALLBACK_PATH: &str = "/app/callback";
/// How long a person may take at the issuer's sign-in page.
const SIGN_IN_WINDOW: CookieAge = CookieAge::minutes(10);

/// How people sign in to the web app.
pub enum WebSignIn {
    /// Embedded mode: a form that mints a dev token, clearly marked.
    Dev {
        issuer: Arc<DevIssuer>,
        lifetime: time::Duration,
    },
    /// The OpenID Connect issuer (Keycloak), discovered at first use so
    /// that an issuer down at start-up delays sign-ins, not the server.
    Oidc {
        issuer: String,
        client_id: String,
        client_secret: Option<SecretString>,
        client: Box<OnceCell<WebClient>>,
    },
}

impl std::fmt::Debug for WebSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dev { lifetime, .. } => {
                f.debug_struct("Dev").field("lifetime", lifetime).finish()
            }
            Self::Oidc {
                issuer, client_id, ..
            } => f
                .debug_struct("Oidc")
                .field("issuer", issuer)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

impl WebSignIn {
    fn kind(&self) -> &'static str {
        match self {
            Self::Dev { .. } => "dev",
            Self::Oidc { .. } => "oidc",
        }
    }

    async fn client(&self) -> Result<Option<&WebClient>, WebSignInError> {
        match self {
            Self::Dev { .. } => Ok(None),
            Self::Oidc {
                issuer,
                client_id,
                client_secret,
                client,
            } => client
                .get_or_try_init(|| {
                    WebClient::discover(
                        issuer,
                        client_id,
                        client_secret.as_ref().map(|s| s.expose_secret()),
                    )
                })
                .await
                .map(Some),
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/app/session").route(web::get().to(session)))
        .service(web::resource(REFRESH_PATH).route(web::post().to(refresh)))
        .service(
            web::resource("/app/sign-in")
                .route(web::get().to(sign_in))
                .route(web::post().to(dev_sign_in)),
        )
        .service(web::resource(CALLBACK_PATH).route(web::get().to(callback)))
        .service(web::resource("/app/sign-out").route(web::post().to(sign_out)));
}

/// Who is signed in: what the app shows and decides its pages by.
async fn session(
    caller: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Authenticated(caller) = caller;
    let principal = &caller.principal;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "subject": principal.subject,
            "roles": principal.roles.iter().map(Role::as_str).collect::<Vec<_>>(),
            "tenant": caller.tenant.as_ref().map(|t| json!({
                "id": t.id,
                "slug": t.slug.as_str(),
                "display_name": t.display_name,
                "status": t.status,
            })),
            "sign_in": state.sign_in.as_deref().map(WebSignIn::kind),
        })))
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// Only a path of this server: never another site (an open redirect).
fn return_path(requested: Option<&str>) -> String {
    match requested {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> HttpResponse {
    let Some(sign_in) = state.sign_in.as_deref() else {
        return not_offered();
    };
    let return_to = return_path(query.return_to.as_deref());
    match sign_in.client().await {
        Ok(None) => dev_form(&return_to, None, StatusCode::OK),
        Ok(Some(client)) => match client.begin(&callback_url(&req, &state)) {
            Ok(start) => {
                let pending = PendingSignIn {
                    state: start.state,
                    nonce: start.nonce,
                    verifier: start.pkce_verifier,
                    return_to,
                };
                HttpResponse::Found()
                    .insert_header((header::LOCATION, start.url))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .cookie(pending.cookie(secure(&req, &state)))
                    .finish()
            }
            Err(err) => issuer_trouble(&err),
        },
        Err(err) => issuer_trouble(&err),
    }
}

/// What the callback checks the issuer's answer against. Only this browser
/// holds it (HttpOnly, sent to the callback only); `SameSite=Lax`, because
/// the issuer's redirect back is a navigation from another site.
#[derive(Debug, Serialize, Deserialize)]
struct PendingSignIn {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
}

impl PendingSignIn {
    fn cookie(&self, secure: bool) -> Cookie<'static> {
        let value =
            serde_json::to_vec(self).map_or_else(|_| String::new(), |v| URL_SAFE_NO_PAD.encode(v));
        Cookie::build(SIGN_IN_COOKIE, value)
            .path(CALLBACK_PATH)
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(SIGN_IN_WINDOW)
            .finish()
    }

    fn from_request(req: &HttpRequest) -> Option<Self> {
        let cookie = req.cookie(SIGN_IN_COOKIE)?;
        let bytes = URL_SAFE_NO_PAD.decode(cookie.value()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(sign_in) = state.sign_in.as_deref() else {
        return not_offered();
    };
    let secure = secure(&req, &state);
    let Some(pending) = PendingSignIn::from_request(&req) else {
        return start_again(
            "This sign-in has expired or was started in another browser.",
            secure,
        );
    };
    if let Some(error) = &query.error {
        let why = query.error_description.as_deref().unwrap_or(error);
        return with_cleared(
            failure(StatusCode::UNAUTHORIZED, "Sign-in did not complete", why),
            secure,
            &[(SIGN_IN_COOKIE, CALLBACK_PATH)],
        );
    }
    let (Some(code), Some(returned_state)) = (&query.code, &query.state) else {
        return start_again("The sign-in service sent an incomplete answer.", secure);
    };
    if *returned_state != pending.state {
        return start_again("This answer belongs to another sign-in.", secure);
    }
    let client = match sign_in.client().await {
        Ok(Some(client)) => client,
        Ok(None) => return not_offered(),
        Err(err) => return issuer_trouble(&err),
    };
    let tokens = match client
        .finish(
            &callback_url(&req, &state),
            code,
            &pending.verifier,
            &pending.nonce,
        )
        .await
    {
        Ok(tokens) => tokens,
        Err(WebSignInError::Discovery { .. } | WebSignInError::Config(_)) => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service cannot be reached",
                "Try again in a moment.",
            );
        }
        Err(err) => {
            tracing::warn!(error = %err, "a web sign-in was refused");
            return start_again("The sign-in service did not accept this sign-in.", secure);
        }
    };
    // Signed in at the issuer is not yet allowed in Coffer: the token must
    // name a tenant (or a platform administrator) Coffer knows.
    if let Err(refused) = state
        .coffer
        .authentication()
        .authenticate(&tokens.access_token, None, super::auth::request_meta(&req))
        .await
    {
        return with_cleared(
            failure(
                StatusCode::FORBIDDEN,
                "This account cannot use Coffer",
                &refused.detail,
            ),
            secure,
            &[(SIGN_IN_COOKIE, CALLBACK_PATH)],
        );
    }
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, pending.return_to.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(removal(SIGN_IN_COOKIE, CALLBACK_PATH, secure));
    for cookie in session_cookies(&tokens, secure) {
        response.cookie(cookie);
    }
    response.finish()
}

#[derive(Debug, Deserialize)]
struct DevSignInForm {
    tenant: String,
    user: String,
    role: String,
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// Embedded mode only: a token from the dev issuer for whoever the form
/// names. Anyone who reaches the server may do it — the reason this is
/// for a developer's own machine, and says so on the page.
async fn dev_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<DevSignInForm>,
) -> HttpResponse {
    let Some(WebSignIn::Dev { issuer, lifetime }) = state.sign_in.as_deref() else {
        return not_offered();
    };
    let return_to = return_path(form.return_to.as_deref());
    if !same_origin(&req, &state) {
        return dev_form(
            &return_to,
            Some("This form must be sent from this server's own page."),
            StatusCode::FORBIDDEN,
        );
    }
    let minted = mint_dev(issuer, &form, *lifetime);
    let token = match minted {
        Ok(token) => token,
        Err(problem) => {
            return dev_form(&return_to, Some(&problem), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if let Err(refused) = state
        .coffer
        .authentication()
        .authenticate(&token, None, super::auth::request_meta(&req))
        .await
    {
        return dev_form(
            &return_to,
            Some(&refused.detail),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let tokens = WebTokens {
        access_token: token,
        refresh_token: None,
        expires_in: std::time::Duration::try_from(*lifetime).ok(),
    };
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, return_to.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for cookie in session_cookies(&tokens, secure(&req, &state)) {
        response.cookie(cookie);
    }
    response.finish()
}

fn mint_dev(
    issuer: &DevIssuer,
    form: &DevSignInForm,
    lifetime: time::Duration,
) -> Result<String, String> {
    let subject = Subject::new(form.user.trim()).map_err(|e| format!("User: {e}"))?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| "Role: choose admin, editor or viewer.".to_owned())?;
    if role == Role::PlatformAdmin {
        return Err("Role: the app's dev sign-in is for tenant members.".to_owned());
    }
    let tenant = TenantClaim::parse(form.tenant.trim())
        .ok_or_else(|| "Tenant: a tenant's slug or id.".to_owned())?;
    issuer
        .mint(Some(&tenant), &subject, &[role], lifetime)
        .map_err(|e| e.to_string())
}

/// A new access token for the refresh token; the app asks when the API
/// answers `401` and signs in again when this does too.
async fn refresh(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let secure = secure(&req, &state);
    if !same_origin(&req, &state) {
        return Err(cross_site());
    }
    let expired = || {
        ApiError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::TokenExpired,
            "the session has ended: sign in again",
        )
    };
    let client = match state.sign_in.as_deref() {
        Some(sign_in) => sign_in.client().await.map_err(|e| unavailable(&e))?,
        None => None,
    };
    let (Some(client), Some(refresh_token)) = (client, req.cookie(REFRESH_COOKIE)) else {
        return Err(expired());
    };
    match client
        .refresh(&callback_url(&req, &state), refresh_token.value())
        .await
    {
        Ok(tokens) => {
            let mut response = HttpResponse::NoContent();
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            for cookie in session_cookies(&tokens, secure) {
                response.cookie(cookie);
            }
            Ok(response.finish())
        }
        Err(WebSignInError::Refused(reason)) => {
            tracing::info!(%reason, "a web session's refresh was refused");
            let mut refused = actix_web::ResponseError::error_response(&expired());
            for (name, path) in [(SESSION_COOKIE, "/"), (REFRESH_COOKIE, REFRESH_PATH)] {
                let _ = refused.add_cookie(&removal(name, path, secure));
            }
            Ok(refused)
        }
        Err(err) => Err(unavailable(&err)),
    }
}

/// Ends the session here and answers where the app goes next: the
/// issuer's end-session page when it has one (to end the single sign-on
/// session too), else the app's start.
async fn sign_out(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !same_origin(&req, &state) {
        return Err(cross_site());
    }
    let secure = secure(&req, &state);
    let home = format!("{}/", public_base(&req, &state));
    let next = match state.sign_in.as_deref() {
        Some(sign_in) => match sign_in.client().await {
            Ok(Some(client)) => client.sign_out_url(&home),
            _ => None,
        },
        None => None,
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    for (name, path) in [(SESSION_COOKIE, "/"), (REFRESH_COOKIE, REFRESH_PATH)] {
        response.cookie(removal(name, path, secure));
    }
    Ok(response.json(json!({ "redirect": next.unwrap_or(home) })))
}

fn session_cookies(tokens: &WebTokens, secure: bool) -> Vec<Cookie<'static>> {
    let mut session = Cookie::build(SESSION_COOKIE, tokens.access_token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict);
    if let Some(lifetime) = tokens.expires_in.and_then(|d| CookieAge::try_from(d).ok()) {
        session = session.max_age(lifetime);
    }
    let mut cookies = vec![session.finish()];
    if let Some(refresh) = &tokens.refresh_token {
        cookies.push(
            Cookie::build(REFRESH_COOKIE, refresh.clone())
                .path(REFRESH_PATH)
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Strict)
                .finish(),
        );
    }
    cookies
}

fn removal(name: &'static str, path: &'static str, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path(path)
        .http_only(true)
        .secure(secure)
        .finish();
    cookie.make_removal();
    cookie
}

fn with_cleared(
    mut response: HttpResponse,
    secure: bool,
    cookies: &[(&'static str, &'static str)],
) -> HttpResponse {
    for (name, path) in cookies {
        let _ = response.add_cookie(&removal(name, path, secure));
    }
    response
}

/// Whether a request that changes something came from a page of this
/// server: `Sec-Fetch-Site: same-origin` (every current browser), else an
/// `Origin` equal to this server's. Requests with neither are refused: a
/// browser always sends one of them with a cross-site `POST`, and tools
/// that send neither use a bearer token, not the cookie.
pub(crate) fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    req.headers()
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok())
        .is_some_and(|origin| origin == public_base(req, state))
}

pub(crate) fn cross_site() -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        ErrorCode::CrossSiteRequest,
        "a change signed in by the web app's session must come from the app's own pages",
    )
}

fn unavailable(err: &WebSignInError) -> ApiError {
    tracing::warn!(error = %err, "the web sign-in's issuer failed");
    ApiError::new(
        ErrorKind::Unavailable,
        ErrorCode::IdentityUnavailable,
        "the sign-in service cannot be reached; try again in a moment",
    )
}

/// Cookies are `Secure` whenever the app is reached over HTTPS.
fn secure(req: &HttpRequest, state: &AppState) -> bool {
    public_base(req, state).starts_with("https://")
}

fn callback_url(req: &HttpRequest, state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", public_base(req, state))
}

fn not_offered() -> HttpResponse {
    failure(
        StatusCode::NOT_FOUND,
        "Sign-in is not offered here",
        "This server does not serve the web app.",
    )
}

fn issuer_trouble(err: &WebSignInError) -> HttpResponse {
    tracing::warn!(error = %err, "the web sign-in's issuer failed");
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "The sign-in service cannot be reached",
        "Try again in a moment.",
    )
}

fn start_again(why: &str, secure: bool) -> HttpResponse {
    let body = html! {
        h1 { "Sign in again" }
        p { (why) }
        p { a href="/app/sign-in" { "Sign in" } }
    };
    with_cleared(
        public::page(StatusCode::BAD_REQUEST, "Sign in again", body),
        secure,
        &[(SIGN_IN_COOKIE, CALLBACK_PATH)],
    )
}

fn failure(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/" { "Back to Coffer" } }
    };
    public::page(status, title, body)
}

fn dev_form(return_to: &str, problem: Option<&str>, status: StatusCode) -> HttpResponse {
    let body = html! {
        h1 { "Development sign-in" }
        p.notice role="note" {
            strong { "Not for production. " }
            "This server runs on the embedded dev issuer: anyone who reaches it may sign in as anyone. \
             With Keycloak configured, the app signs in there instead."
        }
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        form method="post" action="/app/sign-in" {
            input type="hidden" name="return" value=(return_to);
            label for="tenant" { "Tenant" }
            input #tenant name="tenant" value="acme" required autocomplete="organization";
            label for="user" { "User" }
            input #user name="user" value="dev" required autocomplete="username";
            label for="role" { "Role" }
            select #role name="role" {
                option value="admin" { "admin" }
                option value="editor" selected { "editor" }
                option value="viewer" { "viewer" }
            }
            button type="submit" { "Sign in" }
        }
    };
    public::page(status, "Development sign-in", body)
}
