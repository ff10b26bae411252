//! What survives failures and restarts.

use bytes::Bytes;
use coffer_domain::TenantId;
use coffer_ports::{ByteStream, ObjectLocation, ObjectPrefix, ObjectStore, StoreErrorKind};
use futures::TryStreamExt;

use crate::server;
use crate::support::{assert_nothing_stored, fresh};
use crate::support::{bytes, content_type, location, put_request, ready_bucket, send, sha256};

fn failing_body(good: Bytes) -> ByteStream {
    Box::pin(futures::stream::iter([
        Ok(good),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]))
}

fn body(bytes: Bytes) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(bytes)]))
}

async fn read_all(store: &dyn ObjectStore, loc: &coffer_ports::ObjectLocation) -> Vec<u8> {
    let object = store.get_stream(loc, None).await.unwrap();
    let chunks: Vec<Bytes> = object.body.try_collect().await.unwrap();
    chunks.concat()
}

#[tokio::test]
async fn a_body_failing_midway_leaves_no_object_and_no_litter() {
    let test = server::start();
    let store = &test.store;
    let bucket = ready_bucket(store).await;
    let tenant = TenantId::new_random();
    let loc = location(tenant, &bucket);

    let failed = store
        .put_stream(
            &loc,
            &content_type("text/plain"),
            failing_body(bytes(100_000)),
        )
        .await
        .unwrap_err();
    assert!(failed.is(StoreErrorKind::Internal), "{failed}");
    let listed = store
        .list(&ObjectPrefix::tenant(tenant, bucket.clone()), None, 100)
        .await
        .unwrap();
    assert!(listed.objects.is_empty(), "{listed:?}");
    assert_nothing_stored(&test, &loc).await;

    // A failed overwrite leaves the previous object whole.
    let original = Bytes::from_static(b"original");
    store
        .put_stream(&loc, &content_type("text/plain"), body(original.clone()))
        .await
        .unwrap();
    assert!(
        store
            .put_stream(&loc, &content_type("text/plain"), failing_body(bytes(10)))
            .await
            .is_err()
    );
    assert_eq!(read_all(store, &loc).await, original);
    assert_eq!(
        store.head(&loc).await.unwrap().checksum_sha256,
        Some(sha256(&original))
    );
}

#[tokio::test]
async fn objects_and_signed_urls_survive_reopening() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    let payload = bytes(5_000);
    let put = store
        .presign_put(put_request(&loc, &payload, None))
        .await
        .unwrap();
    store
        .put_stream(
            &loc,
            &content_type("application/pdf"),
            body(payload.clone()),
        )
        .await
        .unwrap();
    let before = store.head(&loc).await.unwrap();

    let reopened = test.reopen();
    let after = reopened.head(&loc).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(read_all(&reopened, &loc).await, payload);
    // The signing key persisted: a URL signed before the restart still verifies.
    let response = send(&put, payload.clone(), &[]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_sidecar_that_describes_other_bytes_is_not_believed() {
    // Simulates a crash between the data rename and the sidecar rename.
    let (test, loc) = fresh().await;
    let store = &test.store;
    store
        .put_stream(
            &loc,
            &content_type("text/plain"),
            body(Bytes::from_static(b"old")),
        )
        .await
        .unwrap();
    let path = test
        .data_dir()
        .join("objects/files")
        .join(loc.key().as_str());
    let replacement = test.data_dir().join("tmp/replacement");
    std::fs::write(&replacement, b"new").unwrap();
    std::fs::rename(&replacement, &path).unwrap();

    let meta = store.head(&loc).await.unwrap();
    assert_eq!(meta.checksum_sha256, Some(sha256(b"new")));
    assert_eq!(meta.etag, Some(format!("\"{}\"", sha256(b"new").to_hex())));
}

#[tokio::test]
async fn keys_never_leave_their_bucket_dir() {
    let test = server::start();
    let store = &test.store;
    let bucket = ready_bucket(store).await;
    let tenant = TenantId::new_random();
    // Another tenant's key cannot make a location of this tenant, and the
    // store takes nothing else: the foreign key never reaches it.
    let other = location(TenantId::new_random(), &bucket);
    let refused = ObjectLocation::new(tenant, bucket.clone(), other.key().clone()).unwrap_err();
    assert!(refused.is(StoreErrorKind::Refused));
    let files: Vec<_> = walk(&test.data_dir().join("objects")).collect();
    assert!(files.is_empty(), "{files:?}");
    // An own key does reach it, inside the bucket's directory.
    let own = location(tenant, &bucket);
    store
        .put_stream(
            &own,
            &content_type("text/plain"),
            body(Bytes::from_static(b"x")),
        )
        .await
        .unwrap();
    let files: Vec<_> = walk(&test.data_dir().join("objects")).collect();
    let bucket_dir = test.data_dir().join("objects").join(bucket.as_str());
    assert!(
        !files.is_empty() && files.iter().all(|f| f.starts_with(&bucket_dir)),
        "{files:?}"
    );
}

fn walk(dir: &std::path::Path) -> Box<dyn Iterator<Item = std::path::PathBuf>> {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    Box::new(entries.into_iter().flat_map(|p| {
        if p.is_dir() {
            walk(&p)
        } else {
            Box::new(std::iter::once(p)) as Box<dyn Iterator<Item = _>>
        }
    }))
}
