use std::sync::Arc;

use bytes::Bytes;
use coffer_domain::{FileRecord, FileStatus, Role, Tenant, TenantStatus};
use coffer_ports::{
    ByteRange, GetObject, MetadataErrorKind, MockTenantDataResolver, Page, ReadFilter, TenantData,
};
use coffer_service::{ErrorKind, ListFiles};
use mockall::Sequence;

use crate::support::*;

#[tokio::test]
async fn download_url_is_audited_first_and_restores_the_name() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    let mut seq = Sequence::new();
    let id = f.id;
    fx.audit
        .expect_append_audit()
        .times(1)
        .in_sequence(&mut seq)
        .withf(move |_, e| {
            e.action == "file.download_url"
                && e.file_id == Some(id)
                && e.request_id.as_deref() == Some("req-1")
        })
        .returning(|_, _| Ok(()));
    fx.store
        .expect_presign_get()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|r| {
            r.content_disposition.as_deref()
                == Some("attachment; filename=\"Bericht M_rz.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf")
                && r.content_type.as_ref().map(|c| c.essence()) == Some("application/pdf")
        })
        .returning(|_| Ok(presigned("GET")));
    let url = fx
        .build()
        .download_url(&caller(&t, "alice", &[Role::Viewer]), f.id, None)
        .await
        .unwrap();
    assert_eq!(url.method, "GET");
}

#[tokio::test]
async fn no_url_without_an_audit_record() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    fx.audit
        .expect_append_audit()
        .returning(|_, _| Err(meta_err(MetadataErrorKind::Unavailable)));
    fx.store.expect_presign_get().never();
    let result = fx
        .build()
        .download_url(&caller(&t, "alice", &[Role::Viewer]), f.id, None)
        .await;
    assert_err(result, ErrorKind::Unavailable, "metadata_unavailable");
}

#[tokio::test]
async fn pending_files_cannot_be_downloaded() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Pending);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    fx.store.expect_presign_get().never();
    let result = fx
        .build()
        .download_url(&caller(&t, "alice", &[Role::Editor]), f.id, None)
        .await;
    assert_err(result, ErrorKind::Conflict, "file_pending");
}

#[tokio::test]
async fn private_files_of_others_are_forbidden_and_foreign_ones_not_found() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, &f);
    // Both refusals on record, each once.
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(|_, e| e.action == "file.access_denied" && e.actor.as_str() == "bob")
        .returning(|_, _| Ok(()));
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(|_, e| e.action == "file.not_found" && e.actor.as_str() == "alice")
        .returning(|_, _| Ok(()));
    let app = fx.build();
    assert_err(
        app.get_file(&caller(&t, "bob", &[Role::Editor]), f.id)
            .await,
        ErrorKind::Forbidden,
        "access_denied",
    );
    let other = tenant(TenantStatus::Active);
    assert_err(
        app.get_file(&caller(&other, "alice", &[Role::Admin]), f.id)
            .await,
        ErrorKind::NotFound,
        "not_found",
    );
}

#[tokio::test]
async fn content_checks_the_range_before_reading() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available); // 9 bytes
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    serves_file(&mut fx.files, &f);
    fx.store
        .expect_get_stream()
        .times(1)
        .withf(|_, r| *r == Some(ByteRange::Bounded { start: 2, end: 4 }))
        .returning(|_, _| {
            Ok(GetObject {
                total_size: 9,
                range: Some((2, 4)),
                content_type: None,
                etag: None,
                body: Box::pin(futures::stream::iter(vec![Ok(Bytes::from_static(b"F-1"))])),
            })
        });
    let app = fx.build();
    let c = caller(&t, "alice", &[Role::Viewer]);
    let (_, object) = app
        .open_content(
            &c,
            f.id,
            None,
            Some(ByteRange::Bounded { start: 2, end: 4 }),
        )
        .await
        .unwrap();
    assert_eq!(object.range, Some((2, 4)));
    let result = app
        .open_content(&c, f.id, None, Some(ByteRange::From { start: 9 }))
        .await;
    assert_err(
        result.map(|_| ()),
        ErrorKind::RangeNotSatisfiable,
        "range_not_satisfiable",
    );
}

#[tokio::test]
async fn listing_filters_by_what_the_caller_may_read() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    audit_ok(&mut fx.audit);
    fx.files
        .expect_list_files()
        .times(1)
        .withf(|_, q| {
            q.filter == ReadFilter::All && q.limit == 100 && q.status == FileStatus::Available
        })
        .returning(|_, _| {
            Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        });
    fx.files
        .expect_list_files()
        .times(1)
        .withf(|_, q| {
            matches!(&q.filter, ReadFilter::Readable { subject, .. } if subject.as_str() == "ed")
                && q.limit == 5
        })
        .returning(|_, _| {
            Ok(Page {
                items: vec![],
                next_cursor: None,
            })
        });
    let app = fx.build();
    app.list_files(&caller(&t, "boss", &[Role::Admin]), ListFiles::default())
        .await
        .unwrap();
    app.list_files(
        &caller(&t, "ed", &[Role::Editor]),
        ListFiles {
            limit: Some(5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn listing_refuses_bad_input() {
    let t = tenant(TenantStatus::Active);
    let mut fx = FilesFx::default();
    fx.files.expect_list_files().never();
    let app = fx.build();
    let c = caller(&t, "ed", &[Role::Editor]);
    for (request, code) in [
        (
            ListFiles {
                limit: Some(0),
                ..Default::default()
            },
            "invalid_limit",
        ),
        (
            ListFiles {
                limit: Some(1001),
                ..Default::default()
            },
            "invalid_limit",
        ),
        (
            ListFiles {
                cursor: Some("garbage".into()),
                ..Default::default()
            },
            "validation_failed",
        ),
        (
            ListFiles {
                q: Some("a\u{0}b".into()),
                ..Default::default()
            },
            "invalid_query",
        ),
    ] {
        assert_err(app.list_files(&c, request).await, ErrorKind::Invalid, code);
    }
}

/// Reading a file and recording the access are one use case over one
/// tenant's data: its stores are resolved once, for the caller's tenant.
fn resolved_once(t: &Tenant, f: &FileRecord) -> FilesFx {
    let mut fx = FilesFx::default();
    serves_file(&mut fx.files, f);
    audit_ok(&mut fx.audit);
    let data = TenantData {
        files: Arc::new(std::mem::take(&mut fx.files)),
        audit: Arc::new(std::mem::take(&mut fx.audit)),
        ..no_data()
    };
    let data = Arc::new(data);
    let mut resolver = MockTenantDataResolver::new();
    let owner = t.id;
    resolver
        .expect_tenant_data()
        .times(1)
        .withf(move |tenant| tenant.id == owner)
        .returning(move |_| Ok(data.clone()));
    fx.resolver = Some(resolver);
    fx
}

#[tokio::test]
async fn a_download_resolves_its_tenants_data_once() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = resolved_once(&t, &f);
    fx.store
        .expect_presign_get()
        .times(1)
        .returning(|_| Ok(presigned("GET")));
    fx.build()
        .download_url(&caller(&t, "alice", &[Role::Viewer]), f.id, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn streamed_content_resolves_its_tenants_data_once() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let mut fx = resolved_once(&t, &f);
    fx.store.expect_get_stream().times(1).returning(|_, _| {
        Ok(GetObject {
            total_size: 9,
            range: None,
            content_type: None,
            etag: None,
            body: Box::pin(futures::stream::iter(vec![Ok(Bytes::from_static(
                b"%PDF-1.7\n",
            ))])),
        })
    });
    fx.build()
        .open_content(&caller(&t, "alice", &[Role::Viewer]), f.id, None, None)
        .await
        .unwrap();
}
