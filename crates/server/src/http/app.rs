//! The web app (docs/web-app.md): one page at `/` and its script and
//! stylesheet, embedded in the binary. The page signs in through
//! [`super::session`] and then uses the same `/api/v1` as every client,
//! with the session cookie; file bytes go straight between the browser
//! and the store on presigned URLs.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::AppState;

const INDEX: &str = include_str!("../../assets/app/index.html");
const STYLESHEET: &str = include_str!("../../assets/app/app.css");
/// The app's ES modules: the page loads `app.js`, which imports the rest.
const MODULES: [(&str, &str); 5] = [
    ("app.js", include_str!("../../assets/app/app.js")),
    ("api.js", include_str!("../../assets/app/api.js")),
    ("upload.js", include_str!("../../assets/app/upload.js")),
    ("details.js", include_str!("../../assets/app/details.js")),
    ("admin.js", include_str!("../../assets/app/admin.js")),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(index)))
        .service(web::resource("/app/assets/app.css").route(web::get().to(stylesheet)));
    for (file, source) in MODULES {
        cfg.service(web::resource(format!("/app/assets/{file}")).route(
            web::get().to(move || async move { asset("text/javascript; charset=utf-8", source) }),
        ));
    }
}

/// Scripts and styles of our own only, no inline code; the API here and
/// bytes to the stores' presigned URLs (`connect-src`); no framing.
fn content_security_policy(state: &AppState) -> String {
    let mut connect = String::from("'self'");
    for origin in &state.store_origins {
        connect.push(' ');
        connect.push_str(origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", content_security_policy(&state)))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(INDEX)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// Revalidated on every load (`no-cache`): a new binary's app is used at
/// once, never a cached script against a newer API.
fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}
