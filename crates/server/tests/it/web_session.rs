//! The web app's session (docs/web-app.md): signing in — the dev form in
//! embedded mode, the issuer's authorization code flow with PKCE in
//! production — gives an HttpOnly cookie the API accepts; a change signed
//! by that cookie comes from the app's own pages only; refresh and sign-out.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    a_signed_in_browser_uses_the_api_with_its_cookie_and_signs_out,
    sign_in_refuses_what_it_should
);

/// The cookie `name` a response sets: its value and its attributes.
fn set_cookie(response: &Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let value = pair.split_once('=').map(|(_, value)| value).unwrap();
            (value.to_owned(), attributes.to_owned())
        })
}

/// The dev sign-in form, posted from `from` (a header and its value).
async fn post_dev_form(
    server: &TestServer,
    from: (&str, &str),
    fields: &[(&str, &str)],
) -> Response {
    server
        .http
        .post(server.url("/app/sign-in"))
        .header(from.0, from.1)
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn get(server: &TestServer, path: &str) -> Response {
    server.http.get(server.url(path)).send().await.unwrap()
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// What a browser holds after signing in: the session cookie and, from
/// the issuer, the refresh cookie.
struct Signed {
    session: String,
    refresh: Option<String>,
    return_to: String,
}

/// Signs `user` of `tenant` in the way this mode's app does, as a
/// browser would, up to the app's redirect back to `return_to`.
async fn sign_in(server: &TestServer, tenant: &str, user: &str, role: &str) -> Signed {
    let (username, password) = server.web_user(tenant, user, &[role]).await;
    match server.mode {
        Mode::Embedded => {
            let response = post_dev_form(
                server,
                ("sec-fetch-site", "same-origin"),
                &[
                    ("tenant", tenant),
                    ("user", &username),
                    ("role", role),
                    ("return", "/#/files"),
                ],
            )
            .await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let (session, attributes) = set_cookie(&response, "coffer_session").unwrap();
            assert_session_attributes(&attributes);
            Signed {
                session,
                refresh: None,
                return_to: location(&response),
            }
        }
        Mode::Production => issuer_sign_in(server, &username, &password, "/#/files").await,
    }
}

fn assert_session_attributes(attributes: &str) {
    let lower = attributes.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{attributes}");
    assert!(lower.contains("samesite=strict"), "{attributes}");
    assert!(lower.contains("path=/"), "{attributes}");
}

/// The authorization code flow as a browser runs it: the app's redirect
/// to the issuer (PKCE S256), the issuer's sign-in page, its redirect back
/// to the callback, the callback's cookie.
async fn issuer_sign_in(
    server: &TestServer,
    username: &str,
    password: &str,
    return_to: &str,
) -> Signed {
    let start = server
        .http
        .get(server.url("/app/sign-in"))
        .query(&[("return", return_to)])
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let (pending, attributes) = set_cookie(&start, "coffer_sign_in").unwrap();
    assert!(attributes.to_ascii_lowercase().contains("httponly"));
    assert!(attributes.contains("Path=/app/callback"), "{attributes}");
    let authorize = location(&start);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(authorize.contains("client_id=coffer-web"), "{authorize}");
    let callback = through_issuer(&authorize, username, password, &server.base).await;
    let back = server
        .http
        .get(&callback)
        .header(COOKIE, format!("coffer_sign_in={pending}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.status(),
        StatusCode::SEE_OTHER,
        "{}",
        back.text().await.unwrap()
    );
    let (session, attributes) = set_cookie(&back, "coffer_session").unwrap();
    assert_session_attributes(&attributes);
    let (refresh, attributes) = set_cookie(&back, "coffer_refresh").unwrap();
    assert!(
        attributes.contains("Path=/app/session/refresh"),
        "{attributes}"
    );
    let (cleared, _) = set_cookie(&back, "coffer_sign_in").unwrap();
    assert!(cleared.is_empty());
    Signed {
        session,
        refresh: Some(refresh),
        return_to: location(&back),
    }
}

/// Follows the issuer's redirects, fills its sign-in page, and answers
/// the URL it finally sends the browser to on `app_base`.
async fn through_issuer(authorize: &str, username: &str, password: &str, app_base: &str) -> String {
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = authorize.to_owned();
    let mut signed_in = false;
    for _ in 0..10 {
        if url.starts_with(app_base) {
            return url;
        }
        let response = browser.get(&url).send().await.unwrap();
        let response = if response.status() == StatusCode::OK && !signed_in {
            // The issuer's sign-in page: post the form back to it.
            signed_in = true;
            browser
                .post(&url)
                .form(&[("username", username), ("password", password)])
                .send()
                .await
                .unwrap()
        } else {
            response
        };
        assert!(
            response.status().is_redirection(),
            "{url}: {}",
            response.status()
        );
        let next = location(&response);
        url = if next.starts_with("http") {
            next
        } else {
            let base = reqwest::Url::parse(&url).unwrap();
            base.join(&next).unwrap().to_string()
        };
    }
    panic!("the issuer never sent the browser back: {url}");
}

fn with_session(
    server: &TestServer,
    method: Method,
    path: &str,
    session: &str,
) -> reqwest::RequestBuilder {
    server
        .http
        .request(method, server.url(path))
        .header(COOKIE, format!("coffer_session={session}"))
}

async fn a_signed_in_browser_uses_the_api_with_its_cookie_and_signs_out(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let signed = sign_in(&server, &tenant, "alice", "editor").await;
    assert_eq!(signed.return_to, "/#/files");

    // The session says who is signed in…
    let session: Value = with_session(&server, Method::GET, "/app/session", &signed.session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["tenant"]["slug"], json!(tenant));
    assert_eq!(session["roles"], json!(["editor"]));
    let expected_kind = if mode == Mode::Embedded {
        "dev"
    } else {
        "oidc"
    };
    assert_eq!(session["sign_in"], json!(expected_kind));
    let subject = session["subject"].as_str().unwrap().to_owned();

    // …and the API takes the cookie as it takes a bearer token: a file
    // made with the cookie is alice's, and the bearer token sees it.
    let body = json!({ "filename": "note.txt", "content_type": "text/plain", "size": 5 });
    let refused = with_session(&server, Method::POST, "/api/v1/files", &signed.session)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(refused, StatusCode::FORBIDDEN, "cross_site_request").await;
    let other_site = with_session(&server, Method::POST, "/api/v1/files", &signed.session)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(other_site, StatusCode::FORBIDDEN, "cross_site_request").await;
    let cross_site_fetch = with_session(&server, Method::POST, "/api/v1/files", &signed.session)
        .header("sec-fetch-site", "cross-site")
        .header("origin", server.base.clone())
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(
        cross_site_fetch,
        StatusCode::FORBIDDEN,
        "cross_site_request",
    )
    .await;
    let made = with_session(&server, Method::POST, "/api/v1/files", &signed.session)
        .header("origin", server.base.clone())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    let id = made["file"]["id"].as_str().unwrap();
    assert_eq!(made["file"]["owner"], json!(subject), "{made}");
    let bearer = server.token(Some(&tenant), &subject, &["editor"]).await;
    let seen = server
        .req(Method::GET, &format!("/api/v1/files/{id}"), &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), StatusCode::OK);

    // A token from elsewhere in the Authorization header wins over the cookie.
    let header_wins = with_session(&server, Method::GET, "/api/v1/files", &signed.session)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(header_wins.status(), StatusCode::UNAUTHORIZED);

    if let Some(refresh) = &signed.refresh {
        let renewed = server
            .http
            .post(server.url("/app/session/refresh"))
            .header("sec-fetch-site", "same-origin")
            .header(COOKIE, format!("coffer_refresh={refresh}"))
            .send()
            .await
            .unwrap();
        assert_eq!(renewed.status(), StatusCode::NO_CONTENT);
        let (fresh, _) = set_cookie(&renewed, "coffer_session").unwrap();
        assert_ne!(fresh, signed.session);
        let works = with_session(&server, Method::GET, "/app/session", &fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(works.status(), StatusCode::OK);
    }
    let no_refresh = server
        .http
        .post(server.url("/app/session/refresh"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    problem(no_refresh, StatusCode::UNAUTHORIZED, "token_expired").await;

    let out = with_session(&server, Method::POST, "/app/sign-out", &signed.session)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let (cleared, attributes) = set_cookie(&out, "coffer_session").unwrap();
    assert!(cleared.is_empty());
    assert!(attributes.contains("Max-Age=0"), "{attributes}");
    let next: Value = out.json().await.unwrap();
    let next = next["redirect"].as_str().unwrap();
    match mode {
        Mode::Embedded => assert_eq!(next, format!("{}/", server.base)),
        Mode::Production => {
            assert!(
                next.starts_with(&env_var("COFFER_TEST_OIDC_ISSUER")),
                "{next}"
            );
            assert!(next.contains("client_id=coffer-web"), "{next}");
        }
    }
    // Without the cookie, the app is asked to sign in.
    let gone = get(&server, "/app/session").await;
    problem(gone, StatusCode::UNAUTHORIZED, "missing_token").await;
}

async fn sign_in_refuses_what_it_should(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let app = get(&server, "/").await;
    assert_eq!(app.status(), StatusCode::OK);
    let csp = app.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    match mode {
        Mode::Embedded => {
            let form = get(&server, "/app/sign-in").await;
            assert_eq!(form.status(), StatusCode::OK);
            assert!(form.text().await.unwrap().contains("Not for production"));
            // Another site's form cannot sign a browser in.
            let forged = post_dev_form(
                &server,
                ("origin", "https://evil.example"),
                &[
                    ("tenant", tenant.as_str()),
                    ("user", "mallory"),
                    ("role", "admin"),
                ],
            )
            .await;
            assert_eq!(forged.status(), StatusCode::FORBIDDEN);
            assert!(set_cookie(&forged, "coffer_session").is_none());
            for (tenant, role) in [
                ("no-such-tenant", "editor"),
                (tenant.as_str(), "platform-admin"),
            ] {
                let refused = post_dev_form(
                    &server,
                    ("sec-fetch-site", "same-origin"),
                    &[("tenant", tenant), ("user", "alice"), ("role", role)],
                )
                .await;
                assert_eq!(
                    refused.status(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{tenant} {role}"
                );
                assert!(set_cookie(&refused, "coffer_session").is_none());
            }
            // Only a path of this server is a place to return to.
            let signed = post_dev_form(
                &server,
                ("sec-fetch-site", "same-origin"),
                &[
                    ("tenant", tenant.as_str()),
                    ("user", "alice"),
                    ("role", "viewer"),
                    ("return", "//evil.example/x"),
                ],
            )
            .await;
            assert_eq!(location(&signed), "/");
        }
        Mode::Production => {
            // The dev form does not exist against a real issuer.
            let forged = post_dev_form(
                &server,
                ("sec-fetch-site", "same-origin"),
                &[
                    ("tenant", tenant.as_str()),
                    ("user", "mallory"),
                    ("role", "admin"),
                ],
            )
            .await;
            assert_eq!(forged.status(), StatusCode::NOT_FOUND);
            // An answer for another sign-in is refused.
            let start = get(&server, "/app/sign-in").await;
            let (pending, _) = set_cookie(&start, "coffer_sign_in").unwrap();
            let (username, password) = server.web_user(&tenant, "alice", &["editor"]).await;
            let other = get(&server, "/app/sign-in").await;
            let callback =
                through_issuer(&location(&other), &username, &password, &server.base).await;
            let mixed = server
                .http
                .get(&callback)
                .header(COOKIE, format!("coffer_sign_in={pending}"))
                .send()
                .await
                .unwrap();
            assert_eq!(mixed.status(), StatusCode::BAD_REQUEST);
            assert!(set_cookie(&mixed, "coffer_session").is_none());
            // No sign-in cookie at all (another browser): refused too.
            let stray = server.http.get(&callback).send().await.unwrap();
            assert_eq!(stray.status(), StatusCode::BAD_REQUEST);
            // Signed in at the issuer, but of a tenant Coffer does not know.
            let (stranger, password) = server.web_user("no-such-tenant", "sam", &["editor"]).await;
            let start = get(&server, "/app/sign-in").await;
            let (pending, _) = set_cookie(&start, "coffer_sign_in").unwrap();
            let callback =
                through_issuer(&location(&start), &stranger, &password, &server.base).await;
            let refused = server
                .http
                .get(&callback)
                .header(COOKIE, format!("coffer_sign_in={pending}"))
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
            assert!(set_cookie(&refused, "coffer_session").is_none());
            assert!(refused.text().await.unwrap().contains("cannot use Coffer"));
        }
    }
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap()
}
