//! Nothing is served unaudited: while the events stream is down, answered calls are on record in
//! the spool; once the spool is full, SCIM calls are answered `503` with `Retry-After`; once the
//! stream is back, the spool is published and calls are served again.

use crate::helpers::*;
use async_trait::async_trait;
use job_queue::{Event, EventBus, EventId, EventSubscription, QueueError};
use scim_gateway::{AuditSettings, GatewayDeps, GatewaySettings};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The stack's events stream, which the test can take down: publishes fail while `down` is set.
#[derive(Debug)]
pub(crate) struct Outage {
    pub inner: Arc<dyn EventBus>,
    pub down: AtomicBool,
}

#[async_trait]
impl EventBus for Outage {
    async fn publish(&self, event: Event) -> Result<EventId, QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable("the events stream is down".into()));
        }
        self.inner.publish(event).await
    }
    async fn subscribe(&self, group: &str, consumer: &str) -> Result<Box<dyn EventSubscription>, QueueError> {
        self.inner.subscribe(group, consumer).await
    }
}

#[tokio::test]
async fn a_full_audit_spool_answers_503_until_the_events_stream_returns() {
    let app = spawn_app().await;
    let outage = Arc::new(Outage { inner: app.events.clone(), down: AtomicBool::new(true) });
    let settings = GatewaySettings {
        adapter_url: app.adapter_url.clone(),
        adapter_secret: app.adapter_secret.clone(),
        audit: AuditSettings { spool_max_bytes: 2_000, ..AuditSettings::default() },
        ..Options::default().settings
    };
    let deps = GatewayDeps { events: outage.clone(), ..app.deps.clone() };
    let gateway = scim_gateway::start(settings, deps).await.unwrap();
    let url = format!("http://{}/scim/v2/Users?count=1", gateway.addr());
    let get = || app.http.get(&url).bearer_auth(&app.token).send();

    // Each answered call's event takes a few hundred bytes of the 2,000 the spool holds.
    let mut refused = None;
    for _ in 0..30 {
        let res = get().await.unwrap();
        if res.status() == 503 {
            refused = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let refused = refused.expect("a call is refused once the audit spool is full");
    assert!(refused.headers().contains_key("retry-after"));
    let body = scim_error(refused, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("audit"), "{body}");

    outage.down.store(false, Ordering::SeqCst);
    let mut served = false;
    for _ in 0..100 {
        if get().await.unwrap().status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "calls are served again once the spool drains");
    gateway.shutdown().await;
    app.shutdown().await;
}
