//! The health probe and the API account.

use crate::helpers::{Harness, token_requests};

#[tokio::test]
async fn healthcheck_answers_without_a_token() {
    let h = Harness::empty().await;
    let health = h.client.healthcheck().await.unwrap();
    assert!(health.healthy && health.database_healthy == Some(true));
    assert_eq!(token_requests(&h.sim), 0, "{:?}", h.sim.request_log());
    h.finish().await;
}

#[tokio::test]
async fn current_user_is_the_api_account_with_its_role_permissions() {
    let h = Harness::empty().await;
    let me = h.client.current_user().await.unwrap();
    assert_eq!(me.user_name, h.sim.api_username());
    assert!(me.id > 0);
    assert!(me.permissions.iter().any(|p| p.name == "Administer Users"), "{:?}", me.permissions);
    h.finish().await;
}
