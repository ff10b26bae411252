//! Expired uploads and expired trash disappear, objects included, and
//! nothing else does.

use coffer_domain::FileId;
use coffer_ports::StoreErrorKind;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::integrity::{drift, raw_exists, raw_put, reconcile, tenant_id};
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(sweep_reaps_expired_uploads_and_purges_expired_trash);

async fn sweep_reaps_expired_uploads_and_purges_expired_trash(mode: Mode) {
    let server = TestServer::start_with(
        mode,
        tempfile::tempdir().unwrap(),
        &[("COFFER__UPLOADS__WINDOW_SECS", "1")],
    )
    .await;
    let tenant = server.tenant(json!({ "retention_days": 0 })).await;
    let other = server.tenant(json!({})).await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let bob = server.token(Some(&other), "bob", &["editor"]).await;

    // A pending upload whose bytes arrived but was never completed.
    let abandoned = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": "a.pdf", "size": PDF.len() }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert!(
        put_bytes(&server, &abandoned["upload"], PDF.to_vec())
            .await
            .status()
            .is_success()
    );
    // A trashed file (retention 0 days), and files that must stay.
    let trashed = upload(&server, &alice, "old.pdf", PDF, json!({})).await;
    let kept = upload(&server, &alice, "kept.pdf", PDF, json!({})).await;
    let theirs = upload(&server, &bob, "theirs.pdf", PDF, json!({})).await;
    let path = |f: &serde_json::Value| format!("/api/v1/files/{}", f["id"].as_str().unwrap());
    assert_eq!(
        server
            .req(Method::DELETE, &path(&trashed), &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let bob_pending = ok_json(
        server
            .req(Method::POST, "/api/v1/files", &bob)
            .json(&json!({ "filename": "b.pdf", "size": 3 }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;

    // Keys beside the tenant's prefix (no tenant's): the sweep never lists
    // by prefix, but nothing of its must reach them either.
    let tenant_id = tenant_id(&server, &alice).await;
    // Where their objects are (the abandoned upload's on its staging key).
    let mut doomed = Vec::new();
    for file in [&abandoned["file"], &trashed] {
        let at = file_location(&server, tenant_id, file).await;
        assert!(server.wiring.store.head(&at).await.is_ok(), "{at:?}");
        doomed.push(at);
    }
    let neighbour = format!("t/{tenant_id}x/documents/{}", FileId::new_v7());
    raw_put(&server, &neighbour).await;

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let report = coffer_server::jobs::sweep_once(&server.wiring)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.reaped, report.purged, report.failed),
        (2, 1, 0),
        "{report:?}"
    );

    for gone in [&abandoned["file"], &trashed] {
        problem(
            server
                .req(Method::GET, &path(gone), &alice)
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    problem(
        server
            .req(Method::GET, &path(&bob_pending["file"]), &bob)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        server
            .req(Method::GET, &path(&kept), &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        server
            .req(Method::GET, &path(&theirs), &bob)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Objects went with the rows, and usage and reservations were released.
    let view = tenant_view(&server, &alice).await;
    assert_eq!(
        view["usage"]["used_bytes"],
        PDF.len(),
        "only kept.pdf counts"
    );
    assert_eq!(view["usage"]["reserved_bytes"], 0);
    assert_eq!(view["id"].as_str().unwrap(), tenant_id.to_string());
    for location in &doomed {
        let head = server.wiring.store.head(location).await;
        assert!(
            head.is_err_and(|e| e.is(StoreErrorKind::NotFound)),
            "object {} still there",
            location.key()
        );
    }
    assert!(raw_exists(&server, &neighbour).await);
    // Rows and objects agree: no orphan, no row without its object.
    let check = reconcile(&server, None, false).await;
    assert_eq!(drift(&check), (0, 0, 0), "{check:?}");
    // A second sweep finds nothing more to do.
    let again = server.wiring.coffer.sweeper().sweep().await.unwrap();
    assert_eq!((again.reaped, again.purged, again.failed), (0, 0, 0));
}
