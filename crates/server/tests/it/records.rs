//! Records rules over HTTP (docs/records.md), in both modes: a category's
//! retention applied at upload; retained and held files refused by every
//! removal, their bytes kept; compliance only extended, governance
//! shortened only with the bypass (on record); holds on files and folders.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(retained_and_held_files_outlive_every_removal);

fn in_days(days: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::days(days))
        .format(&Rfc3339)
        .unwrap()
}

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let req = server.req(method, path, token);
    match body {
        Some(body) => req.json(&body),
        None => req,
    }
    .send()
    .await
    .unwrap()
}

async fn retained_and_held_files_outlive_every_removal(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server.tenant(json!({ "retention_days": 0 })).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let admin = server.token(Some(&tenant), "ada", &["admin"]).await;
    let other = server.tenant(json!({})).await;
    let mallory = server.token(Some(&other), "mallory", &["admin"]).await;
    let id = tenant_id(&server, &alice).await;
    // The records rules are the tenant admins' to set (not editors', not
    // another tenant's admins').
    let rules = format!("/api/v1/tenants/{id}/settings/records_retention");
    let rule = json!({ "value": { "contracts": { "mode": "compliance", "days": 30 } } });
    for (token, code) in [
        (&alice, "platform_admin_required"),
        (&mallory, "platform_admin_required"),
    ] {
        problem(
            send(&server, Method::PUT, &rules, token, Some(rule.clone())).await,
            StatusCode::FORBIDDEN,
            code,
        )
        .await;
    }
    problem(
        send(
            &server,
            Method::PUT,
            &rules,
            &admin,
            Some(json!({ "value": { "contracts": { "mode": "forever", "days": 1 } } })),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_setting",
    )
    .await;
    let set = ok_json(
        send(&server, Method::PUT, &rules, &admin, Some(rule)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set["effective"]["contracts"]["days"], 30);

    // The category's rule applies at upload.
    let contract = upload(
        &server,
        &alice,
        "msa.pdf",
        PDF,
        json!({ "category": "contracts" }),
    )
    .await;
    assert_eq!(contract["retention"]["mode"], "compliance");
    assert_eq!(contract["legal_hold"], false);
    let until = OffsetDateTime::parse(
        contract["retention"]["retain_until"].as_str().unwrap(),
        &Rfc3339,
    )
    .unwrap();
    let days = (until - OffsetDateTime::now_utc()).whole_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
    let file_path = |f: &Value| format!("/api/v1/files/{}", f["id"].as_str().unwrap());
    let c = file_path(&contract);

    // No permanent delete; the bytes stay.
    problem(
        send(
            &server,
            Method::DELETE,
            &format!("{c}?permanent=true"),
            &admin,
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "file_retained",
    )
    .await;
    let at = file_location(&server, id, &contract).await;
    assert!(server.wiring.store.head(&at).await.is_ok());

    // Compliance: nobody shortens or removes it, bypass or not; extending works.
    for bypass in [false, true] {
        problem(
            send(
                &server,
                Method::PUT,
                &format!("{c}/retention"),
                &admin,
                Some(json!({ "mode": "compliance", "retain_until": in_days(1), "bypass_governance": bypass })),
            )
            .await,
            StatusCode::CONFLICT,
            "retention_locked",
        )
        .await;
        problem(
            send(
                &server,
                Method::DELETE,
                &format!("{c}/retention?bypass_governance={bypass}"),
                &admin,
                None,
            )
            .await,
            StatusCode::CONFLICT,
            "retention_locked",
        )
        .await;
    }
    let extended = ok_json(
        send(
            &server,
            Method::PUT,
            &format!("{c}/retention"),
            &admin,
            Some(json!({ "mode": "compliance", "retain_until": in_days(60) })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        extended["retention"]["retain_until"].as_str().unwrap()[..10],
        in_days(60)[..10]
    );
    // Editors do not set retention; another tenant's admin finds no file.
    problem(
        send(
            &server,
            Method::PUT,
            &format!("{c}/retention"),
            &alice,
            Some(json!({ "mode": "compliance", "retain_until": in_days(90) })),
        )
        .await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    problem(
        send(
            &server,
            Method::PUT,
            &format!("{c}/retention"),
            &mallory,
            Some(json!({ "mode": "compliance", "retain_until": in_days(90) })),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Governance: shortened only with the bypass, which is on record.
    let memo = upload(&server, &alice, "memo.pdf", PDF, json!({})).await;
    assert!(memo.get("retention").is_none());
    let m = file_path(&memo);
    ok_json(
        send(
            &server,
            Method::PUT,
            &format!("{m}/retention"),
            &admin,
            Some(json!({ "mode": "governance", "retain_until": in_days(10) })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    problem(
        send(
            &server,
            Method::DELETE,
            &format!("{m}/retention"),
            &admin,
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "governance_bypass_required",
    )
    .await;
    // Retention outlives the trash: the sweep (trash retention 0 days) keeps it.
    assert_eq!(
        send(&server, Method::DELETE, &m, &alice, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.purged, report.kept_by_records),
        (0, 1),
        "{report:?}"
    );
    let restored = ok_json(
        send(&server, Method::POST, &format!("{m}/restore"), &alice, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(restored["status"], "available");
    let freed = ok_json(
        send(
            &server,
            Method::DELETE,
            &format!("{m}/retention?bypass_governance=true"),
            &admin,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(freed.get("retention").is_none());
    let audit = ok_json(
        send(
            &server,
            Method::GET,
            &format!(
                "/api/v1/audit?action=file.retention_changed&file_id={}",
                memo["id"].as_str().unwrap()
            ),
            &admin,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let bypasses: Vec<bool> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["bypass_governance"].as_bool().unwrap())
        .collect();
    assert_eq!(
        bypasses,
        [true, false],
        "newest first: the removal bypassed"
    );

    // Legal holds: on a folder, every file below it; a held file is neither
    // trashed nor erased, and released it goes as any file.
    let brief = upload(
        &server,
        &alice,
        "brief.pdf",
        PDF,
        json!({ "path": "/litigation/acme" }),
    )
    .await;
    let note = upload(
        &server,
        &alice,
        "note.pdf",
        PDF,
        json!({ "path": "/litigation" }),
    )
    .await;
    let outside = upload(
        &server,
        &alice,
        "lunch.pdf",
        PDF,
        json!({ "path": "/social" }),
    )
    .await;
    problem(
        send(
            &server,
            Method::POST,
            "/api/v1/legal-holds",
            &alice,
            Some(json!({ "path": "/litigation", "reason": "Acme v. Example" })),
        )
        .await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    let placed = ok_json(
        send(
            &server,
            Method::POST,
            "/api/v1/legal-holds",
            &admin,
            Some(json!({ "path": "/litigation", "reason": "Acme v. Example" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mut held: Vec<&str> = placed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["file_id"].as_str().unwrap())
        .collect();
    held.sort_unstable();
    let mut expected = vec![brief["id"].as_str().unwrap(), note["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(held, expected);
    assert_eq!(placed["items"][0]["placed_by"], "ada");
    let b = file_path(&brief);
    let brief_at = file_location(&server, id, &brief).await;
    for (path, code) in [
        (b.clone(), "legal_hold"),
        (format!("{b}?permanent=true"), "legal_hold"),
    ] {
        problem(
            send(&server, Method::DELETE, &path, &alice, None).await,
            StatusCode::CONFLICT,
            code,
        )
        .await;
    }
    assert_eq!(
        send(&server, Method::DELETE, &file_path(&outside), &alice, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let listed = ok_json(
        send(
            &server,
            Method::GET,
            &format!("{b}/legal-holds"),
            &admin,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["reason"], "Acme v. Example");
    problem(
        send(
            &server,
            Method::GET,
            &format!("{b}/legal-holds"),
            &mallory,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let hold = listed["items"][0]["id"].as_str().unwrap();
    problem(
        send(
            &server,
            Method::DELETE,
            &format!("/api/v1/legal-holds/{hold}"),
            &mallory,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    ok_json(
        send(
            &server,
            Method::DELETE,
            &format!("/api/v1/legal-holds/{hold}"),
            &admin,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let got = ok_json(
        send(&server, Method::GET, &b, &alice, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["legal_hold"], false);
    assert_eq!(
        send(
            &server,
            Method::DELETE,
            &format!("{b}?permanent=true"),
            &alice,
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        server.wiring.store.head(&brief_at).await.is_err(),
        "released, its bytes went"
    );
    // The contract's bytes are still there after all of it, and after the
    // reconciler's repair.
    assert!(server.wiring.store.head(&at).await.is_ok());
    let repaired = crate::integrity::reconcile(&server, Some(id), true).await;
    assert_eq!(
        crate::integrity::drift(&repaired),
        (0, 0, 0),
        "{repaired:?}"
    );
    assert!(server.wiring.store.head(&at).await.is_ok());

    // A cancelled tenant whose retention has passed is not purged while a
    // record binds it: the purge stops, and deletes nothing.
    crate::lifecycle::set_status(&server, id, "cancelled").await;
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.tenants_purged, report.purges_held),
        (0, 1),
        "{report:?}"
    );
    assert!(server.wiring.store.head(&at).await.is_ok());
    let root = server.platform_admin().await;
    let kept = ok_json(
        send(
            &server,
            Method::GET,
            &format!("/api/v1/tenants/{id}"),
            &root,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["status"], "cancelled");
}
