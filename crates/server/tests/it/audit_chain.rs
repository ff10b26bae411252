//! The complete, tamper-evident audit log end to end: reads, searches,
//! refusals and audit reads on record exactly once; the real `coffer`
//! binary verifying a tenant's chain and naming the entry an edit or a
//! delete in the database broke; the export verified by the offline
//! procedure of docs/audit.md, as written there.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use coffer_domain::TenantSlug;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Every record of the tenant, newest first, in one page.
async fn audit_log(server: &TestServer, admin: &str) -> Vec<Value> {
    let page = ok_json(
        server
            .req(Method::GET, "/api/v1/audit?limit=1000", admin)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn status_of(server: &TestServer, path: &str, token: &str) -> StatusCode {
    server
        .req(Method::GET, path, token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn reads_are_on_record_exactly_once(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({})).await;
    let admin = server.token(Some(&tenant), "boss", &["admin"]).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let bob = server.token(Some(&tenant), "bob", &["viewer"]).await;
    let file = upload(&server, &alice, "a.pdf", PDF, json!({})).await;
    let id = file["id"].as_str().unwrap().to_owned();
    let other = server.tenant(json!({})).await;
    let carol = server.token(Some(&other), "carol", &["editor"]).await;
    let foreign = upload(&server, &carol, "c.pdf", PDF, json!({})).await;
    let foreign_id = foreign["id"].as_str().unwrap().to_owned();

    let files = |q: &str| format!("/api/v1/files{q}");
    assert_eq!(
        status_of(&server, &files(&format!("/{id}")), &alice).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&server, &files("?path=/"), &alice).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&server, &files("?q=a.p&limit=10"), &alice).await,
        StatusCode::OK
    );
    // Bob is a member without a right to Alice's private file: 403.
    assert_eq!(
        status_of(&server, &files(&format!("/{id}")), &bob).await,
        StatusCode::FORBIDDEN
    );
    // Another tenant's id: 404, on record in the caller's tenant only.
    assert_eq!(
        status_of(&server, &files(&format!("/{foreign_id}/download")), &alice).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&server, "/api/v1/audit", &bob).await,
        StatusCode::FORBIDDEN
    );

    let records = audit_log(&server, &admin).await;
    let mut by_action: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for record in &records {
        by_action
            .entry(record["action"].as_str().unwrap())
            .or_default()
            .push(record);
    }
    let count = |action: &str| by_action.get(action).map_or(0, Vec::len);
    assert_eq!(count("file.read"), 1);
    assert_eq!(count("file.listed"), 1);
    assert_eq!(count("file.searched"), 1);
    assert_eq!(count("file.access_denied"), 1);
    assert_eq!(count("file.not_found"), 1);
    assert_eq!(count("audit.access_denied"), 1);
    // This listing is on record before it is read, so it lists itself.
    assert_eq!(count("audit.read"), 1);

    let read = by_action["file.read"][0];
    assert_eq!(
        (read["actor"].as_str(), read["file_id"].as_str()),
        (Some("alice"), Some(&*id))
    );
    let listed = by_action["file.listed"][0];
    assert_eq!(listed["detail"]["path"], "/");
    assert_eq!(listed["detail"]["q"], Value::Null);
    let searched = by_action["file.searched"][0];
    assert_eq!(searched["detail"]["q"], "a.p");
    assert_eq!(searched["detail"]["limit"], 10);
    let denied = by_action["file.access_denied"][0];
    assert_eq!(denied["actor"], "bob");
    assert_eq!(denied["file_id"], json!(id));
    assert_eq!(
        denied["detail"],
        json!({"action": "read", "code": "access_denied"})
    );
    let not_found = by_action["file.not_found"][0];
    assert_eq!(not_found["actor"], "alice");
    assert_eq!(not_found["file_id"], json!(foreign_id));
    assert_eq!(by_action["audit.access_denied"][0]["actor"], "bob");
    assert_eq!(by_action["audit.read"][0]["detail"]["limit"], 1000);
    // Every entry is a link of the chain: seq descending without a gap.
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs.len(), records.len(), "every entry has its seq");
    assert!(
        records
            .iter()
            .all(|r| r["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // The other tenant's log holds nothing of Alice's attempt.
    let other_admin = server.token(Some(&other), "root2", &["admin"]).await;
    let theirs = audit_log(&server, &other_admin).await;
    assert!(
        theirs
            .iter()
            .all(|r| r["action"] != "file.not_found" && r["actor"] != "alice")
    );
}

#[actix_web::test]
async fn reads_are_on_record_exactly_once_production() {
    reads_are_on_record_exactly_once(Mode::Production).await;
}

#[actix_web::test]
async fn reads_are_on_record_exactly_once_embedded() {
    reads_are_on_record_exactly_once(Mode::Embedded).await;
}

/// `coffer <args>`, the real binary, configured like `server`.
fn coffer(server: &TestServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .envs(server.vars().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

/// The offline procedure, exactly as docs/audit.md writes it.
fn offline_script() -> String {
    let doc = include_str!("../../../../docs/audit.md");
    let start = doc
        .find("```python\n")
        .expect("docs/audit.md has the script")
        + 10;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

/// Runs the offline procedure on `export`.
fn verify_offline(dir: &std::path::Path, export: &str) -> Output {
    let script = dir.join("verify.py");
    std::fs::write(&script, offline_script()).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(export.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Changes the stored row of `tenant`'s entry `seq` as the database's owner
/// would: `sql` is the UPDATE or DELETE without its `WHERE`.
async fn tamper(server: &TestServer, tenant: &coffer_domain::Tenant, sql: &str, seq: u64) {
    let sql = format!("{sql} WHERE tenant_id = '{}' AND seq = {seq}", tenant.id);
    match server.db() {
        Some(db) => db.execute_in(db.name(), &sql).await.unwrap(),
        None => {
            // The embedded store's triggers refuse it; its owner drops them.
            let path = server.config(&[]).sqlite_path();
            let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
                 c.execute('DROP TRIGGER IF EXISTS audit_events_no_update'); \
                 c.execute('DROP TRIGGER IF EXISTS audit_events_no_delete'); \
                 c.execute(sys.argv[2]); c.commit()";
            let out = Command::new("python3")
                .args(["-c", script, &path.display().to_string(), &sql])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A tenant with a few files read and changed, and its record.
async fn busy_tenant(server: &TestServer) -> coffer_domain::Tenant {
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    for name in ["a.pdf", "b.pdf"] {
        let file = upload(
            server,
            &alice,
            name,
            PDF,
            json!({"metadata": {"ratio": 0.25, "n": 1e16}}),
        )
        .await;
        let id = file["id"].as_str().unwrap();
        let path = format!("/api/v1/files/{id}/download?redirect=false");
        assert_eq!(status_of(server, &path, &alice).await, StatusCode::OK);
    }
    server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&TenantSlug::new(slug).unwrap())
        .await
        .unwrap()
}

async fn verify_names_the_broken_entry(mode: Mode) {
    let server = TestServer::start(mode).await;
    let edited = busy_tenant(&server).await;
    let deleted = busy_tenant(&server).await;
    let slug = edited.slug.to_string();

    // Untouched: verifies, with the head; the export verifies offline to
    // the same head.
    let out = coffer(&server, &["audit", "verify", "--tenant", &slug]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("chain main verified"), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let out = coffer(
        &server,
        &[
            "audit",
            "export",
            "--tenant",
            &slug,
            "--output",
            &file.display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["action"] == "audit.verified"),
        "verify is on record"
    );
    assert!(
        lines.iter().any(|l| l["action"] == "audit.exported"),
        "the export holds its own record"
    );
    let head = lines.last().unwrap()["hash"].as_str().unwrap().to_owned();
    let offline = verify_offline(dir.path(), &export);
    let report = String::from_utf8_lossy(&offline.stdout).into_owned();
    assert!(
        offline.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(
        report.trim(),
        format!("chain main: {} entries, head {head}", lines.len())
    );

    // One line of the export edited: the offline check names it.
    let mut forged: Vec<String> = export.lines().map(str::to_owned).collect();
    let mut third: Value = serde_json::from_str(&forged[2]).unwrap();
    third["actor"] = json!("mallory");
    forged[2] = third.to_string();
    let offline = verify_offline(dir.path(), &(forged.join("\n") + "\n"));
    let complaint = String::from_utf8_lossy(&offline.stderr).into_owned();
    assert!(!offline.status.success());
    assert!(
        complaint.contains("line 3: chain main seq 3"),
        "{complaint}"
    );

    // An entry edited in the database: verify fails at that entry.
    let victim = &lines[3];
    tamper(
        &server,
        &edited,
        "UPDATE audit_events SET actor = 'mallory'",
        4,
    )
    .await;
    let out = coffer(&server, &["audit", "verify", "--tenant", &slug]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "entry seq 4 (id {})",
            victim["id"].as_str().unwrap()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("entry altered"), "{stderr}");

    // An entry deleted: verify fails at the entry after the gap.
    let slug = deleted.slug.to_string();
    let out = coffer(&server, &["audit", "export", "--tenant", &slug]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let after = lines.iter().find(|l| l["seq"] == 5).unwrap();
    tamper(&server, &deleted, "DELETE FROM audit_events", 4).await;
    let out = coffer(&server, &["audit", "verify", "--tenant", &slug]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "entry seq 5 (id {})",
            after["id"].as_str().unwrap()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("entries missing"), "{stderr}");
}

#[actix_web::test]
async fn verify_names_the_broken_entry_production() {
    verify_names_the_broken_entry(Mode::Production).await;
}

#[actix_web::test]
async fn verify_names_the_broken_entry_embedded() {
    verify_names_the_broken_entry(Mode::Embedded).await;
}

/// A tenant with a database of its own: its chain is there (`main`), the
/// shared database's entries of it are a chain of their own (`registry`);
/// verify walks both, and finds an edit in the tenant's own database.
#[actix_web::test]
async fn a_dedicated_tenants_chains_verify_in_both_databases() {
    let server = TestServer::start_with(
        Mode::Production,
        tempfile::tempdir().unwrap(),
        &[DEDICATED_DATABASES],
    )
    .await;
    let slug = format!("ent-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created = server
        .create_tenant(&json!({
            "slug": slug, "display_name": "Own", "plan": "enterprise", "region": "eu-west",
            "admin_subject": "boss",
        }))
        .await;
    let view = server.wait_onboarded(created["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "active", "{view}");
    let admin = server.token(Some(&slug), "boss", &["admin"]).await;
    let file = upload(&server, &admin, "a.pdf", PDF, json!({})).await;
    let path = format!("/api/v1/files/{}", file["id"].as_str().unwrap());
    assert_eq!(status_of(&server, &path, &admin).await, StatusCode::OK);

    let out = coffer(&server, &["audit", "verify", "--tenant", &slug]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("chain main verified"), "{stdout}");
    assert!(stdout.contains("chain registry verified"), "{stdout}");

    let tenant = server
        .wiring
        .meta
        .registry
        .find_tenant_by_slug(&TenantSlug::new(slug.clone()).unwrap())
        .await
        .unwrap();
    let db = server.db().unwrap();
    let own = tenant
        .dedicated_database
        .clone()
        .expect("a database of its own");
    db.execute_in(
        &own,
        &format!(
            "UPDATE audit_events SET detail = '{{\"forged\": true}}' WHERE tenant_id = '{}' AND seq = 2",
            tenant.id
        ),
    )
    .await
    .unwrap();
    let out = coffer(&server, &["audit", "verify", "--tenant", &slug]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("chain main: entry seq 2"), "{stderr}");
}
