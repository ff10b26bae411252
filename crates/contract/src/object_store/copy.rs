//! Copies inside the store: an object of its own that a later write to the
//! source cannot reach, the type kept, never across tenants.

use std::sync::Arc;

use coffer_domain::TenantId;
use coffer_ports::{ObjectLocation, ObjectStore, StoreErrorKind};

use super::fixtures::{
    Harness, assert_absent, collect, ok, pattern, presign_put_request, refused_with, send,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_copy_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; copy;
            a_copy_keeps_its_bytes_when_the_source_is_overwritten,
            a_copy_of_nothing_is_not_found,
            a_copy_never_crosses_tenants,
        );
    };
}

pub async fn a_copy_keeps_its_bytes_when_the_source_is_overwritten(
    store: Arc<dyn ObjectStore>,
    h: Harness,
) {
    let http = reqwest::Client::new();
    let (source, target) = (h.location(), h.location());
    let first = pattern(30, 0, 5000);
    // No checksum bound: the same URL then takes any bytes of that length.
    let put = ok(
        store
            .presign_put(presign_put_request(
                &source,
                "application/pdf",
                &first,
                false,
            ))
            .await,
        "presign_put",
    );
    let response = send(&http, &put, first.clone(), |_| {}).await;
    assert!(response.status().is_success(), "PUT: {}", response.status());

    let copied = ok(store.copy(&source, &target).await, "copy");
    assert_eq!(copied.size, 5000);
    let head = ok(store.head(&target).await, "head of the copy");
    assert_eq!(head.content_type.as_deref(), Some("application/pdf"));

    let second = pattern(31, 0, 5000);
    let response = send(&http, &put, second.clone(), |_| {}).await;
    assert!(
        response.status().is_success(),
        "reusing the PUT URL: {}",
        response.status()
    );
    let source_now = ok(store.get_stream(&source, None).await, "get source").body;
    assert!(
        collect(source_now).await == second,
        "the source was replaced"
    );
    let copy_now = ok(store.get_stream(&target, None).await, "get copy").body;
    assert!(
        collect(copy_now).await == first,
        "the copy changed with its source"
    );
}

pub async fn a_copy_of_nothing_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    let (source, target) = (h.location(), h.location());
    refused_with(
        store.copy(&source, &target).await,
        StoreErrorKind::NotFound,
        "copying a missing object",
    );
    assert_absent(store.as_ref(), &target, "target of a failed copy").await;
}

pub async fn a_copy_never_crosses_tenants(store: Arc<dyn ObjectStore>, h: Harness) {
    let source = h.location();
    ok(
        store
            .put_stream(
                &source,
                &super::fixtures::content_type("text/plain"),
                super::fixtures::pattern_stream(32, 100),
            )
            .await,
        "put_stream",
    );
    let other = Harness {
        tenant: TenantId::new_random(),
        ..h.clone()
    };
    let foreign: ObjectLocation = other.location();
    refused_with(
        store.copy(&source, &foreign).await,
        StoreErrorKind::Refused,
        "copying into another tenant",
    );
    assert_absent(store.as_ref(), &foreign, "the other tenant's key").await;
}
