//! A write's deadline: a write whose job no adapter took by then is withdrawn and answered `503`,
//! not applied (and it is never applied later, when the adapters come back); one whose job an
//! adapter took is `504` naming its job, which goes on. The gateways here run beside the stack's on
//! a queue of their own (in process, or on Redis under a fresh prefix) that no adapter works on
//! until the test starts workers on it with the stack's adapter's job handler.

use crate::helpers::*;
use job_queue::{Disposition, EventSubscription, Job, JobHandler, JobQueue, JobStatus, KeyedJob, QueueConfig};
use proto::audit::v1 as pb;
use reqwest::{Method, RequestBuilder};
use scim_gateway::{GatewayDeps, GatewaySettings, RunningGateway};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use test_support::Backend;
use tokio::sync::Notify;

/// A gateway on a queue no adapter works on, beside `app`'s.
struct Unserved {
    gateway: RunningGateway,
    base: String,
    queue: Arc<dyn JobQueue>,
}

impl Unserved {
    /// On an in-process queue.
    async fn start(app: &TestApp, tweak: impl FnOnce(&mut GatewaySettings)) -> Self {
        Self::start_on(app, Backend::InProcess, tweak).await
    }

    /// On a queue of `backend` (a Redis one fails the test when Redis is missing).
    async fn start_on(app: &TestApp, backend: Backend, tweak: impl FnOnce(&mut GatewaySettings)) -> Self {
        let mut settings = GatewaySettings {
            adapter_url: app.adapter_url.clone(),
            adapter_secret: app.adapter_secret.clone(),
            ..Options::default().settings
        };
        tweak(&mut settings);
        let queue = test_support::Backends::open(backend, "gw-deadline", &QueueConfig::default()).await.queue;
        let deps = GatewayDeps { queue: queue.clone(), ..app.deps.clone() };
        let gateway = scim_gateway::start(settings, deps).await.expect("the gateway starts");
        let base = format!("http://{}", gateway.addr());
        Self { gateway, base, queue }
    }

    /// A SCIM request to this gateway with the test connection's token.
    fn scim(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        app.http.request(method, format!("{}/scim/v2{path}", self.base)).bearer_auth(&app.token)
    }

    /// The job the client's `Idempotency-Key` `key` names.
    async fn job_of(&self, key: &str) -> KeyedJob {
        self.queue.find(&format!("test/{key}")).await.unwrap().expect("the key names a job")
    }
}

fn rename(name: &str) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
}

/// The `ScimCall` audit record of request `request_id`, read from the events stream (for up to 20 s).
async fn scim_call(sub: &mut Box<dyn EventSubscription>, request_id: &str) -> pb::ScimCall {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no audit record of request {request_id}");
        for (_, event) in next_audit_events(sub, 500, Duration::from_millis(100)).await {
            if let Some(pb::audit_event::Kind::ScimCall(call)) = event.kind
                && call.request_id == request_id
            {
                return call;
            }
        }
    }
}

#[tokio::test]
async fn a_write_no_adapter_took_by_its_deadline_is_503_not_applied_and_is_not_applied_when_adapters_come_back() {
    a_write_no_adapter_took_is_withdrawn(Backend::InProcess).await;
}

#[tokio::test]
async fn a_write_no_adapter_took_by_its_deadline_on_redis_is_503_not_applied_and_is_not_applied_when_adapters_come_back()
 {
    a_write_no_adapter_took_is_withdrawn(Backend::Redis).await;
}

async fn a_write_no_adapter_took_is_withdrawn(backend: Backend) {
    let app = spawn_app().await;
    let user = app.create_user("deadline.deprovisioned").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let mut sub = app.events.subscribe("deadline-test", "t").await.unwrap();
    let unserved = Unserved::start_on(&app, backend, |s| s.job_deadline = Duration::from_millis(500)).await;

    // A deprovisioning no adapter takes in time.
    let res = unserved.scim(&app, Method::DELETE, &path).header("idempotency-key", "deprovision").send().await.unwrap();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.headers().contains_key("retry-after"));
    let body = scim_error(res, 503).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("the change was not applied: no adapter took it within 0.5 s"), "{detail}");
    let withdrawn = unserved.job_of("deprovision").await;
    assert_eq!(withdrawn.status, JobStatus::Withdrawn);
    assert!(detail.contains(&withdrawn.job_id.to_string()), "{detail}");
    let call = scim_call(&mut sub, &request_id).await;
    assert_eq!((call.method.as_str(), call.status), ("DELETE", 503), "the audit records the refusal");

    // The adapters come back: they find nothing to run, and a later change to the same user (whose
    // job would have run after the withdrawn one) applies while the user stays active.
    let handler = app.adapter.as_ref().unwrap().job_handler();
    assert!(!unserved.queue.try_execute_job(handler.as_ref()).await.unwrap(), "the withdrawn job was run");
    let workers = tokio::spawn({
        let queue = unserved.queue.clone();
        async move { queue.run_workers(handler, 2, Default::default()).await }
    });
    let res = unserved
        .scim(&app, Method::PATCH, &path)
        .header("content-type", SCIM)
        .body(rename("Still Here").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!((&now["active"], &now["displayName"]), (&json!(true), &json!("Still Here")), "{now}");
    assert_eq!(unserved.queue.status(&withdrawn.job_id).await.unwrap().unwrap().status, JobStatus::Withdrawn);

    // The client sends the deprovisioning again with its key: it runs now, as a new job.
    let res = unserved.scim(&app, Method::DELETE, &path).header("idempotency-key", "deprovision").send().await.unwrap();
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_ne!(unserved.job_of("deprovision").await.job_id, withdrawn.job_id);
    scim_error(app.get(&path).await, 404).await;

    workers.abort();
    unserved.gateway.shutdown().await;
    app.shutdown().await;
}

/// Runs the stack's job handler on a job only once the test releases it, saying when it took one.
struct Held {
    inner: Arc<dyn JobHandler>,
    taken: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait::async_trait]
impl JobHandler for Held {
    async fn handle(&self, job: Job) -> Disposition {
        self.taken.notify_one();
        self.release.notified().await;
        self.inner.handle(job).await
    }
}

#[tokio::test]
async fn a_write_whose_job_an_adapter_took_but_had_not_finished_by_its_deadline_is_504_naming_its_job() {
    let app = spawn_app().await;
    let user = app.create_user("deadline.taken").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    // Long enough for the adapter below to take the job first.
    let unserved = Unserved::start(&app, |s| s.job_deadline = Duration::from_secs(3)).await;
    let write = unserved
        .scim(&app, Method::PATCH, &path)
        .header("idempotency-key", "slow")
        .header("content-type", SCIM)
        .body(rename("Renamed Late").to_string());
    let answer = tokio::spawn(async move { write.send().await.unwrap() });
    let queue = unserved.queue.clone();
    eventually("the write's job is queued", Duration::from_secs(10), || {
        let queue = queue.clone();
        async move { queue.find("test/slow").await.unwrap() }
    })
    .await;
    let held = Arc::new(Held {
        inner: app.adapter.as_ref().unwrap().job_handler(),
        taken: Arc::new(Notify::new()),
        release: Arc::new(Notify::new()),
    });
    let worker = tokio::spawn({
        let (queue, held) = (unserved.queue.clone(), held.clone());
        async move { queue.try_execute_job(held.as_ref()).await.unwrap() }
    });
    held.taken.notified().await;

    let body = scim_error(answer.await.unwrap(), 504).await;
    let taken = unserved.job_of("slow").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("still being applied (job {})", taken.job_id)), "{detail}");
    assert_eq!(taken.status, JobStatus::Running, "not withdrawn");

    // It goes on, and its change applies.
    held.release.notify_one();
    assert!(worker.await.unwrap());
    assert_eq!(unserved.job_of("slow").await.status, JobStatus::Succeeded);
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["displayName"], "Renamed Late");
    unserved.gateway.shutdown().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_bulk_operation_no_adapter_took_by_the_bulk_s_deadline_is_503_not_applied_in_its_own_result() {
    let app = spawn_app().await;
    let mut sub = app.events.subscribe("deadline-test", "t").await.unwrap();
    let unserved = Unserved::start(&app, |s| s.bulk_deadline = Duration::from_millis(500)).await;
    let operations: Vec<Value> = ["deadline.bulk.0", "deadline.bulk.1"]
        .iter()
        .map(|name| json!({"method": "POST", "path": "/Users", "bulkId": name, "data": user_body(name)}))
        .collect();
    let body = json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": operations});

    let res = unserved.scim(&app, Method::POST, "/Bulk").header("content-type", SCIM).body(body.to_string());
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let out: Value = res.json().await.unwrap();
    let results = out["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|op| op["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["503", "503"], "{out}");
    let first = results[0]["response"]["detail"].as_str().unwrap();
    // What was left of the Bulk's deadline when the operation started.
    assert!(first.starts_with("the change was not applied: no adapter took it within 0."), "{first}");
    let second = results[1]["response"]["detail"].as_str().unwrap();
    assert!(second.starts_with("not run: the Bulk request's deadline"), "{second}");
    let call = scim_call(&mut sub, &format!("{request_id}#0")).await;
    assert_eq!((call.method.as_str(), call.status), ("POST", 503), "the operation's audit record");

    // The adapters come back: nothing is left to run, and neither user exists.
    let handler = app.adapter.as_ref().unwrap().job_handler();
    assert!(!unserved.queue.try_execute_job(handler.as_ref()).await.unwrap(), "the withdrawn job was run");
    let res = app.scim(Method::GET, "/Users").query(&[("filter", "userName sw \"deadline.bulk\"")]).send().await;
    let found: Value = res.unwrap().json().await.unwrap();
    assert_eq!(found["totalResults"], 0, "{found}");
    unserved.gateway.shutdown().await;
    app.shutdown().await;
}
