//! The audit log: every access and change through the API is on record
//! exactly once, with actor, file, request id and client address, and
//! `coffer audit export` writes the same records as JSON lines.

use std::collections::BTreeMap;

use coffer_domain::TenantSlug;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Every audit record of the tenant, newest first, through the API.
async fn audit_log(server: &TestServer, admin: &str) -> Vec<Value> {
    audit_pages(server, admin, 5).await
}

/// [`audit_log`], `limit` records a page.
pub(crate) async fn audit_pages(server: &TestServer, admin: &str, limit: u32) -> Vec<Value> {
    let mut records = Vec::new();
    let mut path = format!("/api/v1/audit?limit={limit}");
    loop {
        let page = ok_json(
            server.req(Method::GET, &path, admin).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        records.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/audit?limit={limit}&cursor={cursor}"),
            None => return records,
        }
    }
}

async fn each_action_is_on_record_exactly_once(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;

    let file = upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/files/{id}");
    let send = |method: Method, url: String, body: Option<Value>| {
        let mut request = server.req(method, &url, &alice);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            response
        }
    };
    // Completing again changes nothing, and records nothing.
    send(Method::POST, format!("{path}/complete"), None).await;
    send(Method::GET, format!("{path}/download?redirect=false"), None).await;
    send(Method::GET, format!("{path}/content"), None).await;
    send(
        Method::PATCH,
        path.clone(),
        Some(json!({ "filename": "b.pdf" })),
    )
    .await;
    let grant: Value = send(
        Method::POST,
        format!("{path}/permissions"),
        Some(json!({ "subject": "user:bob", "access": "read" })),
    )
    .await
    .json()
    .await
    .unwrap();
    let grant_id = grant["id"].as_str().unwrap();
    send(
        Method::DELETE,
        format!("{path}/permissions/{grant_id}"),
        None,
    )
    .await;
    send(Method::DELETE, path.clone(), None).await;
    send(Method::POST, format!("{path}/restore"), None).await;
    send(Method::DELETE, format!("{path}?permanent=true"), None).await;
    // A refused action is not a change, but it is on record (once).
    let refused = server.req(Method::GET, &path, &alice).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    let records = audit_log(&server, &admin).await;
    let mut by_action: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for record in &records {
        by_action
            .entry(record["action"].as_str().unwrap())
            .or_default()
            .push(record);
    }
    let file_actions = [
        "file.upload_initiated",
        "file.uploaded",
        "file.download_url",
        "file.content",
        "file.updated",
        "grant.added",
        "grant.removed",
        "file.trashed",
        "file.restored",
        "file.erased",
    ];
    let counts: BTreeMap<&str, usize> = by_action.iter().map(|(k, v)| (*k, v.len())).collect();
    let mut expected: BTreeMap<&str, usize> = file_actions.iter().map(|a| (*a, 1)).collect();
    // Onboarding: created, each step (placement, database, admin user), activated.
    expected.insert("tenant.created", 1);
    expected.insert("tenant.onboarding_step", 3);
    expected.insert("tenant.activated", 1);
    // The refusal, and the first page of this very listing (later pages
    // are on record too, but newer than the listing's cursor).
    expected.insert("file.not_found", 1);
    expected.insert("audit.read", 1);
    assert_eq!(counts, expected, "each action exactly once");
    let mut request_ids = std::collections::BTreeSet::new();
    for action in file_actions {
        let record = by_action[action][0];
        assert_eq!(record["actor"], "alice", "{action}");
        assert_eq!(record["file_id"], json!(id), "{action}");
        assert_eq!(record["client_addr"], "127.0.0.1", "{action}");
        let request_id = record["request_id"].as_str().unwrap_or_default();
        assert!(!request_id.is_empty(), "{action} has a request id");
        request_ids.insert(request_id.to_owned());
    }
    // The upload's two records come from two requests; every other action from its own.
    assert_eq!(request_ids.len(), file_actions.len());

    // The export writes the same records, oldest first, one JSON object a
    // line, among the reads that came after the listing (its later pages,
    // the export itself).
    let slug = TenantSlug::new(tenant.as_str()).unwrap();
    let found = server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&slug)
        .await
        .unwrap();
    let mut out = Vec::new();
    coffer_server::cli::export_audit(&server.wiring.meta, found, None, &mut out)
        .await
        .unwrap();
    let exported: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ids = |records: &mut dyn Iterator<Item = &Value>| -> Vec<String> {
        records
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = ids(&mut records.iter().rev());
    assert_eq!(
        ids(&mut exported
            .iter()
            .filter(|r| listed.contains(&r["id"].as_str().unwrap().to_owned()))),
        listed,
        "the export is the log, oldest first"
    );
    let later: Vec<&str> = exported
        .iter()
        .filter(|r| !listed.contains(&r["id"].as_str().unwrap().to_owned()))
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        later
            .iter()
            .all(|a| *a == "audit.read" || *a == "audit.exported"),
        "{later:?}"
    );
    assert_eq!(later.last(), Some(&"audit.exported"));
    assert!(
        exported
            .iter()
            .all(|r| r["tenant_id"] == exported[0]["tenant_id"])
    );
}

#[actix_web::test]
async fn each_action_is_on_record_exactly_once_production() {
    each_action_is_on_record_exactly_once(Mode::Production).await;
}

#[actix_web::test]
async fn each_action_is_on_record_exactly_once_embedded() {
    each_action_is_on_record_exactly_once(Mode::Embedded).await;
}
