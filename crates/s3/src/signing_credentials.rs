//! The credentials the direct GET presigner signs with: the SDK client's own
//! credentials provider, behind a cache with the rules of the SDK's identity
//! cache (`LazyCache`). The provider itself does not cache: the default
//! chain would ask the instance metadata service or STS on every call.

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};

use crate::S3Error;

/// Reload this long before the credentials expire (the SDK's buffer time).
const BUFFER: Duration = Duration::from_secs(10);
/// How long credentials without an expiry are kept (the SDK's default).
const DEFAULT_EXPIRATION: Duration = Duration::from_secs(15 * 60);
/// Bound on one load from the provider (the SDK's default load timeout).
const LOAD_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct SigningCredentials {
    provider: SharedCredentialsProvider,
    /// The credentials and when to load them again.
    cached: RwLock<Option<(Credentials, SystemTime)>>,
    /// One load at a time; the others wait for it and take its result.
    loading: tokio::sync::Mutex<()>,
}

impl SigningCredentials {
    pub(crate) fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            cached: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The cached credentials, loaded from the provider when missing or
    /// about to expire.
    ///
    /// # Errors
    /// [`S3Error::Unreachable`] when the provider fails or does not answer
    /// within [`LOAD_TIMEOUT`].
    pub(crate) async fn get(&self) -> Result<Credentials, S3Error> {
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let _loading = self.loading.lock().await;
        if let Some(credentials) = self.fresh() {
            return Ok(credentials);
        }
        let loaded = tokio::time::timeout(LOAD_TIMEOUT, self.provider.provide_credentials())
            .await
            .map_err(|elapsed| unreachable(Box::new(elapsed)))?
            .map_err(|e| unreachable(Box::new(e)))?;
        let now = SystemTime::now();
        let reload_at = loaded.expiry().map_or(now + DEFAULT_EXPIRATION, |expiry| {
            expiry.checked_sub(BUFFER).unwrap_or(expiry)
        });
        if let Ok(mut cached) = self.cached.write() {
            *cached = Some((loaded.clone(), reload_at));
        }
        Ok(loaded)
    }

    fn fresh(&self) -> Option<Credentials> {
        let cached = self.cached.read().ok()?;
        let (credentials, reload_at) = cached.as_ref()?;
        (SystemTime::now() < *reload_at).then(|| credentials.clone())
    }
}

fn unreachable(source: Box<dyn std::error::Error + Send + Sync>) -> S3Error {
    S3Error::Unreachable {
        operation: "presign GetObject (credentials)",
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            ProvideFuture::ready(Ok(Credentials::new(
                "id",
                "secret",
                Some("token".to_owned()),
                self.expiry,
                "test",
            )))
        }
    }

    fn cache(expiry: Option<SystemTime>) -> (SigningCredentials, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            expiry,
        });
        (SigningCredentials::new(provider), calls)
    }

    #[tokio::test]
    async fn credentials_are_loaded_once_while_fresh() {
        let (cache, calls) = cache(Some(SystemTime::now() + Duration::from_secs(3600)));
        for _ in 0..3 {
            let credentials = cache.get().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(credentials.session_token(), Some("token"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_loaded_again() {
        let (cache, calls) = cache(Some(SystemTime::now() + Duration::from_secs(5)));
        for _ in 0..2 {
            cache.get().await.unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
