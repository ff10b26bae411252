//! The issuer's signing keys: fetched from the discovered `jwks_uri`, cached,
//! refetched when a token names an unknown `kid` (at most once per interval,
//! so a flood of bogus kids cannot hammer the issuer), and refreshed when
//! older than a maximum age so withdrawn keys stop being trusted.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::reqwest;
use tokio::sync::Mutex;

use crate::KeycloakError;
use crate::header::TokenHeader;
use crate::keys::{VerifyingKey, parse_jwks};
use crate::verifier::KeyResolver;

/// A JWKS larger than this is not a key set we want to parse.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    fetched_at: Instant,
}

enum Lookup {
    Found(Arc<VerifyingKey>),
    Unknown,
}

#[derive(Debug)]
pub(crate) struct JwksStore {
    http: reqwest::Client,
    url: String,
    refetch_interval: Duration,
    max_age: Duration,
    keys: RwLock<KeySet>,
    /// Held while fetching, so concurrent misses cause one fetch; remembers
    /// when the last refetch was attempted (the initial load does not count).
    refetch: Mutex<Option<Instant>>,
}

impl JwksStore {
    pub async fn load(
        http: reqwest::Client,
        url: String,
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, KeycloakError> {
        let keys = fetch(&http, &url).await?;
        Ok(Self {
            http,
            url,
            refetch_interval,
            max_age,
            keys: RwLock::new(KeySet {
                keys,
                fetched_at: Instant::now(),
            }),
            refetch: Mutex::new(None),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&KeySet) -> T) -> T {
        match self.keys.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn lookup(&self, header: &TokenHeader) -> Result<Lookup, KeycloakError> {
        self.read(|set| match &header.kid {
            Some(kid) => match set.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(key) => Ok(Lookup::Found(Arc::clone(key))),
                None => Ok(Lookup::Unknown),
            },
            // Without a kid, only an unambiguous key will do.
            None => {
                let fitting: Vec<_> = set
                    .keys
                    .iter()
                    .filter(|k| k.can_verify(header.alg))
                    .collect();
                match fitting.as_slice() {
                    [only] => Ok(Lookup::Found(Arc::clone(only))),
                    _ => Err(KeycloakError::Malformed(format!(
                        "no `kid` and the issuer has {} keys for {:?}",
                        fitting.len(),
                        header.alg
                    ))),
                }
            }
        })
    }

    fn stale(&self) -> bool {
        self.read(|set| set.fetched_at.elapsed() >= self.max_age)
    }

    /// Refetches unless another refetch happened within the interval.
    /// `Ok(false)` means rate-limited. With `wait == false` a refetch already
    /// in progress is not waited for (a routine refresh must not make every
    /// request wait on a slow issuer); an unknown kid does wait, since the
    /// running fetch may bring its key.
    async fn refetch(&self, wait: bool) -> Result<bool, KeycloakError> {
        let mut last = if wait {
            self.refetch.lock().await
        } else {
            match self.refetch.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(false),
            }
        };
        if last.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        let keys = fetch(&self.http, &self.url).await?;
        let fresh = KeySet {
            keys,
            fetched_at: Instant::now(),
        };
        match self.keys.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(true)
    }
}

impl KeyResolver for JwksStore {
    async fn resolve(&self, header: &TokenHeader) -> Result<Arc<VerifyingKey>, KeycloakError> {
        let unknown = |after| KeycloakError::UnknownKey {
            kid: header.kid.clone().unwrap_or_default(),
            after,
        };
        if self.stale() {
            // Keep serving the old keys if the issuer is briefly unreachable.
            if let Err(err) = self.refetch(false).await {
                tracing::warn!(error = %err, "identity.jwks.refresh_failed");
            }
        }
        if let Lookup::Found(key) = self.lookup(header)? {
            return Ok(key);
        }
        // Rate-limited or not, look again: a concurrent refetch we waited
        // for may have brought the key.
        let fetched = self.refetch(true).await?;
        match self.lookup(header)? {
            Lookup::Found(key) => Ok(key),
            Lookup::Unknown if fetched => Err(unknown(", even after a refetch")),
            Lookup::Unknown => Err(unknown("; refetch rate-limited")),
        }
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<Arc<VerifyingKey>>, KeycloakError> {
    let fail = |reason: String| KeycloakError::Jwks {
        url: url.to_owned(),
        reason,
    };
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(crate::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fail(crate::error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(fail("larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    let keys = parse_jwks(&body).map_err(fail)?;
    if keys.is_empty() {
        return Err(fail(
            "no usable signing key (RSA, P-256, P-384 or Ed25519)".into(),
        ));
    }
    tracing::debug!(url, keys = keys.len(), "identity.jwks.fetched");
    Ok(keys.into_iter().map(Arc::new).collect())
}
