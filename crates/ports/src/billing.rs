//! Billing events from the payment provider (Stripe-compatible): what is
//! recorded of each for replay protection, and the change it makes, written
//! together in one transaction.

use crate::MetadataError;

use coffer_domain::{Tenant, TenantId};
use time::OffsetDateTime;

use crate::{Journal, TenantPatch};

/// A billing event as Coffer records it. Its `id` (the provider's event id,
/// `evt_…`) is recorded once: the same id again is a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBillingEvent {
    pub id: String,
    /// The provider's event type, e.g. `customer.subscription.updated`.
    pub kind: String,
    /// The tenant it was mapped to, if any.
    pub tenant: Option<TenantId>,
    /// What Coffer did with it: `applied`, `unchanged` or `ignored`.
    pub outcome: String,
    /// Why, and what was taken from it (never the whole payload).
    pub detail: serde_json::Value,
    /// When the provider created it (`created`), when given.
    pub occurred_at: Option<OffsetDateTime>,
    pub received_at: OffsetDateTime,
    /// The series whose latest event decides a state of the tenant (e.g.
    /// `subscription` for plan and status, `invoice` for the payment
    /// notice). With `tenant` and `occurred_at` set, an event that occurred
    /// before one of the same tenant and stream already recorded as
    /// `applied` or `unchanged` is *superseded*: recorded as `ignored`, its
    /// effect not made. Events of the same second apply in arrival order.
    pub stream: Option<String>,
}

impl NewBillingEvent {
    /// The detail recorded when the event is superseded: what it said, and
    /// why it changed nothing.
    pub fn superseded_detail(&self) -> serde_json::Value {
        let mut detail = self.detail.clone();
        if let Some(map) = detail.as_object_mut() {
            map.insert("reason".into(), serde_json::json!("superseded"));
        }
        detail
    }
}

/// What a billing event changes in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingChange {
    /// Plan or status, as [`crate::TenantRegistry::update_tenant`] changes them.
    Tenant(TenantPatch),
    /// Set (`Some`) or clear (`None`) a tenant setting (the billing notice),
    /// as [`crate::TenantSettings::put_setting`] does.
    Setting {
        key: String,
        value: Option<serde_json::Value>,
    },
}

/// A change and its record on the tenant's audit log (and events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEffect {
    pub tenant: TenantId,
    pub change: BillingChange,
    pub journal: Journal,
}

/// What [`BillingLedger::record_billing_event`] did.
// One answer per delivered event, never held in bulk: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingRecorded {
    /// First time this id was seen: recorded, and its effect (if any)
    /// applied; the tenant as it is now when the effect changed it.
    Recorded(Option<Tenant>),
    /// The id was recorded before: nothing was changed or recorded now.
    Replay,
    /// A later event of its stream was recorded before it arrived: it is
    /// recorded (outcome `ignored`, reason `superseded`) and changed nothing.
    Superseded,
}

/// The billing ledger: provider events recorded once, with their effect on
/// the tenant (platform path).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait BillingLedger: Send + Sync + 'static {
    /// Record a billing event by its id and apply its effect, in one
    /// transaction (platform path): when the id was recorded before, nothing
    /// is changed ([`BillingRecorded::Replay`]); otherwise the event is
    /// recorded, the effect's change made and its journal written, or none
    /// of them. Of concurrent calls with one id, exactly one records it.
    ///
    /// # Errors
    /// `NotFound` when the effect's tenant does not exist (nothing is
    /// recorded then).
    async fn record_billing_event(
        &self,
        event: NewBillingEvent,
        effect: Option<BillingEffect>,
    ) -> Result<BillingRecorded, MetadataError>;
}
