//! The integrity jobs end to end: the reconciler finds and fixes exactly
//! the drift it must (and nothing of another tenant, even under a similar
//! prefix), and a permanent delete killed between deleting the object and
//! removing the row is finished by the jobs of a fresh server.

use std::time::Duration;

use coffer_domain::{Category, FileId, TenantId};
use coffer_ports::{ObjectLocation, StoreErrorKind};
use coffer_server::jobs::{self, ReconcileRun};
use coffer_service::ReconcileReport;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::faulty::Fault;
use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    reconciler_repairs_drift_and_touches_nothing_else,
    a_delete_killed_before_its_row_is_removed_is_finished
);

pub(crate) async fn tenant_id(server: &TestServer, token: &str) -> TenantId {
    tenant_view(server, token).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A fresh location for an object of `tenant` that no file's row names
/// (default category and bucket).
fn location_of(server: &TestServer, tenant: TenantId, id: FileId) -> ObjectLocation {
    let placement = &server.wiring.coffer.config().placement;
    let category = Category::default_category();
    ObjectLocation::for_file(tenant, placement.default_bucket.clone(), &category, id)
}

async fn exists(server: &TestServer, at: &ObjectLocation) -> bool {
    match server.wiring.store.head(at).await {
        Ok(_) => true,
        Err(e) if e.is(StoreErrorKind::NotFound) => false,
        Err(e) => panic!("{e}"),
    }
}

/// Where the local-disk store keeps `key` of the default bucket.
fn fs_path(server: &TestServer, key: &str) -> std::path::PathBuf {
    let bucket = server
        .wiring
        .coffer
        .config()
        .placement
        .default_bucket
        .clone();
    server
        .data_dir()
        .join("objects")
        .join(bucket.as_str())
        .join(key)
}

fn s3() -> aws_sdk_s3::Client {
    let env = |n: &str| std::env::var(n).unwrap();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(env(
            "COFFER_TEST_S3_REGION",
        )))
        .endpoint_url(env("COFFER_TEST_S3_ENDPOINT"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            env("COFFER_TEST_S3_ACCESS_KEY_ID"),
            env("COFFER_TEST_S3_SECRET_ACCESS_KEY"),
            None,
            None,
            "coffer-tests",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Write `key` straight into the default bucket, past every Coffer check:
/// how a key outside any tenant's prefix gets there.
pub(crate) async fn raw_put(server: &TestServer, key: &str) {
    match server.mode {
        Mode::Embedded => {
            let path = fs_path(server, key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"not coffer's").unwrap();
        }
        Mode::Production => {
            let bucket = server
                .wiring
                .coffer
                .config()
                .placement
                .default_bucket
                .clone();
            s3().put_object()
                .bucket(bucket.as_str())
                .key(key)
                .body(b"not coffer's".to_vec().into())
                .send()
                .await
                .unwrap();
        }
    }
}

pub(crate) async fn raw_exists(server: &TestServer, key: &str) -> bool {
    match server.mode {
        Mode::Embedded => fs_path(server, key).exists(),
        Mode::Production => {
            let bucket = server
                .wiring
                .coffer
                .config()
                .placement
                .default_bucket
                .clone();
            s3().head_object()
                .bucket(bucket.as_str())
                .key(key)
                .send()
                .await
                .is_ok()
        }
    }
}

/// An object under the tenant's own prefix that no row knows of (a
/// streamed upload whose process died before the row was written).
async fn put_orphan(server: &TestServer, tenant: TenantId) -> ObjectLocation {
    let at = location_of(server, tenant, FileId::new_v7());
    let body: coffer_ports::ByteStream = Box::pin(futures::stream::once(async {
        Ok(bytes::Bytes::from_static(PDF))
    }));
    server
        .wiring
        .store
        .put_stream(&at, &"application/pdf".parse().unwrap(), body)
        .await
        .unwrap();
    at
}

pub(crate) async fn reconcile(
    server: &TestServer,
    tenant: Option<TenantId>,
    repair: bool,
) -> ReconcileReport {
    let run = ReconcileRun {
        tenant,
        repair,
        grace: Duration::ZERO,
    };
    jobs::reconcile_once(&server.wiring, run, Some(&server.metrics))
        .await
        .unwrap()
        .expect("no other reconciler runs in this test")
}

/// `(orphans found, rows missing their object found, erases found)`.
pub(crate) fn drift(r: &ReconcileReport) -> (u64, u64, u64) {
    (r.orphans_found, r.missing_found, r.erases_found)
}

async fn reconciler_repairs_drift_and_touches_nothing_else(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (mine, theirs) = (
        server.tenant(json!({})).await,
        server.tenant(json!({})).await,
    );
    let alice = server.token(Some(&mine), "alice", &["editor"]).await;
    let bob = server.token(Some(&theirs), "bob", &["editor"]).await;
    let a = tenant_id(&server, &alice).await;
    let b = tenant_id(&server, &bob).await;

    let kept = upload(&server, &alice, "kept.pdf", PDF, json!({})).await;
    let lost = upload(&server, &alice, "lost.pdf", PDF, json!({})).await;
    let trashed_lost = upload(&server, &alice, "trashed.pdf", PDF, json!({})).await;
    let fid = |f: &Value| f["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .req(
                Method::DELETE,
                &format!("/api/v1/files/{}", fid(&trashed_lost)),
                &alice
            )
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    // Initiated, never uploaded: a pending row has no object yet.
    ok_json(
        server
            .req(Method::POST, "/api/v1/files", &alice)
            .json(&json!({ "filename": "coming.pdf", "size": PDF.len() }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let bobs = upload(&server, &bob, "theirs.pdf", PDF, json!({})).await;
    let bobs_orphan = put_orphan(&server, b).await;

    // Drift in tenant A: an orphan object, and two rows whose object went.
    let orphan = put_orphan(&server, a).await;
    for f in [&lost, &trashed_lost] {
        server
            .wiring
            .store
            .delete(&file_location(&server, a, f).await)
            .await
            .unwrap();
    }
    // Keys that share A's prefix but for the slash: no tenant's objects.
    let neighbours = [
        format!("t/{a}x/documents/{}", FileId::new_v7()),
        format!("t/{a}-2/documents/{}", FileId::new_v7()),
    ];
    for key in &neighbours {
        raw_put(&server, key).await;
    }

    // Report only: everything found, nothing changed.
    let seen = reconcile(&server, Some(a), false).await;
    assert_eq!(drift(&seen), (1, 2, 0), "{seen:?}");
    assert_eq!(
        (seen.rows_scanned, seen.objects_scanned),
        (4, 2),
        "{seen:?}"
    );
    assert_eq!((seen.orphans_deleted, seen.missing_marked), (0, 0));
    assert!(exists(&server, &orphan).await, "a report does not delete");

    let fixed = reconcile(&server, Some(a), true).await;
    assert_eq!(drift(&fixed), (1, 2, 0), "{fixed:?}");
    assert_eq!(
        (fixed.orphans_deleted, fixed.missing_marked, fixed.failed),
        (1, 2, 0)
    );
    assert!(!exists(&server, &orphan).await, "the orphan is gone");
    assert!(
        exists(&server, &file_location(&server, a, &kept).await).await,
        "A's file stays"
    );
    assert!(
        exists(&server, &file_location(&server, b, &bobs).await).await,
        "B's file stays"
    );
    assert!(
        exists(&server, &bobs_orphan).await,
        "A's run does not touch B's prefix"
    );
    for key in &neighbours {
        assert!(
            raw_exists(&server, key).await,
            "{key} is not A's: untouched"
        );
    }
    // The marked rows stay, visible: what was lost is an operator's call.
    assert_eq!(
        server
            .req(
                Method::GET,
                &format!("/api/v1/files/{}", fid(&lost)),
                &alice
            )
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Every tenant: B's orphan goes too; A's missing rows stay reported, not re-marked.
    let all = reconcile(&server, None, true).await;
    assert_eq!(all.tenants, 2);
    assert_eq!(drift(&all), (1, 2, 0), "{all:?}");
    assert_eq!((all.orphans_deleted, all.missing_marked), (1, 0));
    assert!(!exists(&server, &bobs_orphan).await);
    for key in &neighbours {
        assert!(
            raw_exists(&server, key).await,
            "{key} is no tenant's: untouched"
        );
    }
    let again = reconcile(&server, None, true).await;
    assert_eq!(drift(&again), (0, 2, 0), "no orphan is left: {again:?}");

    // The last full run is on /metrics.
    let text = server.prometheus().await;
    for line in [
        r#"coffer_reconcile_last{what="orphan_objects_found"} 0"#,
        r#"coffer_reconcile_last{what="rows_missing_object_found"} 2"#,
        r#"coffer_reconcile_last{what="tenants"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

async fn a_delete_killed_before_its_row_is_removed_is_finished(mode: Mode) {
    let server = TestServer::start_wrapped(
        mode,
        tempfile::tempdir().unwrap(),
        &[("COFFER__JOBS__ERASE_GRACE_SECS", "1")],
        Box::new(|ports| Fault::HangOnRemove.inject(ports)),
    )
    .await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let t = tenant_id(&server, &alice).await;
    let doomed = upload(&server, &alice, "doomed.pdf", PDF, json!({})).await;
    let kept = upload(&server, &alice, "kept.pdf", PDF, json!({})).await;
    let path = |f: &Value| format!("/api/v1/files/{}", f["id"].as_str().unwrap());
    let object = file_location(&server, t, &doomed).await;

    // The delete gets as far as the object; removing the row never returns.
    let delete = server
        .req(
            Method::DELETE,
            &format!("{}?permanent=true", path(&doomed)),
            &alice,
        )
        .timeout(Duration::from_secs(3))
        .send();
    let watcher = async {
        for _ in 0..50 {
            if !exists(&server, &object).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let (answer, object_gone) = futures::join!(delete, watcher);
    assert!(
        object_gone,
        "the object was deleted before the process died"
    );
    assert!(answer.is_err(), "no answer came: {answer:?}");

    // The process dies; a fresh one starts on the same database and bucket.
    let server = server.kill_and_restart().await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    // Already gone for the user: not found, not listed, not restorable.
    for (method, url) in [
        (Method::GET, path(&doomed)),
        (Method::POST, format!("{}/restore", path(&doomed))),
    ] {
        problem(
            server.req(method, &url, &alice).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let listed = ok_json(
        server
            .req(Method::GET, "/api/v1/files", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept.pdf"]);
    // Not a row without its object: an unfinished erase.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = reconcile(&server, None, false).await;
    assert_eq!(drift(&seen), (0, 0, 1), "{seen:?}");

    let swept = jobs::sweep_once(&server.wiring).await.unwrap().unwrap();
    assert_eq!((swept.erases_finished, swept.failed), (1, 0), "{swept:?}");
    let after = reconcile(&server, None, true).await;
    assert_eq!(drift(&after), (0, 0, 0), "consistent: {after:?}");
    assert_eq!(after.rows_scanned, 1);
    assert!(exists(&server, &file_location(&server, t, &kept).await).await);
    let view = tenant_view(&server, &alice).await;
    assert_eq!(
        view["usage"]["used_bytes"],
        PDF.len(),
        "the erased file's usage is released"
    );
    // The name is free again.
    upload(&server, &alice, "doomed.pdf", PDF, json!({})).await;
}
