//! Fault runs: dependencies that die mid-request, lose their connections
//! under load, or freeze while Coffer serves. Every failure must be a `503`
//! problem with `Retry-After` (never a `500`, never a hang), the same
//! server must recover once the dependency is back, and afterwards
//! metadata and objects must still match: no row without its object, no
//! object without its row.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coffer_domain::{FileStatus, PageCursor, TenantSlug};
use coffer_ports::{FileQuery, ReadFilter, TenantScope};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;
use crate::weed::{FROZEN_WEED_BASE, STOPPED_WEED_BASE, Weed};

/// Far beyond every timeout these tests configure: reaching it means a
/// request hung, which is the failure under test, not a slow machine.
const HANG_GUARD: Duration = Duration::from_secs(90);

/// `request`, or a panic if it has not answered within [`HANG_GUARD`].
async fn answered(request: reqwest::RequestBuilder) -> Response {
    tokio::time::timeout(HANG_GUARD, request.send())
        .await
        .expect("the request hung")
        .unwrap()
}

/// Assert a `503` problem with `code` and `Retry-After`.
async fn unavailable(response: Response, code: &str) {
    let retry_after = response.headers().contains_key("retry-after");
    problem(response, StatusCode::SERVICE_UNAVAILABLE, code).await;
    assert!(retry_after, "503 {code} without Retry-After");
}

/// Send `request` and assert it ends as [`unavailable`] within `bound`.
async fn unavailable_within(bound: Duration, request: reqwest::RequestBuilder, code: &str) {
    let started = Instant::now();
    let response = answered(request).await;
    let took = started.elapsed();
    unavailable(response, code).await;
    assert!(took < bound, "took {took:?} (bound {bound:?})");
}

async fn initiate_and_put(server: &TestServer, token: &str, name: &str) -> String {
    let initiated = ok_json(
        answered(
            server
                .req(Method::POST, "/api/v1/files", token)
                .json(&json!({ "filename": name, "size": PDF.len() })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let put = put_bytes(server, &initiated["upload"], PDF.to_vec()).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    initiated["file"]["id"].as_str().unwrap().to_owned()
}

fn complete(server: &TestServer, token: &str, id: &str) -> reqwest::RequestBuilder {
    server.req(Method::POST, &format!("/api/v1/files/{id}/complete"), token)
}

async fn status_of(server: &TestServer, token: &str, id: &str) -> Value {
    let file = ok_json(
        answered(server.req(Method::GET, &format!("/api/v1/files/{id}"), token)).await,
        StatusCode::OK,
    )
    .await;
    file["status"].clone()
}

async fn ready(server: &TestServer) -> Response {
    answered(server.http.get(server.url("/readyz"))).await
}

/// Every row of `slug`'s files (any status) has its object and every
/// object under the tenant's prefix has its row, read through the stores
/// the server itself uses.
async fn assert_rows_match_objects(server: &TestServer, slug: &str) {
    let meta = &server.wiring.meta;
    let tenant = meta
        .registry
        .find_tenant_by_slug(&TenantSlug::new(slug).unwrap())
        .await
        .unwrap();
    let scope = TenantScope::new(tenant.id);
    let files = meta
        .tenant_data
        .tenant_data(&tenant)
        .await
        .unwrap()
        .files
        .clone();
    let bucket = server
        .wiring
        .coffer
        .config()
        .placement
        .default_bucket
        .clone();
    let mut rows = BTreeSet::new();
    for status in [
        FileStatus::Pending,
        FileStatus::Available,
        FileStatus::Deleted,
    ] {
        let mut after: Option<PageCursor> = None;
        loop {
            let query = FileQuery {
                filter: ReadFilter::All,
                status,
                category: None,
                path: None,
                prefix: None,
                name_contains: None,
                filename: None,
                metadata: None,
                owner: None,
                after,
                limit: 1000,
            };
            let page = files.list_files(&scope, &query).await.unwrap();
            for file in &page.items {
                assert_eq!(file.bucket, bucket, "{file:?}");
                rows.insert(file.key.to_string());
            }
            match page.next_cursor {
                Some(cursor) => after = Some(PageCursor::decode(&cursor).unwrap()),
                None => break,
            }
        }
    }
    let mut objects = BTreeSet::new();
    let mut continuation = None;
    loop {
        let page = server
            .wiring
            .store
            .list(
                &coffer_ports::ObjectPrefix::tenant(tenant.id, bucket.clone()),
                continuation,
                1000,
            )
            .await
            .unwrap();
        objects.extend(page.objects.iter().map(|o| o.key.to_string()));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    let rows_without_objects: Vec<_> = rows.difference(&objects).collect();
    let objects_without_rows: Vec<_> = objects.difference(&rows).collect();
    assert!(
        rows_without_objects.is_empty() && objects_without_rows.is_empty(),
        "rows without objects: {rows_without_objects:?}; objects without rows: {objects_without_rows:?}"
    );
    assert!(!rows.is_empty(), "the run stored nothing to compare");
}

#[actix_web::test]
async fn a_store_that_dies_during_complete_is_503_and_the_same_complete_succeeds_after_restart() {
    let mut weed = Weed::start(STOPPED_WEED_BASE).await;
    let settings = weed.settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &settings).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let id = initiate_and_put(&server, &alice, "report.pdf").await;

    // Freeze the store so the complete is certainly in flight (its HEAD
    // sent, no answer yet), then kill it: the store dies mid-request.
    weed.signal("STOP");
    let in_flight = {
        let request = complete(&server, &alice, &id);
        actix_web::rt::spawn(async move { answered(request).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "complete answered a frozen store");
    weed.crash().await;
    unavailable(in_flight.await.unwrap(), "storage_unavailable").await;

    // While the store is down: still pending, not ready, and a retried
    // complete is refused the same way.
    assert_eq!(status_of(&server, &alice, &id).await, "pending");
    unavailable(ready(&server).await, "storage_unavailable").await;
    let retried = answered(complete(&server, &alice, &id)).await;
    unavailable(retried, "storage_unavailable").await;

    // The store comes back on the same data; Coffer is not restarted. Its
    // S3 front answers before its volumes have re-registered, and until
    // then the complete is 503 with Retry-After: retried as a client would,
    // for a bounded time, it succeeds.
    weed.spawn().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let answer = answered(complete(&server, &alice, &id)).await;
        if answer.status() != StatusCode::SERVICE_UNAVAILABLE
            || std::time::Instant::now() > deadline
        {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let done = ok_json(answer, StatusCode::OK).await;
    assert_eq!(done["status"], "available");
    assert_eq!(ready(&server).await.status(), StatusCode::OK);
    assert_rows_match_objects(&server, &tenant).await;
}

/// What one request of the load saw: its status, and the problem code of
/// a failure.
#[derive(Debug)]
struct Outcome {
    what: &'static str,
    status: StatusCode,
    code: Option<String>,
}

async fn outcome(what: &'static str, response: Response) -> Outcome {
    let status = response.status();
    if status.is_success() {
        return Outcome {
            what,
            status,
            code: None,
        };
    }
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.text().await.unwrap();
    let code = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("(not a problem document: {body})"));
    assert!(
        status != StatusCode::SERVICE_UNAVAILABLE || retry_after,
        "{what}: 503 without Retry-After"
    );
    Outcome {
        what,
        status,
        code: Some(code),
    }
}

/// One request of the mixed load: reads of metadata, a listing, a presign,
/// or a whole upload (initiate, PUT, complete). Returns what each step saw,
/// and the id of a file left pending by a failed complete.
async fn one_request(
    server: &TestServer,
    token: &str,
    ids: &[String],
    n: usize,
) -> (Vec<Outcome>, Option<String>) {
    let id = &ids[n % ids.len()];
    match n % 4 {
        0 => {
            let r = answered(server.req(Method::GET, &format!("/api/v1/files/{id}"), token)).await;
            (vec![outcome("get", r).await], None)
        }
        1 => {
            let r = answered(server.req(Method::GET, "/api/v1/files?limit=10", token)).await;
            (vec![outcome("list", r).await], None)
        }
        2 => {
            let path = format!("/api/v1/files/{id}/download?redirect=false");
            let r = answered(server.req(Method::GET, &path, token)).await;
            (vec![outcome("download", r).await], None)
        }
        _ => {
            let body = json!({ "filename": format!("load-{n}.pdf"), "size": PDF.len() });
            let r = answered(server.req(Method::POST, "/api/v1/files", token).json(&body)).await;
            if r.status() != StatusCode::CREATED {
                return (vec![outcome("initiate", r).await], None);
            }
            let initiated: Value = r.json().await.unwrap();
            let put = put_bytes(server, &initiated["upload"], PDF.to_vec()).await;
            assert!(put.status().is_success(), "{}", put.text().await.unwrap());
            let id = initiated["file"]["id"].as_str().unwrap().to_owned();
            let r = answered(complete(server, token, &id)).await;
            let pending = (!r.status().is_success()).then(|| id.clone());
            (
                vec![
                    Outcome {
                        what: "initiate",
                        status: StatusCode::CREATED,
                        code: None,
                    },
                    outcome("complete", r).await,
                ],
                pending,
            )
        }
    }
}

#[actix_web::test]
async fn killed_database_connections_under_load_are_503_and_the_pool_recovers() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[("COFFER__METADATA__POOL_SIZE", "4")],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let file = upload(&server, &alice, &format!("seed-{n}.pdf"), PDF, json!({})).await;
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    let db = server.db().unwrap();

    // Kill every connection of the app role, again and again, while eight
    // clients keep requesting.
    let killing = AtomicBool::new(true);
    let killer = async {
        let mut killed = 0;
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            killed += db.terminate_app_backends().await.unwrap();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        killing.store(false, Ordering::SeqCst);
        killed
    };
    let clients = (0..8).map(|client| {
        let (server, alice, ids, killing) = (&server, &alice, &ids, &killing);
        async move {
            let mut seen = Vec::new();
            let mut pending = Vec::new();
            let mut n = client;
            while killing.load(Ordering::SeqCst) {
                let (outcomes, left) = one_request(server, alice, ids, n).await;
                seen.extend(outcomes);
                pending.extend(left);
                n += 8;
            }
            (seen, pending)
        }
    });
    let (killed, results) = futures::join!(killer, futures::future::join_all(clients));
    let (outcomes, pending): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    let pending: Vec<String> = pending.into_iter().flatten().collect();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.code.is_some()).collect();
    eprintln!(
        "killed {killed} connections; {} requests, {} failed: {:?}",
        outcomes.len(),
        failed.len(),
        failed
            .iter()
            .map(|o| format!(
                "{} {} {}",
                o.what,
                o.status,
                o.code.as_deref().unwrap_or("")
            ))
            .collect::<BTreeSet<_>>()
    );
    // The fault did happen, to connections the server was using.
    assert!(killed > 0, "no connection of the app role was ever killed");
    assert!(outcomes.len() > 8, "the load made too few requests");
    for failure in &failed {
        assert_eq!(
            failure.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "a killed connection must be a 503: {failure:?}"
        );
    }

    // The killing stopped: the same server (and pool) serves every request
    // again, including the completes the outage interrupted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ready(&server).await.status(), StatusCode::OK);
    // Numbers the load never reached, so uploads get fresh names.
    for n in 1_000_000..1_000_016 {
        let (outcomes, left) = one_request(&server, &alice, &ids, n).await;
        assert!(left.is_none(), "{outcomes:?}");
        for o in outcomes {
            assert!(o.code.is_none(), "after the outage: {o:?}");
        }
    }
    for id in &pending {
        let done = ok_json(
            answered(complete(&server, &alice, id)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(done["status"], "available");
    }
    // A complete whose connection died during its commit cannot know
    // whether the record names its copy, so it leaves the copy to the
    // reconciler: the repair finds no row without its object, removes
    // what no row names, and then rows and objects agree exactly.
    let id = server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&TenantSlug::new(&tenant).unwrap())
        .await
        .unwrap()
        .id;
    let repaired = crate::integrity::reconcile(&server, Some(id), true).await;
    assert_eq!(repaired.missing_found, 0, "{repaired:?}");
    assert_rows_match_objects(&server, &tenant).await;
}

#[actix_web::test]
async fn a_frozen_store_is_503_within_its_timeout_and_recovers_when_it_thaws() {
    const OPERATION_TIMEOUT_SECS: u64 = 2;
    // Generous: retries, the ready probe and a loaded 2-core machine fit
    // many times over; a hang does not.
    let bound = Duration::from_secs(OPERATION_TIMEOUT_SECS * 6);
    let mut weed = Weed::start(FROZEN_WEED_BASE).await;
    let mut settings = weed.settings();
    settings.push((
        "COFFER__STORAGE__S3__OPERATION_TIMEOUT",
        OPERATION_TIMEOUT_SECS.to_string(),
    ));
    settings.push((
        "COFFER__STORAGE__S3__READY_TIMEOUT",
        OPERATION_TIMEOUT_SECS.to_string(),
    ));
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &settings).await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let kept = upload(&server, &alice, "kept.pdf", PDF, json!({})).await;
    let kept = kept["id"].as_str().unwrap().to_owned();
    let id = initiate_and_put(&server, &alice, "late.pdf").await;

    // Accepts connections (the kernel does, for a stopped process) and
    // never answers.
    weed.signal("STOP");
    // The S3 operation timeout ends it (`storage_unavailable`), not the
    // 30 s request deadline (`request_timeout`).
    let frozen = complete(&server, &alice, &id);
    unavailable_within(bound, frozen, "storage_unavailable").await;
    let probe = server.http.get(server.url("/readyz"));
    unavailable_within(bound, probe, "storage_unavailable").await;
    // What needs no store keeps working: metadata, and presigning (local
    // computation).
    assert_eq!(status_of(&server, &alice, &id).await, "pending");
    let link = answered(server.req(
        Method::GET,
        &format!("/api/v1/files/{kept}/download?redirect=false"),
        &alice,
    ))
    .await;
    assert_eq!(link.status(), StatusCode::OK);

    weed.signal("CONT");
    weed.wait_ready().await;
    let done = ok_json(
        answered(complete(&server, &alice, &id)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "available");
    assert_eq!(ready(&server).await.status(), StatusCode::OK);
    assert_rows_match_objects(&server, &tenant).await;
}

/// A TCP port that accepts connections (the kernel completes the
/// handshake into the backlog) and never says a word.
fn silent_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[actix_web::test]
async fn a_silent_store_without_its_own_timeout_meets_the_request_deadline() {
    const REQUEST_TIMEOUT_SECS: u64 = 2;
    let bound = Duration::from_secs(REQUEST_TIMEOUT_SECS * 6);
    let (listener, port) = silent_listener();
    let endpoint = format!("http://127.0.0.1:{port}");
    let request_timeout = REQUEST_TIMEOUT_SECS.to_string();
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__STORAGE__S3__ENDPOINT", &endpoint),
            ("COFFER__STORAGE__ENSURE_BUCKETS", "false"),
            // The store's own bound is off: only the deadline can end it.
            ("COFFER__STORAGE__S3__OPERATION_TIMEOUT", "0"),
            ("COFFER__SERVER__REQUEST_TIMEOUT_SECS", &request_timeout),
        ],
    )
    .await;
    let tenant = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let initiated = ok_json(
        answered(
            server
                .req(Method::POST, "/api/v1/files", &alice)
                .json(&json!({ "filename": "a.pdf", "size": 3 })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = initiated["file"]["id"].as_str().unwrap();
    let silent = complete(&server, &alice, id);
    unavailable_within(bound, silent, "request_timeout").await;
    // The interrupted complete changed nothing, and the server still serves.
    assert_eq!(status_of(&server, &alice, id).await, "pending");
    drop(listener);
}

#[actix_web::test]
async fn a_silent_database_is_503_within_the_connect_timeout() {
    const CONNECT_TIMEOUT_SECS: u64 = 1;
    let bound = Duration::from_secs(CONNECT_TIMEOUT_SECS * 10);
    let (listener, port) = silent_listener();
    let url = format!("postgres://coffer_app:x@127.0.0.1:{port}/coffer");
    let connect_timeout = CONNECT_TIMEOUT_SECS.to_string();
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[
            ("COFFER__METADATA__URL", &url),
            ("COFFER__METADATA__CONNECT_TIMEOUT_SECS", &connect_timeout),
        ],
    )
    .await;
    let probe = server.http.get(server.url("/readyz"));
    unavailable_within(bound, probe, "metadata_unavailable").await;
    // Authenticated requests resolve their tenant in the database first.
    let token = server.token(Some("acme"), "alice", &["editor"]).await;
    let listing = server.req(Method::GET, "/api/v1/files", &token);
    unavailable_within(bound, listing, "metadata_unavailable").await;
    drop(listener);
}
