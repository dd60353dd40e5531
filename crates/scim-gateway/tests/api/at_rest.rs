//! Nothing sensitive at rest in clear: a user's password, on its way from the gateway to the
//! adapter through the queue in Redis, is sealed (`adapter_api::sealing`); the stream and the job's
//! record never hold it in clear, and a dead letter holds it neither in clear nor sealed. Redis is
//! read as an intruder would read it: every key under the stack's prefix.

use crate::helpers::*;
use prost::Message;
use proto::provisioning::v1 as pb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use test_support::at_rest::{contains, values_under};

const PASSWORD: &str = "At-Rest-Pa55word!";

/// A stream entry as `XRANGE` answers it: its id and its field/value pairs.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

async fn redis() -> redis::aio::MultiplexedConnection {
    test_support::at_rest::connection().await
}

/// The sealed secrets of the job in flight, once Redis holds them (they exist only while it runs).
async fn sealed_secrets_in_flight(prefix: &str) -> pb::SealedSecrets {
    eventually("a job in flight with sealed secrets", Duration::from_secs(20), || async move {
        let mut conn = redis().await;
        let jobs: Vec<String> =
            redis::cmd("KEYS").arg(format!("{prefix}:q:*:job:*")).query_async(&mut conn).await.unwrap();
        for job in jobs {
            let secrets: Option<Vec<u8>> =
                redis::cmd("HGET").arg(&job).arg("secrets").query_async(&mut conn).await.unwrap();
            if let Some(secrets) = secrets.filter(|s| !s.is_empty()) {
                return Some(pb::SealedSecrets::decode(secrets.as_slice()).expect("sealed secrets decode"));
            }
        }
        None
    })
    .await
}

fn redis_stack() -> Options {
    let mut options = Options { redis: true, ..Options::default() };
    // A few slow retries: the job stays in flight long enough to be looked at.
    options.queue.max_attempts = 4;
    options.queue.backoff_base = Duration::from_millis(200);
    options.queue.backoff_max = Duration::from_millis(400);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_of_a_user_create_holds_no_password_neither_clear_nor_sealed() {
    let app = spawn_app_with(redis_stack()).await;
    let prefix = app.redis_prefix.clone().unwrap();
    app.sim.faults().update(|f| f.outage = true).unwrap();
    let mut body = user_body("dead.letter");
    body["password"] = json!(PASSWORD);

    let create = tokio::spawn({
        let (http, base, token) = (app.http.clone(), app.base.clone(), app.token.clone());
        async move {
            http.post(format!("{base}/scim/v2/Users"))
                .bearer_auth(token)
                .header("content-type", SCIM)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
        }
    });
    let sealed = sealed_secrets_in_flight(&prefix).await;
    assert!(!contains(&values_under(&prefix).await, PASSWORD.as_bytes()), "in flight: no clear password");
    assert_eq!(sealed.values.len(), 1);
    assert_eq!(sealed.values[0].pointer, "/password");

    let res = create.await.unwrap();
    scim_error(res, 503).await;
    let mut conn = redis().await;
    let dead: Vec<StreamEntry> = redis::cmd("XRANGE")
        .arg(format!("{prefix}:q:provisioning:dead"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the create was dead-lettered");
    let fields = &dead[0].1;
    assert!(fields.iter().all(|(name, _)| name != "secrets"), "the dead letter has no secrets field: {fields:?}");
    let payload = &fields.iter().find(|(name, _)| name == "payload").expect("the dead letter keeps the payload").1;
    let job = pb::ProvisioningJob::decode(payload.as_slice()).unwrap();
    let kept: Value = serde_json::from_slice(&job.payload).unwrap();
    assert_eq!(kept["userName"], "dead.letter", "the payload is kept for inspection");
    assert_eq!(kept["password"], Value::Null, "without its password");

    let everything = values_under(&prefix).await;
    assert!(!contains(&everything, PASSWORD.as_bytes()), "no clear password anywhere");
    assert!(!contains(&everything, &sealed.wrapped_data_key), "no sealed data key anywhere");
    assert!(!contains(&everything, &sealed.values[0].ciphertext), "no sealed password anywhere");
    app.sim.faults().clear();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_carrying_a_password_puts_it_in_clear_into_the_queue() {
    let app = spawn_app_with(redis_stack()).await;
    let prefix = app.redis_prefix.clone().unwrap();
    let user = app.create_user("at.rest").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut put = user_body("at.rest");
    put["password"] = json!(PASSWORD);
    let writes: Vec<(Method, String, Value)> = vec![
        (Method::PUT, format!("/Users/{id}"), put),
        (
            Method::PATCH,
            format!("/Users/{id}"),
            json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "password", "value": PASSWORD}]}),
        ),
        (
            Method::PATCH,
            format!("/Users/{id}"),
            json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "value": {"password": PASSWORD}}]}),
        ),
        (
            Method::POST,
            "/Bulk".to_owned(),
            json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "b1",
                 "data": {"schemas": [scim::urn::USER], "userName": "at.rest.bulk", "password": PASSWORD}}
            ]}),
        ),
    ];
    // Secret Server answers slowly, so that each job is still in flight when Redis is read.
    app.sim.faults().update(|f| f.latency_ms = 300).unwrap();
    for (method, path, body) in writes {
        let request = app.scim(method.clone(), &path).header("content-type", SCIM).body(body.to_string()).send();
        let answer = tokio::spawn(request);
        sealed_secrets_in_flight(&prefix).await;
        assert!(
            !contains(&values_under(&prefix).await, PASSWORD.as_bytes()),
            "{method} {path}: the password is not in clear in Redis while its job runs"
        );
        let res = answer.await.unwrap().unwrap();
        assert!(res.status().is_success(), "{method} {path}: {}", res.status());
        assert!(!contains(&values_under(&prefix).await, PASSWORD.as_bytes()), "{method} {path}: nor once it finished");
    }
    app.sim.faults().clear();
    app.shutdown().await;
}
