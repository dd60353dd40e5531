//! The token's life: one password grant shared by concurrent callers,
//! renewal before expiry, transparent renewal after the server expires it,
//! and refused credentials reported at once.

use crate::helpers::{Harness, count_requests, token_requests};
use secret_server_client::ClientError;
use secret_server_sim::{Seed, SimConfig};
use std::time::Duration;

#[tokio::test]
async fn one_token_serves_many_calls() {
    let h = Harness::demo().await;
    for _ in 0..5 {
        h.client.current_user().await.unwrap();
    }
    assert_eq!(token_requests(&h.sim), 1);
    h.finish().await;
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let h = Harness::demo().await;
    let me = h.client_with(|_| {}).current_user().await.unwrap();
    h.sim.clear_request_log();
    let calls = (0..16).map(|_| {
        let client = h.client.clone();
        tokio::spawn(async move { client.get_user(me.id).await })
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().unwrap().id, me.id);
    }
    assert_eq!(token_requests(&h.sim), 1, "{:?}", h.sim.request_log());
    h.finish().await;
}

#[tokio::test]
async fn a_token_expired_by_the_server_mid_session_is_renewed_transparently() {
    let h = Harness::demo().await;
    let me = h.client.current_user().await.unwrap();
    h.sim.faults().expire_tokens(false);
    // The next call gets a 403, renews with the refresh token, and succeeds.
    assert_eq!(h.client.get_user(me.id).await.unwrap().id, me.id);
    assert_eq!(token_requests(&h.sim), 2);
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{}", me.id)), 2);
    h.finish().await;
}

#[tokio::test]
async fn a_session_whose_refresh_token_expired_too_logs_in_again() {
    let h = Harness::demo().await;
    let me = h.client.current_user().await.unwrap();
    h.sim.faults().expire_tokens(true);
    assert_eq!(h.client.get_user(me.id).await.unwrap().id, me.id);
    // The refused refresh grant, then the password grant.
    assert_eq!(token_requests(&h.sim), 3);
    h.finish().await;
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    let config = SimConfig { token_lifetime: Duration::from_secs(2), seed: Seed::Empty, ..SimConfig::for_tests() };
    let h = Harness::with(config, |_| {}).await;
    let me = h.client.current_user().await.unwrap();
    // Past 90 % of the lifetime, before its end: renewed ahead, so no call fails.
    tokio::time::sleep(Duration::from_millis(1900)).await;
    h.client.get_user(me.id).await.unwrap();
    assert_eq!(token_requests(&h.sim), 2);
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{}", me.id)), 1, "{:?}", h.sim.request_log());
    h.finish().await;
}

#[tokio::test]
async fn without_refresh_tokens_renewal_uses_the_password_grant() {
    let config = SimConfig { refresh_tokens: false, seed: Seed::Empty, ..SimConfig::for_tests() };
    let h = Harness::with(config, |_| {}).await;
    let me = h.client.current_user().await.unwrap();
    h.sim.faults().expire_tokens(false);
    assert_eq!(h.client.get_user(me.id).await.unwrap().id, me.id);
    assert_eq!(token_requests(&h.sim), 2);
    h.finish().await;
}

#[tokio::test]
async fn wrong_credentials_fail_at_once_as_authentication_failed() {
    let h = Harness::empty().await;
    let client = h.client_with(|c| c.password = secrecy::SecretString::from("Wrong-Passw0rd!"));
    let err = client.current_user().await.unwrap_err();
    assert!(matches!(err, ClientError::AuthenticationFailed { .. }), "{err:?}");
    assert!(!err.is_transient());
    // A refused password is permanent: asked once, not retried.
    assert_eq!(token_requests(&h.sim), 1);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Wrong-Passw0rd!"), "{shown}");
    h.finish().await;
}

#[tokio::test]
async fn a_domain_is_sent_with_the_password_grant_and_accepted() {
    let h = Harness::empty().await;
    let client = h.client_with(|c| c.domain = Some("local".to_owned()));
    assert_eq!(client.current_user().await.unwrap().user_name, h.sim.api_username());
    h.finish().await;
}
