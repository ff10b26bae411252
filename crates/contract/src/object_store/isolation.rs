//! A location whose key lies outside its tenant's prefix is refused by
//! every method, before anything is sent.

use std::sync::Arc;

use coffer_ports::{CompletedPart, ObjectLocation, ObjectStore, StoreErrorKind};
use time::OffsetDateTime;

use super::fixtures::{
    Harness, LIFETIME, content_type, ok, pattern_stream, plain_get, presign_put_request,
    refused_with,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_isolation_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; isolation;
            foreign_key_is_refused_by_every_method,
        );
    };
}

/// A location whose key belongs to another tenant is refused by every
/// method, and the other tenant's object is untouched.
pub async fn foreign_key_is_refused_by_every_method(store: Arc<dyn ObjectStore>, h: Harness) {
    let other = Harness::new(h.bucket.clone(), None);
    let victim = other.location();
    ok(
        store
            .put_stream(
                &victim,
                &content_type("text/plain"),
                pattern_stream(16, 100),
            )
            .await,
        "put_stream of the other tenant",
    );
    let foreign = ObjectLocation {
        tenant: h.tenant,
        ..victim.clone()
    };
    let refused = StoreErrorKind::Refused;
    let now = OffsetDateTime::now_utc();
    let ctype = content_type("text/plain");
    refused_with(
        store
            .presign_put(presign_put_request(&foreign, "text/plain", b"x", true))
            .await,
        refused,
        "presign_put",
    );
    refused_with(
        store.presign_get(plain_get(&foreign)).await,
        refused,
        "presign_get",
    );
    refused_with(store.head(&foreign).await, refused, "head");
    refused_with(store.delete(&foreign).await, refused, "delete");
    refused_with(
        store
            .put_stream(&foreign, &ctype, pattern_stream(17, 10))
            .await,
        refused,
        "put_stream",
    );
    refused_with(
        store.get_stream(&foreign, None).await,
        refused,
        "get_stream",
    );
    refused_with(
        store.create_multipart(&foreign, &ctype).await,
        refused,
        "create_multipart",
    );
    refused_with(
        store
            .presign_part(&foreign, "upload", 1, now, LIFETIME)
            .await,
        refused,
        "presign_part",
    );
    refused_with(
        store.list_parts(&foreign, "upload").await,
        refused,
        "list_parts",
    );
    refused_with(
        store
            .complete_multipart(
                &foreign,
                "upload",
                vec![CompletedPart {
                    part_number: 1,
                    etag: "\"etag\"".to_owned(),
                }],
            )
            .await,
        refused,
        "complete_multipart",
    );
    refused_with(
        store.abort_multipart(&foreign, "upload").await,
        refused,
        "abort_multipart",
    );

    let meta = ok(store.head(&victim).await, "the other tenant's object");
    assert_eq!(meta.size, 100, "the other tenant's object was changed");
    let own = ok(store.list(h.tenant, &h.bucket, None, 1000).await, "list");
    assert!(own.objects.is_empty(), "{:?}", own.objects);
}
