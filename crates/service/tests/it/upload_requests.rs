//! Upload requests over mocked ports: a visitor's upload takes a place
//! before its file exists and is the requester's file with the request as
//! actor; a refusal gives the place back; closed, full, unavailable
//! requests and files not of the request reach nothing further; only the
//! token's digest is kept; closing is for the creator or an admin.

use std::sync::{Arc, Mutex};

use coffer_domain::{
    ContentType, FeatureFlag, FileStatus, Filename, LinkDigest, LogicalPath, Metadata,
    RequestClosed, RequestTerms, Role, Subject, Tenant, TenantStatus, UploadRequest,
    UploadRequestId, UserId,
};
use coffer_service::{ErrorKind, RequestMeta, RequestRefusal, UploadTarget, VisitorUpload};
use mockall::Sequence;
use serde_json::json;

use crate::support::*;
use crate::uploads::pending_from;

const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn visitor() -> RequestMeta {
    RequestMeta {
        request_id: Some("req-9".into()),
        client_addr: Some("203.0.113.5".into()),
    }
}

fn terms() -> RequestTerms {
    RequestTerms {
        path: LogicalPath::new("/clients/acme").unwrap(),
        expires_at: now() + time::Duration::hours(1),
        max_files: 2,
        max_size: 1_000,
        allowed_types: vec![ContentType::new("application/pdf").unwrap()],
        message: Some("Receipts, please.".into()),
    }
}

fn request(tenant: &Tenant) -> UploadRequest {
    UploadRequest {
        id: UploadRequestId::new_random(),
        tenant_id: tenant.id,
        terms: terms(),
        files_received: 0,
        closed_at: None,
        created_by: Subject::new("alice").unwrap(),
        created_at: now(),
    }
}

fn pdf(size: u64) -> VisitorUpload {
    VisitorUpload {
        filename: Filename::new("receipt.pdf").unwrap(),
        size,
        content_type: None,
    }
}

/// `fx` finds `request` by any digest, in an active `tenant`.
fn finds(fx: &mut RequestsFx, tenant: &Tenant, request: &UploadRequest) {
    let found = request.clone();
    fx.requests
        .expect_find_request()
        .returning(move |_| Ok(Some(found.clone())));
    let tenant = tenant.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(tenant.clone()));
}

fn knows_alice(fx: &mut RequestsFx) {
    fx.members
        .expect_upsert_user()
        .withf(|_, subject, roles| subject.as_str() == "alice" && roles == [Role::Editor])
        .returning(|_, _, _| Ok(UserId::new_random()));
}

#[tokio::test]
async fn a_visitor_upload_takes_a_place_then_is_the_requesters_file_with_the_request_as_actor() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &r);
    knows_alice(&mut fx);
    let mut order = Sequence::new();
    fx.requests
        .expect_take_place()
        .times(1)
        .in_sequence(&mut order)
        .returning({
            let taken = UploadRequest {
                files_received: 1,
                ..r.clone()
            };
            move |_, _| Ok(Some(taken.clone()))
        });
    let (id, actor) = (r.id, format!("upload_request:{}", r.id));
    fx.files
        .expect_reserve_upload()
        .times(1)
        .in_sequence(&mut order)
        .withf(move |_, new, _, journal| {
            new.owner.as_str() == "alice"
                && new.path.as_str() == "/clients/acme"
                && new.content_type.as_str() == "application/pdf"
                && new.metadata.as_map().get("upload_request") == Some(&json!(id))
                && journal.audit.action == "file.upload_initiated"
                && journal.audit.actor.as_str() == actor
                && journal.audit.client_addr.as_deref() == Some("203.0.113.5")
        })
        .returning(|scope, new, _, _| Ok(pending_from(scope.tenant_id(), new)));
    fx.store
        .expect_presign_put()
        .times(1)
        .returning(|_| Ok(presigned("PUT")));
    fx.requests.expect_give_back_place().never();
    let started = fx
        .build()
        .start_upload(TOKEN, pdf(500), &visitor())
        .await
        .unwrap();
    assert_eq!(started.file.owner.as_str(), "alice");
    assert!(matches!(started.upload, UploadTarget::Single(_)));
}

#[tokio::test]
async fn an_upload_the_tenant_refuses_gives_its_place_back() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &r);
    knows_alice(&mut fx);
    let taken = r.clone();
    fx.requests
        .expect_take_place()
        .times(1)
        .returning(move |_, _| Ok(Some(taken.clone())));
    fx.files
        .expect_reserve_upload()
        .times(1)
        .returning(|_, _, _, _| Err(meta_err(coffer_ports::MetadataErrorKind::Conflict)));
    let id = r.id;
    fx.requests
        .expect_give_back_place()
        .times(1)
        .withf(move |given| *given == id)
        .returning(|_| Ok(()));
    let refused = fx.build().start_upload(TOKEN, pdf(500), &visitor()).await;
    assert!(
        matches!(&refused, Err(RequestRefusal::Failed(e)) if e.kind == ErrorKind::Conflict),
        "{refused:?}"
    );
}

#[tokio::test]
async fn too_large_or_of_another_type_takes_no_place() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &r);
    fx.requests.expect_take_place().never();
    fx.files.expect_reserve_upload().never();
    let app = fx.build();
    let large = app.start_upload(TOKEN, pdf(1_001), &visitor()).await;
    assert!(
        matches!(&large, Err(RequestRefusal::Failed(e)) if e.kind == ErrorKind::PayloadTooLarge),
        "{large:?}"
    );
    let png = VisitorUpload {
        filename: Filename::new("photo.png").unwrap(),
        size: 10,
        content_type: None,
    };
    let other = app.start_upload(TOKEN, png, &visitor()).await;
    assert!(
        matches!(&other, Err(RequestRefusal::Failed(e)) if e.kind == ErrorKind::UnsupportedMediaType),
        "{other:?}"
    );
}

#[tokio::test]
async fn a_request_that_lost_its_last_place_says_it_is_full() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let mut fx = RequestsFx::default();
    // Open when resolved; full when asked again after the race was lost.
    let mut calls = 0;
    let (open, full) = (
        r.clone(),
        UploadRequest {
            files_received: 2,
            ..r.clone()
        },
    );
    fx.requests.expect_find_request().returning(move |_| {
        calls += 1;
        Ok(Some(if calls == 1 {
            open.clone()
        } else {
            full.clone()
        }))
    });
    let tenant = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(tenant.clone()));
    knows_alice(&mut fx);
    fx.requests
        .expect_take_place()
        .times(1)
        .returning(|_, _| Ok(None));
    fx.files.expect_reserve_upload().never();
    let refused = fx.build().start_upload(TOKEN, pdf(10), &visitor()).await;
    assert_eq!(
        refused.err(),
        Some(RequestRefusal::Closed(RequestClosed::Full))
    );
}

#[tokio::test]
async fn closed_unknown_and_unavailable_requests_reach_nothing() {
    let t = tenant(TenantStatus::Active);
    let closed = UploadRequest {
        closed_at: Some(now()),
        ..request(&t)
    };
    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &closed);
    fx.requests.expect_take_place().never();
    let app = fx.build();
    assert_eq!(
        app.open_request(TOKEN).await.err(),
        Some(RequestRefusal::Closed(RequestClosed::Closed))
    );
    assert_eq!(
        app.start_upload(TOKEN, pdf(10), &visitor()).await.err(),
        Some(RequestRefusal::Closed(RequestClosed::Closed))
    );
    assert_eq!(
        app.open_request("not-a-token").await.err(),
        Some(RequestRefusal::Unknown)
    );

    let suspended = tenant(TenantStatus::Suspended);
    let mut fx = RequestsFx::default();
    finds(&mut fx, &suspended, &request(&suspended));
    fx.requests.expect_take_place().never();
    assert_eq!(
        fx.build().open_request(TOKEN).await.err(),
        Some(RequestRefusal::Unavailable)
    );

    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &request(&t));
    fx.settings.expect_list_features().returning(|_| {
        Ok(vec![FeatureFlag {
            key: "upload_requests".into(),
            enabled: false,
            expires_at: None,
        }])
    });
    fx.requests.expect_take_place().never();
    let app = fx.build();
    assert_eq!(
        app.open_request(TOKEN).await.err(),
        Some(RequestRefusal::Unavailable)
    );
    assert_eq!(
        app.start_upload(TOKEN, pdf(10), &visitor()).await.err(),
        Some(RequestRefusal::Unavailable)
    );
}

#[tokio::test]
async fn only_files_that_came_through_the_request_are_completed_through_it() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let mut own = file(&t, "alice", FileStatus::Pending);
    own.metadata =
        Metadata::new(json!({ "upload_request": UploadRequestId::new_random() })).unwrap();
    let mut fx = RequestsFx::default();
    finds(&mut fx, &t, &r);
    serves_file(&mut fx.files, &own);
    fx.members.expect_upsert_user().never();
    let app = fx.build();
    let refused = app.complete_upload(TOKEN, own.id, &visitor()).await;
    assert!(
        matches!(&refused, Err(RequestRefusal::Failed(e)) if e.kind == ErrorKind::NotFound),
        "another request's file: {refused:?}"
    );
    let unknown = app
        .complete_upload(TOKEN, coffer_domain::FileId::new_v7(), &visitor())
        .await;
    assert!(
        matches!(&unknown, Err(RequestRefusal::Failed(e)) if e.kind == ErrorKind::NotFound),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_request_is_on_record_before_it_exists_and_only_its_digest_is_kept() {
    let t = tenant(TenantStatus::Active);
    let mut fx = RequestsFx::default();
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = order.clone();
    fx.events
        .expect_record_journal()
        .times(1)
        .withf(|_, journal| {
            journal.audit.action == "upload_request.created"
                && journal.audit.actor.as_str() == "alice"
                && journal.event.is_none()
        })
        .returning(move |_, _| {
            log.lock().unwrap().push("recorded");
            Ok(())
        });
    let kept: Arc<Mutex<Option<LinkDigest>>> = Arc::default();
    let (log, keep) = (order.clone(), kept.clone());
    fx.requests
        .expect_create_request()
        .times(1)
        .returning(move |_, digest| {
            log.lock().unwrap().push("created");
            *keep.lock().unwrap() = Some(digest);
            Ok(())
        });
    let created = fx
        .build()
        .create_request(&caller(&t, "alice", &[Role::Editor]), terms())
        .await
        .unwrap();
    assert_eq!(*order.lock().unwrap(), ["recorded", "created"]);
    assert_eq!(*kept.lock().unwrap(), Some(created.token.digest()));
    assert_eq!(created.request.created_by.as_str(), "alice");
    assert_eq!(created.request.files_received, 0);

    let mut fx = RequestsFx::default();
    fx.requests.expect_create_request().never();
    let viewer = fx
        .build()
        .create_request(&caller(&t, "vera", &[Role::Viewer]), terms())
        .await;
    assert_err(viewer, ErrorKind::Forbidden, "role_cannot_create");
    let mut fx = RequestsFx::default();
    fx.requests.expect_create_request().never();
    let bad = fx
        .build()
        .create_request(
            &caller(&t, "alice", &[Role::Editor]),
            RequestTerms {
                max_files: 0,
                ..terms()
            },
        )
        .await;
    let err = bad.unwrap_err();
    assert_eq!(
        (err.kind, err.field),
        (ErrorKind::Invalid, Some("max_files"))
    );
}

#[tokio::test]
async fn closing_is_for_the_creator_or_an_admin() {
    let t = tenant(TenantStatus::Active);
    let r = request(&t);
    let listed = r.clone();
    let mut fx = RequestsFx::default();
    fx.requests
        .expect_requests_of_tenant()
        .returning(move |_| Ok(vec![listed.clone()]));
    let closed_at = Arc::new(Mutex::new(None));
    let (seen, closed) = (closed_at.clone(), r.clone());
    fx.requests
        .expect_close_request()
        .times(1)
        .returning(move |_, _, at| {
            *seen.lock().unwrap() = Some(at);
            Ok(UploadRequest {
                closed_at: Some(at),
                ..closed.clone()
            })
        });
    fx.events
        .expect_record_journal()
        .times(1)
        .withf(|_, journal| {
            journal.audit.action == "upload_request.closed"
                && journal.audit.actor.as_str() == "boss"
        })
        .returning(|_, _| Ok(()));
    let app = fx.build();
    let bob = app
        .close_request(&caller(&t, "bob", &[Role::Editor]), r.id)
        .await;
    assert_err(bob, ErrorKind::NotFound, "not_found");
    let done = app
        .close_request(&caller(&t, "boss", &[Role::Admin]), r.id)
        .await
        .unwrap();
    assert_eq!(done.closed_at, *closed_at.lock().unwrap());
}
