//! The consumer path over Redis Streams (a real redis-server; REDIS_URL, default
//! redis://127.0.0.1:6379). Fails, never skips, when Redis is missing.

use crate::helpers::{call, change, spawn_app_with};
use audit_events::ChangeOutcome;
use proto::common::v1::ResourceType;

async fn redis_bus() -> std::sync::Arc<dyn job_queue::EventBus> {
    test_support::Backends::redis_event_bus("audit-test").await
}

#[tokio::test]
async fn events_on_redis_streams_are_recorded_once_and_queryable() {
    let app = spawn_app_with(redis_bus().await, |_| {}).await;
    let created = call(("c-okta", "okta"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201);
    app.publish(&created).await;
    app.publish(&created).await;
    app.publish(&change("c-okta", ResourceType::User, "u1", "create", ChangeOutcome::Succeeded)).await;
    app.wait_for_head(2).await;
    app.settle().await;
    assert_eq!(app.seqs("").await, vec![1, 2]);
    assert_eq!(app.seqs("kind=change&connection=c-okta").await, vec![2]);
    assert!(app.verify().is_intact());
    app.stop().await;
}
