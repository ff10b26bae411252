use std::net::TcpListener;

use coffer_ports::MetadataPorts;

use coffer_domain::{FileId, FileRecord, Role, Subject, TenantId};
use coffer_ports::{ObjectLocation, TenantClaim, TenantScope};
use coffer_postgres::testing::TestDb;
use coffer_server::config::Config;
use coffer_server::http::Metrics;
use coffer_server::wiring::{self, Wiring};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PostgreSQL + SeaweedFS (S3) + the OIDC test issuer.
    Production,
    /// SQLite + local disk + the dev issuer, as `coffer serve` with no configuration.
    Embedded,
}

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

/// A running server and a client for it.
pub struct TestServer {
    pub mode: Mode,
    pub base: String,
    pub http: Client,
    pub wiring: Wiring,
    /// The server's Coffer metrics (what the background jobs publish to).
    pub metrics: Metrics,
    /// `http://` and the metrics listener's address (`[metrics] listen`).
    pub metrics_base: Option<String>,
    handle: actix_web::dev::ServerHandle,
    jobs: Option<coffer_server::jobs::Jobs>,
    db: Option<TestDb>,
    dir: Option<tempfile::TempDir>,
    /// The settings it started with, for a restart on the same database and bucket.
    vars: Vec<(String, String)>,
}

/// An extra setting that turns dedicated databases on, made on the test's
/// PostgreSQL server (see [`TestServer::start_with`]).
pub const DEDICATED_DATABASES: (&str, &str) = ("COFFER__METADATA__DEDICATED__ADMIN_URL", "auto");

/// An extra setting that turns tenant schemas on (schema per tenant, in
/// the test's database, made through its owner; see [`TestServer::start_with`]).
pub const TENANT_SCHEMAS: (&str, &str) = ("COFFER__METADATA__SCHEMAS__ENABLED", "true");

/// Passes the metadata store through unchanged.
pub type Wrap = Box<dyn FnOnce(MetadataPorts) -> MetadataPorts>;

impl TestServer {
    pub async fn start(mode: Mode) -> Self {
        Self::start_in(mode, tempfile::tempdir().unwrap()).await
    }

    /// Start on an existing data directory (a restart).
    pub async fn start_in(mode: Mode, dir: tempfile::TempDir) -> Self {
        Self::start_with(mode, dir, &[]).await
    }

    /// Start with extra `COFFER__…` settings layered over the mode's.
    pub async fn start_with(mode: Mode, dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        Self::start_wrapped(mode, dir, extra, Box::new(|meta| meta)).await
    }

    /// Start with the metadata store passed through `wrap` (a store that
    /// fails on cue under a real server).
    pub async fn start_wrapped(
        mode: Mode,
        dir: tempfile::TempDir,
        extra: &[(&str, &str)],
        wrap: Wrap,
    ) -> Self {
        let mut vars = vec![
            (
                "COFFER__DATA_DIR".to_owned(),
                dir.path().display().to_string(),
            ),
            ("COFFER__SERVER__WORKERS".to_owned(), "2".to_owned()),
            ("COFFER__BOOTSTRAP__TENANT".to_owned(), String::new()),
            // Onboarding runs as a job: the worker looks often in tests.
            (
                "COFFER__JOBS__ONBOARDING_INTERVAL_MS".to_owned(),
                "100".to_owned(),
            ),
        ];
        let db = match mode {
            Mode::Embedded => None,
            Mode::Production => {
                let db = TestDb::new().await;
                let bucket = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
                for (k, v) in [
                    ("COFFER__METADATA__BACKEND", "postgres".to_owned()),
                    ("COFFER__METADATA__URL", db.app_url()),
                    ("COFFER__METADATA__MIGRATE_ON_START", "false".to_owned()),
                    ("COFFER__STORAGE__BACKEND", "s3".to_owned()),
                    ("COFFER__STORAGE__BUCKET", bucket),
                    (
                        "COFFER__STORAGE__CORS_ORIGINS",
                        env("COFFER_TEST_S3_ALLOWED_ORIGIN"),
                    ),
                    (
                        "COFFER__STORAGE__S3__ENDPOINT",
                        env("COFFER_TEST_S3_ENDPOINT"),
                    ),
                    ("COFFER__STORAGE__S3__REGION", env("COFFER_TEST_S3_REGION")),
                    (
                        "COFFER__STORAGE__S3__ACCESS_KEY_ID",
                        env("COFFER_TEST_S3_ACCESS_KEY_ID"),
                    ),
                    (
                        "COFFER__STORAGE__S3__SECRET_ACCESS_KEY",
                        env("COFFER_TEST_S3_SECRET_ACCESS_KEY"),
                    ),
                    ("COFFER__STORAGE__S3__FORCE_PATH_STYLE", "true".to_owned()),
                    (
                        "COFFER__STORAGE__S3__STS__ROLE_ARN",
                        env("COFFER_TEST_STS_ROLE_ARN"),
                    ),
                    ("COFFER__IDENTITY__BACKEND", "keycloak".to_owned()),
                    ("COFFER__IDENTITY__ISSUER", env("COFFER_TEST_OIDC_ISSUER")),
                    (
                        "COFFER__IDENTITY__AUDIENCE",
                        env("COFFER_TEST_OIDC_AUDIENCE"),
                    ),
                ] {
                    vars.push((k.to_owned(), v));
                }
                Some(db)
            }
        };
        for (k, v) in extra {
            if (*k, *v) == DEDICATED_DATABASES {
                // Dedicated databases on the test's server, named after the
                // test's database and dropped with it.
                let db = db.as_ref().expect("dedicated databases need PostgreSQL");
                vars.push((k.to_string(), db.owner_url_template()));
                vars.push((
                    "COFFER__METADATA__DEDICATED__APP_URL".to_owned(),
                    db.app_url_template(),
                ));
                vars.push((
                    "COFFER__METADATA__DEDICATED__DATABASE_PREFIX".to_owned(),
                    db.dedicated_prefix(),
                ));
            } else if (*k, *v) == TENANT_SCHEMAS {
                // The owner of the test's database makes the schemas.
                let db = db.as_ref().expect("tenant schemas need PostgreSQL");
                vars.push((k.to_string(), v.to_string()));
                vars.push(("COFFER__METADATA__MIGRATION_URL".to_owned(), db.owner_url()));
            } else {
                vars.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        Self::launch(mode, vars, db, dir, wrap).await
    }

    async fn launch(
        mode: Mode,
        vars: Vec<(String, String)>,
        db: Option<TestDb>,
        dir: tempfile::TempDir,
        wrap: Wrap,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut settings = vec![(
            // Metrics on a listener of their own, as Prometheus scrapes them.
            "COFFER__METRICS__LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        )];
        // The server's own pages (an upload request's) PUT to the bucket
        // from the server's origin, as a deployment's would.
        settings.extend(vars.iter().cloned().map(|(k, v)| {
            if k == "COFFER__STORAGE__CORS_ORIGINS" {
                (k, format!("{v},{base}"))
            } else {
                (k, v)
            }
        }));
        settings.push(("COFFER__SERVER__PUBLIC_URL".to_owned(), base.clone()));
        let config = Config::load_from(None, settings).unwrap_or_else(|e| panic!("{e}"));
        let wiring = wiring::wire_with(&config, wrap)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let running = coffer_server::server::start(&config, &wiring, listener).unwrap();
        let handle = running.handle.clone();
        let metrics = running.metrics.clone();
        let metrics_base = running.metrics_addr.map(|a| format!("http://{a}"));
        actix_web::rt::spawn(running.server);
        // The background jobs, as `coffer serve` starts them.
        let jobs = Some(coffer_server::jobs::spawn(&config, &wiring, &metrics));
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            mode,
            base,
            http,
            wiring,
            metrics,
            metrics_base,
            handle,
            jobs,
            db,
            dir: Some(dir),
            vars,
        }
    }

    /// The `COFFER__…` settings it started with: what a `coffer` command
    /// run beside it needs to reach the same databases.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// The test database (production mode).
    pub fn db(&self) -> Option<&TestDb> {
        self.db.as_ref()
    }

    /// The configuration it started with, plus `extra` (for commands such
    /// as `coffer migrate` run against the same databases).
    pub fn config(&self, extra: &[(&str, String)]) -> coffer_server::config::Config {
        let mut settings = self.vars.clone();
        settings.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        coffer_server::config::Config::load_from(None, settings).unwrap()
    }

    /// Stop gracefully and start a fresh server with the same settings on
    /// the same database, bucket and data directory (a `coffer serve`
    /// restart).
    pub async fn restart(self) -> Self {
        self.restart_with(&[]).await
    }

    /// [`TestServer::restart`], with `extra` settings layered over the
    /// ones it started with (a deployment whose configuration changed).
    pub async fn restart_with(mut self, extra: &[(&str, &str)]) -> Self {
        drop(self.jobs.take());
        self.handle.stop(true).await;
        self.relaunch(extra).await
    }

    /// Stop at once, as a killed process would (requests in flight are
    /// dropped), and start a fresh server with the same settings on the same
    /// database, bucket and data directory.
    pub async fn kill_and_restart(self) -> Self {
        self.kill_and_restart_with(&[]).await
    }

    /// [`TestServer::kill_and_restart`], with `extra` settings layered over
    /// the ones it started with.
    pub async fn kill_and_restart_with(mut self, extra: &[(&str, &str)]) -> Self {
        // The jobs die with the process.
        drop(self.jobs.take());
        self.handle.stop(false).await;
        self.relaunch(extra).await
    }

    /// A fresh server on this one's database, bucket and data directory,
    /// with its settings plus `extra` (later settings win).
    async fn relaunch(mut self, extra: &[(&str, &str)]) -> Self {
        let (db, dir, mut vars) = (
            self.db.take(),
            self.dir.take().unwrap(),
            std::mem::take(&mut self.vars),
        );
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::launch(self.mode, vars, db, dir, Box::new(|meta| meta)).await
    }

    /// Another instance beside this one, with the same settings (plus
    /// `extra`) on the same database and bucket: two `coffer serve`
    /// processes behind one load balancer. The first keeps the database.
    pub async fn second(&self, extra: &[(&str, &str)]) -> Self {
        let mut vars = self.vars.clone();
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self::launch(
            self.mode,
            vars,
            None,
            tempfile::tempdir().unwrap(),
            Box::new(|meta| meta),
        )
        .await
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.as_ref().unwrap().path()
    }

    /// Stop gracefully and hand back the data directory.
    pub async fn shutdown(mut self) -> tempfile::TempDir {
        drop(self.jobs.take());
        self.handle.stop(true).await;
        self.dir.take().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The text of `/metrics`, from the metrics listener.
    pub async fn prometheus(&self) -> String {
        let base = self.metrics_base.as_deref().expect("a metrics listener");
        let response = self
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    /// A token for `sub` in `tenant` with `roles`, from the identity
    /// provider this server trusts.
    pub async fn token(&self, tenant: Option<&str>, sub: &str, roles: &[&str]) -> String {
        match self.mode {
            Mode::Embedded => {
                let issuer = self.wiring.dev_issuer.as_ref().unwrap();
                let roles: Vec<Role> = roles.iter().map(|r| r.parse().unwrap()).collect();
                let claim = tenant.map(|t| TenantClaim::parse(t).unwrap());
                issuer
                    .mint(
                        claim.as_ref(),
                        &Subject::new(sub).unwrap(),
                        &roles,
                        time::Duration::minutes(10),
                    )
                    .unwrap()
            }
            Mode::Production => {
                let mut claims = json!({ "sub": sub, "realm_access": { "roles": roles } });
                claims["tenant"] = tenant.map_or(Value::Null, |t| json!(t));
                self.mint(claims, "rs256").await
            }
        }
    }

    /// A person who signs in to the web app as `user` of `tenant` with
    /// `roles`: what to type into the sign-in page this mode shows —
    /// (username, password) at the test issuer, which learns the user
    /// here as a Keycloak admin would add one; (user, "") for the
    /// embedded dev form, which takes tenant, user and role itself.
    pub async fn web_user(&self, tenant: &str, user: &str, roles: &[&str]) -> (String, String) {
        match self.mode {
            Mode::Embedded => (user.to_owned(), String::new()),
            Mode::Production => {
                let username = format!("{user}@{tenant}");
                let response = self
                    .http
                    .post(format!(
                        "{}/realms/coffer/users",
                        env("COFFER_TEST_OIDC_ADMIN")
                    ))
                    .json(&json!({
                        "username": username,
                        "claims": { "tenant": tenant, "realm_access": { "roles": roles } },
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                (username, env("COFFER_TEST_OIDC_PASSWORD"))
            }
        }
    }

    /// A token with arbitrary claims from the test issuer (production mode).
    pub async fn mint(&self, claims: Value, sign: &str) -> String {
        mint_in_realm(&self.http, "coffer", claims, sign).await
    }

    pub async fn platform_admin(&self) -> String {
        self.token(None, "root", &["platform-admin"]).await
    }

    /// Onboard a tenant through the API and return its slug, once the
    /// onboarding job has made it `active`.
    pub async fn tenant(&self, overrides: Value) -> String {
        let slug = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let body = json!({
            "slug": slug, "display_name": "Test tenant", "plan": "starter", "region": "eu-west",
            "limit_overrides": overrides,
        });
        let created = self.create_tenant(&body).await;
        let view = self.wait_onboarded(created["id"].as_str().unwrap()).await;
        assert_eq!(view["status"], "active", "{view}");
        slug
    }

    /// `POST /api/v1/tenants` with `body`, expecting `202` and a
    /// `provisioning` tenant; returns it.
    pub async fn create_tenant(&self, body: &Value) -> Value {
        let admin = self.platform_admin().await;
        let response = self
            .req(Method::POST, "/api/v1/tenants", &admin)
            .json(body)
            .send()
            .await
            .unwrap();
        let created = ok_json(response, StatusCode::ACCEPTED).await;
        assert_eq!(created["status"], "provisioning", "{created}");
        created
    }

    /// `GET /api/v1/tenants/{id}` as a platform admin.
    pub async fn tenant_admin_view(&self, id: &str) -> Value {
        let admin = self.platform_admin().await;
        ok_json(
            self.req(Method::GET, &format!("/api/v1/tenants/{id}"), &admin)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    }

    /// Poll `GET /api/v1/tenants/{id}` until the onboarding job ended
    /// (`active` or `provisioning_failed`); returns the view.
    pub async fn wait_onboarded(&self, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let view = self.tenant_admin_view(id).await;
            if view["status"] != "provisioning" {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "onboarding did not end: {view}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub async fn mint_in_realm(http: &Client, realm: &str, claims: Value, sign: &str) -> String {
    let url = format!("{}/realms/{realm}/mint", env("COFFER_TEST_OIDC_ADMIN"));
    let response: Value = http
        .post(url)
        .json(&json!({ "claims": claims, "sign": sign }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["token"].as_str().unwrap().to_owned()
}

/// A public page at `url`, fetched with no token: status and text.
pub async fn open_page(server: &TestServer, url: &str) -> (StatusCode, String) {
    let response = server.http.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Turn the feature flag `key` of tenant `id` on or off as the platform
/// admin `root`; the answer's status.
pub async fn set_feature(
    server: &TestServer,
    root: &str,
    id: impl std::fmt::Display,
    key: &str,
    enabled: bool,
) -> StatusCode {
    server
        .req(
            Method::PUT,
            &format!("/api/v1/tenants/{id}/features/{key}"),
            root,
        )
        .json(&json!({ "enabled": enabled }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Assert a problem+json answer with `status` and `code`; returns the body.
pub async fn problem(response: Response, status: StatusCode, code: &str) -> Value {
    let got = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "expected {status} {code}, got {got}: {body}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type}: {body}"
    );
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["code"], code, "{body}");
    assert_eq!(json["status"], status.as_u16());
    json
}

/// File `id`'s row as the server stored it (its object key is not in the
/// API: a pending file's is its staging key, an uploaded one's a verified key).
pub async fn file_record(server: &TestServer, tenant: TenantId, id: FileId) -> FileRecord {
    let meta = &server.wiring.meta;
    let tenant = meta.registry.get_tenant(tenant).await.unwrap();
    meta.tenant_data
        .tenant_data(&tenant)
        .await
        .unwrap()
        .files
        .get_file(&TenantScope::new(tenant.id), id)
        .await
        .unwrap()
        .file
}

/// Where `file`'s object is (a file as the API shows it), per its row.
pub async fn file_location(server: &TestServer, tenant: TenantId, file: &Value) -> ObjectLocation {
    let id = file["id"].as_str().unwrap().parse().unwrap();
    let record = file_record(server, tenant, id).await;
    ObjectLocation::new(tenant, record.bucket, record.key).unwrap()
}

/// `GET /api/v1/tenant` as `token`: the caller's tenant, its limits and usage.
pub async fn tenant_view(server: &TestServer, token: &str) -> Value {
    ok_json(
        server
            .req(Method::GET, "/api/v1/tenant", token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

pub async fn ok_json(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `POST /api/v1/files` with the JSON `body`, expecting `201`: the pending
/// file and its `upload` (or `multipart`) instructions.
pub async fn initiate_upload(server: &TestServer, token: &str, body: &Value) -> Value {
    ok_json(
        server
            .req(Method::POST, "/api/v1/files", token)
            .json(body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await
}

/// Initiate, PUT to the presigned URL with its headers, complete. Returns the file.
pub async fn upload(
    server: &TestServer,
    token: &str,
    filename: &str,
    bytes: &[u8],
    extra: Value,
) -> Value {
    let mut body = json!({ "filename": filename, "size": bytes.len() });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let initiated = initiate_upload(server, token, &body).await;
    let put = put_bytes(server, &initiated["upload"], bytes.to_vec()).await;
    assert!(
        put.status().is_success(),
        "PUT refused: {}",
        put.text().await.unwrap()
    );
    complete_upload(server, token, initiated["file"]["id"].as_str().unwrap()).await
}

/// `POST /api/v1/files/{id}/complete`, expecting `200`. Returns the file.
pub async fn complete_upload(server: &TestServer, token: &str, id: &str) -> Value {
    ok_json(
        server
            .req(Method::POST, &format!("/api/v1/files/{id}/complete"), token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

/// PUT bytes as the upload instructions say. `Content-Length` is the
/// body's own, as any HTTP client sends it: a body of another size then
/// contradicts the signed length.
pub async fn put_bytes(server: &TestServer, upload: &Value, bytes: Vec<u8>) -> Response {
    let mut request = server.http.put(upload["url"].as_str().unwrap());
    for (name, value) in upload["headers"].as_object().unwrap() {
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value.as_str().unwrap());
        }
    }
    request.body(bytes).send().await.unwrap()
}

pub const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n";
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
