//! The access token: fetched with the password grant, cached, renewed before
//! it expires (with the refresh token when Secret Server offered one), and
//! dropped when the API rejects it. Concurrent callers share one in-flight
//! token request.

use crate::error::ClientError;
use secrecy::SecretString;
use secret_server_api::TokenResponse;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a token is renewed ahead of its expiry; shorter lifetimes
/// renew at 90 % of their life.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(60);

/// How to ask for a token.
#[derive(Debug)]
pub(crate) enum Grant {
    Password,
    Refresh(SecretString),
}

/// Something that can fetch a token: the HTTP client, or a fake in tests.
pub(crate) trait TokenSource: Sync {
    fn fetch(&self, grant: Grant) -> impl Future<Output = Result<TokenResponse, ClientError>> + Send;
}

/// A cached access token.
#[derive(Debug)]
pub(crate) struct Token {
    pub(crate) access: SecretString,
    refresh: Option<SecretString>,
    renew_at: Instant,
    /// Tells tokens apart, so that a caller holding a rejected token does not
    /// drop a newer one another caller already fetched.
    pub(crate) generation: u64,
}

impl Token {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.renew_at
    }
}

/// The token cache. Reads take a short lock; renewal is serialized by an
/// async mutex so that one request renews while the others wait for it.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    current: parking_lot::Mutex<Option<Arc<Token>>>,
    renewal: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

impl TokenCache {
    /// A fresh token, from the cache or from `source`.
    ///
    /// # Errors
    /// What `source` fails with; a refused refresh token falls back to the
    /// password grant first.
    pub(crate) async fn get(&self, source: &impl TokenSource) -> Result<Arc<Token>, ClientError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _renewing = self.renewal.lock().await;
        // Another caller may have renewed while this one waited for the lock.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let refresh = self.current.lock().as_ref().and_then(|t| t.refresh.clone());
        let response = match refresh {
            Some(refresh) => match source.fetch(Grant::Refresh(refresh)).await {
                Ok(response) => response,
                // A refresh token is single-use and outlives the session by
                // only 15 minutes: when it is refused, log in again.
                Err(ClientError::AuthenticationFailed { .. }) => {
                    tracing::debug!("refresh token refused; using the password grant");
                    source.fetch(Grant::Password).await?
                }
                Err(e) => return Err(e),
            },
            None => source.fetch(Grant::Password).await?,
        };
        let token = Arc::new(self.token_from(response));
        *self.current.lock() = Some(Arc::clone(&token));
        Ok(token)
    }

    /// Marks the token of `generation` as stale after the API rejected it;
    /// its refresh token is kept for the renewal.
    pub(crate) fn reject(&self, generation: u64) {
        let mut current = self.current.lock();
        if let Some(token) = current.as_ref().filter(|t| t.generation == generation) {
            let stale = Token {
                access: token.access.clone(),
                refresh: token.refresh.clone(),
                renew_at: Instant::now(),
                generation: token.generation,
            };
            *current = Some(Arc::new(stale));
        }
    }

    fn fresh(&self) -> Option<Arc<Token>> {
        let now = Instant::now();
        self.current.lock().as_ref().filter(|t| t.is_fresh(now)).cloned()
    }

    fn token_from(&self, response: TokenResponse) -> Token {
        let lifetime = Duration::from_secs(u64::try_from(response.expires_in).unwrap_or(0));
        let margin = (lifetime / 10).min(MAX_RENEW_MARGIN);
        Token {
            access: SecretString::from(response.access_token),
            refresh: response.refresh_token.map(SecretString::from),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::sync::atomic::AtomicUsize;

    /// Hands out numbered tokens; refuses refresh tokens when told to.
    #[derive(Default)]
    struct FakeSource {
        password_grants: AtomicUsize,
        refresh_grants: AtomicUsize,
        refuse_refresh: bool,
        expires_in: i64,
        offer_refresh: bool,
        delay: Duration,
    }

    impl TokenSource for FakeSource {
        async fn fetch(&self, grant: Grant) -> Result<TokenResponse, ClientError> {
            tokio::time::sleep(self.delay).await;
            let n = match grant {
                Grant::Password => self.password_grants.fetch_add(1, Ordering::SeqCst) + 1,
                Grant::Refresh(_) if self.refuse_refresh => {
                    return Err(ClientError::AuthenticationFailed { message: "invalid refresh token".into() });
                }
                Grant::Refresh(r) => {
                    assert!(r.expose_secret().starts_with("refresh-"));
                    100 + self.refresh_grants.fetch_add(1, Ordering::SeqCst) + 1
                }
            };
            Ok(TokenResponse {
                access_token: format!("access-{n}"),
                token_type: "bearer".into(),
                expires_in: self.expires_in,
                refresh_token: self.offer_refresh.then(|| format!("refresh-{n}")),
            })
        }
    }

    fn source(expires_in: i64, offer_refresh: bool) -> FakeSource {
        FakeSource { expires_in, offer_refresh, ..FakeSource::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn token_is_cached_until_shortly_before_expiry() {
        let cache = TokenCache::default();
        let src = source(1200, false);
        let first = cache.get(&src).await.unwrap();
        tokio::time::advance(Duration::from_secs(1130)).await;
        assert_eq!(cache.get(&src).await.unwrap().generation, first.generation);
        assert_eq!(src.password_grants.load(Ordering::SeqCst), 1);
        // 20 minutes minus the 60 s margin: renewed before it expires.
        tokio::time::advance(Duration::from_secs(15)).await;
        let second = cache.get(&src).await.unwrap();
        assert_ne!(second.generation, first.generation);
        assert_eq!(second.access.expose_secret(), "access-2");
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_tokens_renew_at_ninety_percent_of_their_life() {
        let cache = TokenCache::default();
        let src = source(10, false);
        cache.get(&src).await.unwrap();
        tokio::time::advance(Duration::from_millis(8900)).await;
        cache.get(&src).await.unwrap();
        assert_eq!(src.password_grants.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(200)).await;
        cache.get(&src).await.unwrap();
        assert_eq!(src.password_grants.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn renewal_uses_the_refresh_token_when_offered() {
        let cache = TokenCache::default();
        let src = source(60, true);
        cache.get(&src).await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        let renewed = cache.get(&src).await.unwrap();
        assert_eq!(renewed.access.expose_secret(), "access-101");
        assert_eq!((src.password_grants.load(Ordering::SeqCst), src.refresh_grants.load(Ordering::SeqCst)), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_refresh_token_falls_back_to_the_password_grant() {
        let cache = TokenCache::default();
        let src = FakeSource { refuse_refresh: true, ..source(60, true) };
        cache.get(&src).await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get(&src).await.unwrap().access.expose_secret(), "access-2");
    }

    #[tokio::test(start_paused = true)]
    async fn rejecting_a_token_forces_a_renewal_but_not_of_a_newer_token() {
        let cache = TokenCache::default();
        let src = source(1200, false);
        let first = cache.get(&src).await.unwrap();
        cache.reject(first.generation);
        let second = cache.get(&src).await.unwrap();
        assert_ne!(second.generation, first.generation);
        // A late caller reports the old token: the new one stays.
        cache.reject(first.generation);
        assert_eq!(cache.get(&src).await.unwrap().generation, second.generation);
        assert_eq!(src.password_grants.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_token_request() {
        let cache = Arc::new(TokenCache::default());
        let src = Arc::new(FakeSource { delay: Duration::from_millis(50), ..source(1200, false) });
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (cache, src) = (Arc::clone(&cache), Arc::clone(&src));
                tokio::spawn(async move { cache.get(src.as_ref()).await.unwrap().generation })
            })
            .collect();
        let generations: std::collections::HashSet<u64> =
            futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(generations.len(), 1);
        assert_eq!(src.password_grants.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_reported_and_not_cached() {
        struct Refusing;
        impl TokenSource for Refusing {
            async fn fetch(&self, _: Grant) -> Result<TokenResponse, ClientError> {
                Err(ClientError::AuthenticationFailed { message: "Login failed.".into() })
            }
        }
        let cache = TokenCache::default();
        assert!(matches!(cache.get(&Refusing).await, Err(ClientError::AuthenticationFailed { .. })));
        assert!(cache.fresh().is_none());
    }

    #[test]
    fn debug_output_does_not_show_tokens() {
        let cache = TokenCache::default();
        let token = cache.token_from(TokenResponse {
            access_token: "s3cr3t-access".into(),
            token_type: "bearer".into(),
            expires_in: 60,
            refresh_token: Some("s3cr3t-refresh".into()),
        });
        let shown = format!("{token:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
