//! Rate limits: per tenant and per user of `/api/v1` (the plan's
//! `requests_per_minute` and `user_requests_per_minute`, with the tenant's
//! overrides), and per client address on the public routes (the storage
//! route, requests refused for want of a valid token, unknown routes:
//! `rate_limits.client_requests_per_minute`). Over a limit the answer is
//! `429 rate_limited` problem+json with `Retry-After`.
//!
//! The algorithm is governor's GCRA, one small state per key held in
//! memory (no database round trip on the request path); a key is a tenant,
//! a user or an address together with its rate, so a changed override
//! starts a fresh bucket. Keys idle for two minutes (their bucket long
//! full again) are dropped, and each table holds at most
//! [`MAX_KEYS`], so a flood of addresses cannot grow memory without bound.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use coffer_domain::{ErrorCode, Subject, TenantId};
use coffer_service::{Caller, PlanDefaults};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

use super::error::problem_response;

/// The most keys one table holds.
pub const MAX_KEYS: u64 = 100_000;

/// How long an idle key is kept: longer than a bucket takes to refill.
const IDLE: Duration = Duration::from_secs(120);

/// A table of limiters, one per key and rate.
struct Limiters<K> {
    buckets: moka::sync::Cache<(K, NonZeroU32), Arc<DefaultDirectRateLimiter>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Send + Sync + 'static> Limiters<K> {
    fn new() -> Self {
        Self {
            buckets: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(IDLE)
                .build(),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key`; over `per_minute` (0: no limit), how
    /// long until the next one may pass.
    fn check(&self, key: K, per_minute: u32) -> Result<(), RateLimited> {
        let Some(rate) = NonZeroU32::new(per_minute) else {
            return Ok(());
        };
        let bucket = self.buckets.get_with((key, rate), || {
            Arc::new(DefaultDirectRateLimiter::direct(Quota::per_minute(rate)))
        });
        bucket.check().map_err(|not_until| RateLimited {
            retry_after: not_until.wait_time_from(self.clock.now()),
            scope: "",
        })
    }
}

/// A request over a limit: `429 rate_limited` with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// How long until a request of the same key may pass.
    pub retry_after: Duration,
    /// Whose limit: `tenant`, `user` or `client address`.
    pub scope: &'static str,
}

impl RateLimited {
    /// `Retry-After` in whole seconds, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        secs.max(1)
    }
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many requests for this {}; try again in {} s",
            self.scope,
            self.retry_after_secs()
        )
    }
}

impl ResponseError for RateLimited {
    fn status_code(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited.as_str(),
            &self.to_string(),
            None,
        );
        if let Ok(value) = HeaderValue::from_str(&self.retry_after_secs().to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Every limiter of one server.
pub struct RateLimits {
    plans: PlanDefaults,
    client_per_minute: u32,
    tenants: Limiters<TenantId>,
    users: Limiters<(TenantId, Subject)>,
    clients: Limiters<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("client_per_minute", &self.client_per_minute)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// The plans' rates (with each tenant's overrides) for callers, and
    /// `client_per_minute` (0: no limit) for public routes.
    pub fn new(plans: PlanDefaults, client_per_minute: u32) -> Self {
        Self {
            plans,
            client_per_minute,
            tenants: Limiters::new(),
            users: Limiters::new(),
            clients: Limiters::new(),
        }
    }

    /// Counts an authenticated request against its tenant's and its user's
    /// limits. Callers without a tenant (platform administrators) have none.
    ///
    /// # Errors
    /// The tenant or the user is over its limit.
    pub fn check_caller(&self, caller: &Caller) -> Result<(), RateLimited> {
        let Some(tenant) = &caller.tenant else {
            return Ok(());
        };
        let rates = self
            .plans
            .for_plan(tenant.plan)
            .request_rates(&tenant.limit_overrides);
        // The user's own limit first: a user over it does not use up the
        // rest of the tenant's.
        self.users
            .check(
                (tenant.id, caller.principal.subject.clone()),
                rates.user_per_minute,
            )
            .map_err(|e| RateLimited { scope: "user", ..e })?;
        self.tenants
            .check(tenant.id, rates.tenant_per_minute)
            .map_err(|e| RateLimited {
                scope: "tenant",
                ..e
            })
    }

    /// Counts a request of a public route against its client address.
    ///
    /// # Errors
    /// The address is over its limit.
    pub fn check_client(&self, client: Option<IpAddr>) -> Result<(), RateLimited> {
        let Some(client) = client else {
            return Ok(());
        };
        self.clients
            .check(client, self.client_per_minute)
            .map_err(|e| RateLimited {
                scope: "client address",
                ..e
            })
    }
}
