//! Deleting an object (idempotent), an object lock that binds nothing, and
//! listing a tenant's objects in pages.

use std::sync::Arc;

use coffer_domain::{ObjectKey, UploadSessionId};
use coffer_ports::{ObjectLocation, ObjectLock, ObjectPrefix, ObjectStore, StoreErrorKind};

use super::fixtures::{
    Harness, assert_absent, collect, content_type, ok, pattern, pattern_stream, refused_with,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_list_delete_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; list_delete;
            delete_removes_and_is_idempotent,
            apply_lock_to_a_missing_object_is_not_found,
            an_object_under_no_lock_deletes_completely,
            list_pages_through_tenant_objects,
            list_of_a_session_holds_that_session_only,
        );
    };
}

pub async fn delete_removes_and_is_idempotent(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    let kept = h.location();
    for l in [&location, &kept] {
        ok(
            store
                .put_stream(l, &content_type("text/plain"), pattern_stream(8, 100))
                .await,
            "put_stream",
        );
    }
    ok(store.delete(&location).await, "delete");
    assert_absent(store.as_ref(), &location, "head after delete").await;
    ok(store.delete(&location).await, "deleting again");
    assert_eq!(
        ok(store.head(&kept).await, "head of the other object").size,
        100
    );
}

/// No lock: no retention, no legal hold.
const NO_LOCK: ObjectLock = ObjectLock {
    retention: None,
    legal_hold: false,
};

pub async fn apply_lock_to_a_missing_object_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    let hold = ObjectLock {
        retention: None,
        legal_hold: true,
    };
    refused_with(
        store.apply_lock(&h.location(), &hold, false).await,
        StoreErrorKind::NotFound,
        "apply_lock to a missing object",
    );
}

/// Whether or not the store enforces locks (S3 Object Lock: `Enforced`;
/// the local disk, a bucket without Object Lock: `NotSupported`), an
/// object whose lock binds nothing keeps its bytes and then deletes
/// completely.
pub async fn an_object_under_no_lock_deletes_completely(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    ok(
        store
            .put_stream(
                &location,
                &content_type("text/plain"),
                pattern_stream(3, 64),
            )
            .await,
        "put_stream",
    );
    ok(
        store.apply_lock(&location, &NO_LOCK, false).await,
        "apply_lock with nothing to bind",
    );
    let read = ok(store.get_stream(&location, None).await, "get_stream");
    assert_eq!(collect(read.body).await, pattern(3, 0, 64));
    ok(store.delete(&location).await, "delete");
    assert_absent(store.as_ref(), &location, "head after delete").await;
    let listed = ok(
        store
            .list(&ObjectPrefix::tenant(h.tenant, h.bucket.clone()), None, 10)
            .await,
        "list",
    );
    assert!(listed.objects.is_empty(), "{listed:?}");
}

pub async fn list_pages_through_tenant_objects(store: Arc<dyn ObjectStore>, h: Harness) {
    let mut written = Vec::new();
    for n in 0..5u64 {
        let location = h.location();
        ok(
            store
                .put_stream(
                    &location,
                    &content_type("text/plain"),
                    pattern_stream(n, 10 + n),
                )
                .await,
            "put_stream",
        );
        written.push((location.key().clone(), 10 + n));
    }
    // Another tenant's object in the same bucket must not show up.
    let neighbour = Harness::new(h.bucket.clone(), None).location();
    ok(
        store
            .put_stream(
                &neighbour,
                &content_type("text/plain"),
                pattern_stream(9, 10),
            )
            .await,
        "put_stream of another tenant",
    );

    let mut pages = Vec::new();
    let mut listed = Vec::new();
    let mut continuation = None;
    loop {
        let page = ok(
            store
                .list(
                    &ObjectPrefix::tenant(h.tenant, h.bucket.clone()),
                    continuation.take(),
                    2,
                )
                .await,
            "list",
        );
        pages.push(page.objects.len());
        assert!(pages.len() <= 5, "listing does not end: {pages:?}");
        listed.extend(page.objects.into_iter().map(|o| (o.key, o.size)));
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    assert!(
        pages.iter().all(|n| *n <= 2),
        "pages over the limit: {pages:?}"
    );
    assert!(pages.len() >= 3, "5 objects in pages of 2: {pages:?}");
    listed.sort();
    written.sort();
    assert_eq!(listed, written);
}

pub async fn list_of_a_session_holds_that_session_only(store: Arc<dyn ObjectStore>, h: Harness) {
    let (session, other) = (UploadSessionId::new_v7(), UploadSessionId::new_v7());
    let mut written = Vec::new();
    for (s, name) in [
        (session, "a.txt"),
        (session, "nested/b.txt"),
        (other, "a.txt"),
    ] {
        let key = ok(ObjectKey::in_session(h.tenant, s, name), "session key");
        let location = ok(
            ObjectLocation::new(h.tenant, h.bucket.clone(), key.clone()),
            "session location",
        );
        ok(
            store
                .put_stream(&location, &content_type("text/plain"), pattern_stream(1, 5))
                .await,
            "put_stream",
        );
        if s == session {
            written.push(key);
        }
    }
    // A file of the tenant outside any session is not in the session either.
    ok(
        store
            .put_stream(
                &h.location(),
                &content_type("text/plain"),
                pattern_stream(2, 5),
            )
            .await,
        "put_stream",
    );
    let prefix = ObjectPrefix::upload_session(h.tenant, h.bucket.clone(), session);
    let listed = ok(store.list(&prefix, None, 1000).await, "list of a session");
    let mut keys: Vec<ObjectKey> = listed.objects.into_iter().map(|o| o.key).collect();
    keys.sort();
    written.sort();
    assert_eq!(keys, written);
    let whole = ok(
        store
            .list(
                &ObjectPrefix::tenant(h.tenant, h.bucket.clone()),
                None,
                1000,
            )
            .await,
        "list of the tenant",
    );
    assert_eq!(whole.objects.len(), 4, "{:?}", whole.objects);
}
