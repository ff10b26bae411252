//! Coffer's ports: what the use cases need from the outside world, as
//! object-safe async traits used as `Arc<dyn Port>`.
//!
//! Each port has one error type carrying a kind ([`StoreErrorKind`],
//! [`MetadataErrorKind`], [`IdentityErrorKind`], [`ScanErrorKind`]); adapters map their own
//! errors onto those kinds, and the service layer decides what each kind means
//! for the caller. With the `mock` feature, mockall mocks (`MockObjectStore`,
//! …) are generated for unit tests.

mod batch;
mod billing;
mod changes;
mod clock;
mod credentials;
mod error;
mod events;
mod identity;
mod jobs;
mod metadata;
mod object_store;
mod platform;
mod scanner;

pub use batch::{Batcher, KeyedBatcher};
pub use billing::{BillingChange, BillingEffect, BillingLedger, BillingRecorded, NewBillingEvent};
pub use changes::{NoTenantChanges, TenantChange, TenantChanges};
pub use clock::{Clock, SystemClock};
pub use credentials::{CredentialIssuer, CredentialRequest, CredentialScope, TemporaryCredentials};
pub use error::{
    IdentityError, IdentityErrorKind, MetadataError, MetadataErrorKind, ScanError, ScanErrorKind,
    StoreError, StoreErrorKind,
};
pub use events::{
    DeliveryOutcome, Event, EventClaim, EventOutbox, Journal, NewEvent, OutboxBacklog, Pending,
    Subscribed, Subscriber, Undelivered, UndeliveredEvents, WebhookRequest, WebhookSender,
};
pub use identity::{IdentityProvider, TenantClaim, VerifiedIdentity};
pub use jobs::{JobLock, JobLocks};
pub use metadata::*;
pub use object_store::{
    BucketSpec, ByteRange, ByteStream, GetObject, ListedObject, LockEnforcement, ObjectList,
    ObjectLocation, ObjectLock, ObjectMeta, ObjectPrefix, ObjectStore, PresignGet, PresignPart,
    PresignPut, PresignedRequest, StorageTransition, UploadedPart,
};
pub use platform::{PlatformRecord, TenantUsage};
pub use scanner::Scanner;

#[cfg(feature = "mock")]
pub use billing::MockBillingLedger;
#[cfg(feature = "mock")]
pub use clock::MockClock;
#[cfg(feature = "mock")]
pub use credentials::MockCredentialIssuer;
#[cfg(feature = "mock")]
pub use events::MockEventOutbox;
#[cfg(feature = "mock")]
pub use events::MockUndeliveredEvents;
#[cfg(feature = "mock")]
pub use events::MockWebhookSender;
#[cfg(feature = "mock")]
pub use identity::MockIdentityProvider;
#[cfg(feature = "mock")]
pub use jobs::MockJobLocks;
#[cfg(feature = "mock")]
pub use object_store::MockObjectStore;
#[cfg(feature = "mock")]
pub use scanner::MockScanner;
