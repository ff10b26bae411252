//! Malware scanning end to end, on a real clamd (scripts/services/clamd.sh):
//! the EICAR test file is quarantined and never read back, a clean file
//! becomes available, both verdicts are on record and announced; scanning
//! fails closed while clamd is down and resumes by itself when it is back;
//! a scan claimed by a server that died is finished after a restart; a
//! tenant that is not scanned, or a deployment without a scanner, makes
//! uploads available at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_clamav::testing::{EICAR, EICAR_SIGNATURE, OwnClamd, shared_tcp_url};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use crate::events::polled;
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    eicar_is_quarantined_and_a_clean_file_becomes_available,
    uploads_wait_while_clamd_is_down_and_are_scanned_once_it_is_back,
    a_scan_claimed_by_a_killed_server_is_finished_after_the_restart,
    a_tenant_whose_flag_is_off_is_not_scanned,
    a_new_version_becomes_current_only_once_scanned_clean,
);

/// How long a test waits for the worker to decide.
const DECISION: Duration = Duration::from_secs(20);

/// A server that scans with clamd at `clamd` (`tcp://HOST:PORT`): the
/// worker looks every 100 ms, retries within a second, and events settle
/// at once; `extra` on top.
pub(crate) async fn scanning_server(mode: Mode, clamd: &str, extra: &[(&str, &str)]) -> TestServer {
    let mut settings = vec![
        ("COFFER__SCANNING__CLAMD", clamd),
        ("COFFER__SCANNING__INTERVAL_MS", "100"),
        ("COFFER__SCANNING__RETRY_BASE_MS", "100"),
        ("COFFER__SCANNING__RETRY_MAX_SECS", "1"),
        ("COFFER__SCANNING__CONNECT_TIMEOUT_SECS", "1"),
        ("COFFER__EVENTS__SETTLE_MS", "100"),
    ];
    settings.extend_from_slice(extra);
    TestServer::start_with(mode, tempfile::tempdir().unwrap(), &settings).await
}

async fn get(server: &TestServer, token: &str, path: &str) -> Response {
    server.req(Method::GET, path, token).send().await.unwrap()
}

/// `GET /files/{id}`.
async fn file_view(server: &TestServer, token: &str, id: &str) -> Value {
    ok_json(
        get(server, token, &format!("/api/v1/files/{id}")).await,
        StatusCode::OK,
    )
    .await
}

fn id_of(file: &Value) -> &str {
    file["id"].as_str().unwrap()
}

/// Poll `GET /files/{id}` until the file is no longer `scanning`.
pub(crate) async fn decided(server: &TestServer, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + DECISION;
    loop {
        let file = file_view(server, token, id).await;
        if file["status"] != "scanning" {
            return file;
        }
        assert!(
            Instant::now() < deadline,
            "still scanning after {DECISION:?}: {file}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A file that waits for its scan, as the API shows it.
fn assert_scanning(file: &Value) {
    assert_eq!(file["status"], "scanning", "{file}");
    assert!(file.get("scan").is_none(), "no verdict yet: {file}");
}

/// A file that was never scanned and is readable at once.
fn assert_available_unscanned(file: &Value) {
    assert_eq!(file["status"], "available", "{file}");
    assert!(file.get("scan").is_none(), "not scanned: {file}");
}

/// Neither the download URL, nor the content (whole or a range), is given
/// out: 409 `code`.
async fn assert_unreadable(server: &TestServer, token: &str, id: &str, code: &str) {
    problem(
        get(server, token, &format!("/api/v1/files/{id}/download")).await,
        StatusCode::CONFLICT,
        code,
    )
    .await;
    let content = format!("/api/v1/files/{id}/content");
    problem(
        get(server, token, &content).await,
        StatusCode::CONFLICT,
        code,
    )
    .await;
    problem(
        server
            .req(Method::GET, &content, token)
            .header("range", "bytes=0-9")
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
        code,
    )
    .await;
}

/// The bytes both ways a client reads them: the presigned download URL
/// (`302` followed) and streamed through Coffer.
async fn assert_reads(server: &TestServer, token: &str, id: &str, expected: &[u8]) {
    let redirect = get(server, token, &format!("/api/v1/files/{id}/download")).await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let downloaded = server.http.get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), expected);
    let content = get(server, token, &format!("/api/v1/files/{id}/content")).await;
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.unwrap().as_ref(), expected);
}

/// `POST /files` as multipart/form-data, expecting `201`.
async fn stream_upload(server: &TestServer, token: &str, name: &str, bytes: &[u8]) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    ok_json(
        server
            .req(Method::POST, "/api/v1/files", token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await
}

/// `GET /readyz`.
async fn readyz(server: &TestServer) -> Response {
    server.http.get(server.url("/readyz")).send().await.unwrap()
}

/// The tenant's audit records of `action`, newest first.
async fn audited(server: &TestServer, admin: &str, action: &str) -> Vec<Value> {
    let page = ok_json(
        get(server, admin, &format!("/api/v1/audit?action={action}")).await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// Poll the event feed until it holds `count` events of `kind`; returns them.
async fn announced(server: &TestServer, admin: &str, kind: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events: Vec<Value> = polled(server, admin)
            .await
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect();
        if events.len() >= count {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{} {kind} events, expected {count}: {events:?}",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A platform admin sets the `malware_scanning` flag of the tenant of
/// `member` (a token of one of its users).
async fn set_scanning_flag(server: &TestServer, member: &str, enabled: bool) {
    let tenant = tenant_view(server, member).await;
    let path = format!(
        "/api/v1/tenants/{}/features/malware_scanning",
        tenant["id"].as_str().unwrap()
    );
    let root = server.platform_admin().await;
    let request = server.req(Method::PUT, &path, &root);
    let flag = ok_json(
        request
            .json(&json!({ "enabled": enabled }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(flag["enabled"], enabled, "{flag}");
}

async fn eicar_is_quarantined_and_a_clean_file_becomes_available(mode: Mode) {
    // No worker yet: every upload waits, and nothing is readable meanwhile.
    let server = scanning_server(
        mode,
        &shared_tcp_url(),
        &[("COFFER__SCANNING__INTERVAL_MS", "0")],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;

    let initiated = initiate_upload(
        &server,
        &alice,
        &json!({ "filename": "eicar.txt", "size": EICAR.len() }),
    )
    .await;
    let put = put_bytes(&server, &initiated["upload"], EICAR.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let eicar = complete_upload(&server, &alice, id_of(&initiated["file"])).await;
    let streamed = stream_upload(&server, &alice, "eicar-streamed.txt", EICAR).await;
    let clean = upload(&server, &alice, "clean.pdf", PDF, json!({})).await;
    for file in [&eicar, &streamed, &clean] {
        assert_scanning(file);
        assert_unreadable(&server, &alice, id_of(file), "file_scanning").await;
    }

    // The worker starts with the restarted server (on another address).
    let upload_url = initiated["upload"]["url"]
        .as_str()
        .unwrap()
        .replace(&server.base, "{base}");
    let server = server
        .restart_with(&[("COFFER__SCANNING__INTERVAL_MS", "100")])
        .await;
    let infected = json!({ "verdict": "infected", "signature": EICAR_SIGNATURE });
    for file in [&eicar, &streamed] {
        let id = id_of(file);
        let scanned = decided(&server, &alice, id).await;
        assert_eq!(scanned["status"], "quarantined", "{scanned}");
        assert_eq!(scanned["scan"], infected, "{scanned}");
        assert_unreadable(&server, &alice, id, "file_quarantined").await;
        // Not for a tenant admin either.
        assert_unreadable(&server, &admin, id, "file_quarantined").await;
    }
    // Nor through the URL its bytes were uploaded with.
    let reused = server
        .http
        .get(upload_url.replace("{base}", &server.base))
        .send()
        .await
        .unwrap();
    let status = reused.status();
    let body = reused.bytes().await.unwrap();
    assert!(status.is_client_error(), "{status}");
    assert!(!body.windows(EICAR.len()).any(|w| w == EICAR));

    let scanned = decided(&server, &alice, id_of(&clean)).await;
    assert_eq!(scanned["status"], "available", "{scanned}");
    assert_eq!(scanned["scan"], json!({ "verdict": "clean" }), "{scanned}");
    assert_reads(&server, &alice, id_of(&clean), PDF).await;

    // Both verdicts are on record, by the system, with the verdict.
    let quarantined = audited(&server, &admin, "file.quarantined").await;
    let mut ids: Vec<&str> = quarantined
        .iter()
        .map(|r| r["file_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![id_of(&eicar), id_of(&streamed)];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{quarantined:?}");
    for record in &quarantined {
        assert_eq!(record["actor"], "system:coffer", "{record}");
        assert_eq!(record["detail"]["scan"], infected, "{record}");
    }
    let clean_records = audited(&server, &admin, "file.scanned").await;
    assert_eq!(clean_records.len(), 1, "{clean_records:?}");
    assert_eq!(clean_records[0]["file_id"], clean["id"]);
    assert_eq!(clean_records[0]["detail"]["scan"]["verdict"], "clean");

    // And announced.
    let events = announced(&server, &admin, "file.quarantined", 2).await;
    for event in &events {
        assert!(expected.contains(&event["data"]["file"]["id"].as_str().unwrap()));
        assert_eq!(event["data"]["detail"]["scan"], infected, "{event}");
    }
    let events = announced(&server, &admin, "file.scanned", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");

    // The operator's metrics: the verdicts, the worker's rounds, and the
    // queue emptied (counted after each round).
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let metrics = server.prometheus().await;
        if metrics.contains("coffer_scan_queue_depth 0") || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for expected in [
        "coffer_scan_queue_depth 0",
        r#"coffer_scans_total{outcome="quarantined"} 2"#,
        r#"coffer_scans_total{outcome="clean"} 1"#,
        r#"coffer_job_runs_total{job="scan",outcome="ok"}"#,
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    assert_eq!(events[0]["data"]["file"]["id"], clean["id"]);
    assert_eq!(events[0]["data"]["detail"]["scan"]["verdict"], "clean");

    // Deleting a quarantined file erases it: there is no trash to restore
    // it from.
    let path = format!("/api/v1/files/{}", id_of(&eicar));
    let deleted = server.req(Method::DELETE, &path, &alice).send().await;
    assert_eq!(deleted.unwrap().status(), StatusCode::NO_CONTENT);
    problem(
        get(&server, &alice, &path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let restore = server.req(Method::POST, &format!("{path}/restore"), &alice);
    problem(
        restore.send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// Fail closed: no verdict without clamd, and no file readable without a
/// verdict; scans resume by themselves once clamd is back.
async fn uploads_wait_while_clamd_is_down_and_are_scanned_once_it_is_back(mode: Mode) {
    let mut clamd = OwnClamd::start("100M").await;
    let server = scanning_server(mode, &clamd.tcp().to_string(), &[]).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    assert_eq!(readyz(&server).await.status(), StatusCode::OK);

    clamd.crash();
    problem(
        readyz(&server).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "scanner_unavailable",
    )
    .await;
    let file = upload(&server, &alice, "held.pdf", PDF, json!({})).await;
    assert_scanning(&file);
    let id = id_of(&file);
    // Several worker ticks (100 ms) later: still waiting, still unreadable.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_scanning(&file_view(&server, &alice, id).await);
    assert_unreadable(&server, &alice, id, "file_scanning").await;
    if let Some(db) = server.db() {
        // The worker did try, and gave the scan back for later.
        let queued = db.queued_scan(id.parse().unwrap()).await.unwrap().unwrap();
        assert!(queued.attempts >= 1, "{queued:?}");
        assert!(!queued.leased, "{queued:?}");
        assert!(queued.last_error.is_some(), "{queued:?}");
    }

    // clamd is back on the same port: nothing else is asked of the API.
    clamd.spawn().await;
    let scanned = decided(&server, &alice, id).await;
    assert_eq!(scanned["status"], "available", "{scanned}");
    assert_eq!(scanned["scan"], json!({ "verdict": "clean" }), "{scanned}");
    assert_reads(&server, &alice, id, PDF).await;
    assert_eq!(readyz(&server).await.status(), StatusCode::OK);
}

/// A clamd that takes every connection and everything sent on it but never
/// answers (hung), so that a scan sent to it stays claimed. Returns its
/// address and what it has been sent.
async fn silent_clamd() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("tcp://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    actix_web::rt::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let sink = sink.clone();
            actix_web::rt::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                    sink.lock().unwrap().extend_from_slice(&buffer[..n]);
                }
            });
        }
    });
    (address, received)
}

/// A worker that dies mid-scan leaves its claim behind; once the lease
/// ends, the restarted server claims the scan again and finishes it.
async fn a_scan_claimed_by_a_killed_server_is_finished_after_the_restart(mode: Mode) {
    let (silent, received) = silent_clamd().await;
    let server = scanning_server(
        mode,
        &silent,
        &[
            ("COFFER__SCANNING__LEASE_SECS", "2"),
            // Far longer than the test: the scan hangs until the kill.
            ("COFFER__SCANNING__READ_TIMEOUT_SECS", "600"),
        ],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let file = upload(&server, &alice, "claimed.pdf", PDF, json!({})).await;
    assert_scanning(&file);
    let id = id_of(&file);

    // The worker claimed the scan and sent the whole file to clamd, which
    // keeps it waiting.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = received.lock().unwrap().clone();
        if sent.starts_with(b"zINSTREAM\0") && sent.windows(PDF.len()).any(|w| w == PDF) {
            break;
        }
        assert!(Instant::now() < deadline, "clamd was sent {sent:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(db) = server.db() {
        let queued = db.queued_scan(id.parse().unwrap()).await.unwrap().unwrap();
        // One claim, or two when the worker first met the file still
        // pending (its scan is queued just before `complete` commits) and
        // gave it back: either way, the hanging claim is leased.
        assert!((1..=2).contains(&queued.attempts), "{queued:?}");
        assert!(queued.leased, "{queued:?}");
    }
    assert_scanning(&file_view(&server, &alice, id).await);

    let working = shared_tcp_url();
    let server = server
        .kill_and_restart_with(&[("COFFER__SCANNING__CLAMD", working.as_str())])
        .await;
    let scanned = decided(&server, &alice, id).await;
    assert_eq!(scanned["status"], "available", "{scanned}");
    assert_eq!(scanned["scan"], json!({ "verdict": "clean" }), "{scanned}");
    assert_reads(&server, &alice, id, PDF).await;
    if let Some(db) = server.db() {
        assert_eq!(db.queued_scan(id.parse().unwrap()).await.unwrap(), None);
    }
}

/// A platform admin turns `malware_scanning` off for one tenant of a
/// deployment that scans its plan: its uploads are available at once,
/// never scanned; another tenant's still wait.
async fn a_tenant_whose_flag_is_off_is_not_scanned(mode: Mode) {
    let server = scanning_server(mode, &shared_tcp_url(), &[]).await;
    let scanned = server.tenant(json!({})).await;
    let unscanned = server.tenant(json!({})).await;
    let alice = server.token(Some(&scanned), "alice", &["editor"]).await;
    let bob = server.token(Some(&unscanned), "bob", &["editor"]).await;
    set_scanning_flag(&server, &bob, false).await;

    let direct = upload(&server, &bob, "direct.pdf", PDF, json!({})).await;
    let streamed = stream_upload(&server, &bob, "streamed.pdf", PDF).await;
    // EICAR too: nothing looks at this tenant's bytes.
    let eicar = upload(&server, &bob, "eicar.txt", EICAR, json!({})).await;
    for (file, bytes) in [(&direct, PDF), (&streamed, PDF), (&eicar, EICAR)] {
        assert_available_unscanned(file);
        assert_reads(&server, &bob, id_of(file), bytes).await;
    }
    assert_scanning(&upload(&server, &alice, "waits.pdf", PDF, json!({})).await);

    // Several worker ticks later, still no verdict.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for file in [&direct, &streamed, &eicar] {
        assert_available_unscanned(&file_view(&server, &bob, id_of(file)).await);
    }
}

/// Without a scanner (`[scanning] clamd` empty, the default) nothing waits,
/// even for a tenant whose flag asks for scanning, and readiness does not
/// depend on one. Embedded only: the wiring that decides is the same in
/// both modes.
#[actix_web::test]
async fn without_a_scanner_uploads_are_available_at_once() {
    let server = TestServer::start(Mode::Embedded).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    set_scanning_flag(&server, &alice, true).await;

    let direct = upload(&server, &alice, "direct.pdf", PDF, json!({})).await;
    let streamed = stream_upload(&server, &alice, "streamed.pdf", PDF).await;
    for file in [&direct, &streamed] {
        assert_available_unscanned(file);
        assert_reads(&server, &alice, id_of(file), PDF).await;
    }
    assert_eq!(readyz(&server).await.status(), StatusCode::OK);
}

/// Registering an upload session's objects scans them like any upload.
#[actix_web::test]
async fn objects_registered_from_an_upload_session_are_scanned() {
    use crate::credentials::{client_of, complete_session, issued, put};
    let server = scanning_server(Mode::Production, &shared_tcp_url(), &[]).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let creds = issued(&server, &alice, "write").await;
    let (bucket, prefix) = (
        creds["bucket"].as_str().unwrap(),
        creds["prefix"].as_str().unwrap(),
    );
    let s3 = client_of(&creds);
    put(&s3, bucket, &format!("{prefix}eicar.txt"), EICAR)
        .await
        .unwrap();
    put(&s3, bucket, &format!("{prefix}clean.pdf"), PDF)
        .await
        .unwrap();
    let outcome = ok_json(
        complete_session(
            &server,
            &alice,
            &creds,
            json!([{ "key": "eicar.txt" }, { "key": "clean.pdf" }]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let registered = outcome["registered"].as_array().unwrap();
    assert_eq!(registered.len(), 2, "{outcome}");
    for file in registered {
        assert_scanning(file);
    }
    let eicar = decided(&server, &alice, id_of(&registered[0])).await;
    assert_eq!(eicar["status"], "quarantined", "{eicar}");
    assert_unreadable(&server, &alice, id_of(&registered[0]), "file_quarantined").await;
    let clean = decided(&server, &alice, id_of(&registered[1])).await;
    assert_eq!(clean["status"], "available", "{clean}");
    assert_reads(&server, &alice, id_of(&registered[1]), PDF).await;
    server.shutdown().await;
}

/// Upload `bytes` of `content_type` as the next version of `id`; returns
/// the completed upload (its own id, `scanning`).
async fn version_upload(
    server: &TestServer,
    token: &str,
    id: &str,
    bytes: &[u8],
    content_type: &str,
) -> Value {
    let initiated = ok_json(
        server
            .req(Method::POST, &format!("/api/v1/files/{id}/versions"), token)
            .json(&json!({ "size": bytes.len(), "content_type": content_type }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let put = put_bytes(server, &initiated["upload"], bytes.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    complete_upload(server, token, id_of(&initiated["file"])).await
}

async fn a_new_version_becomes_current_only_once_scanned_clean(mode: Mode) {
    let server = scanning_server(mode, &shared_tcp_url(), &[]).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let first = upload(&server, &alice, "deal.pdf", PDF, json!({})).await;
    let id = id_of(&first).to_owned();
    assert_eq!(decided(&server, &alice, &id).await["status"], "available");

    // A clean version waits for its scan as an upload of its own, then
    // becomes the file's version 2.
    let mut v2 = PDF.to_vec();
    v2.extend_from_slice(b"% second\n");
    let upload2 = version_upload(&server, &alice, &id, &v2, "application/pdf").await;
    assert_scanning(&upload2);
    assert_eq!(upload2["version_of"], id.as_str());
    let deadline = Instant::now() + DECISION;
    while file_view(&server, &alice, &id).await["version"] != 2 {
        assert!(Instant::now() < deadline, "version 2 never became current");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_reads(&server, &alice, &id, &v2).await;
    problem(
        get(
            &server,
            &alice,
            &format!("/api/v1/files/{}", id_of(&upload2)),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // An infected version is quarantined on its own; the file keeps
    // version 2 and its bytes.
    let upload3 = version_upload(&server, &alice, &id, EICAR, "text/plain").await;
    let refused = decided(&server, &alice, id_of(&upload3)).await;
    assert_eq!(refused["status"], "quarantined", "{refused}");
    let file = file_view(&server, &alice, &id).await;
    assert_eq!(file["version"], 2, "{file}");
    assert_reads(&server, &alice, &id, &v2).await;
}
