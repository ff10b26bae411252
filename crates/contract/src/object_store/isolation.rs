//! A key outside its tenant's prefix never reaches a store: no location
//! can be made of it.

use std::sync::Arc;

use coffer_ports::{ObjectLocation, ObjectPrefix, ObjectStore, StoreErrorKind};

use super::fixtures::{Harness, content_type, ok, pattern_stream, refused_with};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_isolation_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; isolation;
            foreign_key_never_reaches_the_store,
        );
    };
}

/// A key of another tenant cannot make a location of this one: the refusal
/// comes before any store is involved, and a location cannot be written out
/// field by field (see [`ObjectLocation`]), so no method can be handed one.
/// The other tenant's object stays untouched and out of this tenant's listing.
pub async fn foreign_key_never_reaches_the_store(store: Arc<dyn ObjectStore>, h: Harness) {
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
    refused_with(
        ObjectLocation::new(h.tenant, victim.bucket().clone(), victim.key().clone()),
        StoreErrorKind::Refused,
        "a location of this tenant holding the other tenant's key",
    );

    let meta = ok(store.head(&victim).await, "the other tenant's object");
    assert_eq!(meta.size, 100, "the other tenant's object was changed");
    let own = ok(
        store
            .list(
                &ObjectPrefix::tenant(h.tenant, h.bucket.clone()),
                None,
                1000,
            )
            .await,
        "list",
    );
    assert!(own.objects.is_empty(), "{:?}", own.objects);
}
