//! The ObjectStore contract suite, one module per group of operations
//! (presigned requests, streamed reads and writes, listing and deletion,
//! multipart uploads, copies, buckets, tenant isolation).
//!
//! Every case is a `pub async fn(Arc<dyn ObjectStore>, Harness)` written
//! against the port only, and talks to presigned URLs over real HTTP
//! (reqwest), exactly as a client would. An adapter's integration tests run
//! the whole suite with [`object_store_contract!`](crate::object_store_contract),
//! or one group with its own macro (`object_presign_contract!`, …):
//!
//! ```ignore
//! async fn store() -> (Arc<dyn ObjectStore>, coffer_contract::object_store::Harness) { … }
//! coffer_contract::object_store_contract!(store);
//! ```
//!
//! The factory returns a store and a [`Harness`] whose bucket already exists
//! (call `ensure_bucket`) and whose tenant is fresh, so cases run in
//! parallel without seeing each other's objects.
//!
//! What the suite assumes of a presigned URL beyond the port's types: the
//! store refuses (HTTP 4xx) a request that breaks the signature, and the
//! signature travels in a query parameter whose name contains `signature`
//! (S3's `X-Amz-Signature`), so the tampering case can find it.

pub mod fixtures;

pub mod buckets;
pub mod copy;
pub mod isolation;
pub mod list_delete;
pub mod multipart;
pub mod presign;
pub mod read_write;

pub use coffer_ports::ObjectStore;
pub use fixtures::Harness;

/// Expands to one `#[tokio::test]` per contract case, each group's cases in
/// a module of its own (`presign::…`, `multipart::…`). `$factory` is an
/// async fn returning `(Arc<dyn ObjectStore>, Harness)`.
#[macro_export]
macro_rules! object_store_contract {
    ($factory:path) => {
        /// The store and harness every case of the suite starts from.
        fn __object_store_contract_store() -> impl ::std::future::Future<
            Output = (
                ::std::sync::Arc<dyn $crate::object_store::ObjectStore>,
                $crate::object_store::Harness,
            ),
        > {
            $factory()
        }
        mod presign {
            $crate::object_presign_contract!(super::__object_store_contract_store);
        }
        mod read_write {
            $crate::object_read_write_contract!(super::__object_store_contract_store);
        }
        mod list_delete {
            $crate::object_list_delete_contract!(super::__object_store_contract_store);
        }
        mod multipart {
            $crate::object_multipart_contract!(super::__object_store_contract_store);
        }
        mod copy {
            $crate::object_copy_contract!(super::__object_store_contract_store);
        }
        mod buckets {
            $crate::object_buckets_contract!(super::__object_store_contract_store);
        }
        mod isolation {
            $crate::object_isolation_contract!(super::__object_store_contract_store);
        }
    };
}

/// One `#[tokio::test]` per case of the group module `$group`: what every
/// group's macro expands to.
#[doc(hidden)]
#[macro_export]
macro_rules! __object_store_cases {
    ($factory:path; $group:ident; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, harness) = $factory().await;
                $crate::object_store::$group::$case(store, harness).await;
            }
        )+
    };
}
