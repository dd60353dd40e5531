//! Reads by id coalesced into `GetResources`: each read keeps its own caller, resource and error,
//! and a read after an acknowledged write sees the write.

use crate::support::{CONNECTION, Stack, connection};
use adapter_api::{GetResource, Projection};
use pretty_assertions::assert_eq;
use scim::ResourceKind::{self, Container, Group, User};
use serde_json::{Value, json};

fn get(connection: &str, kind: ResourceKind, id: &str) -> GetResource {
    GetResource { connection_id: connection.to_owned(), kind, id: id.to_owned(), projection: Projection::default() }
}

fn doc(resource: &adapter_api::Resource) -> Value {
    serde_json::from_slice(&resource.json).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_from_many_tasks_each_get_their_own_resource() {
    let stack = Stack::start().await;
    let users: Vec<(String, String)> = stack
        .search(User, "")
        .await
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), u["userName"].as_str().unwrap().to_owned()))
        .collect();
    assert!(users.len() >= 8, "the seed has users to read: {users:?}");
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..20 {
        for (n, (id, name)) in users.iter().enumerate() {
            let (grpc, id, name) = (stack.grpc.clone(), id.clone(), name.clone());
            // Every other read asks for a projection: the batch carries each item's own.
            let projection = if (round + n) % 2 == 0 {
                Projection::default()
            } else {
                Projection { attributes: vec!["userName".into()], ..Projection::default() }
            };
            tasks.spawn(async move {
                let resource = grpc.get(GetResource { projection: projection.clone(), ..get(CONNECTION, User, &id) });
                let read = doc(&resource.await.expect("read"));
                assert_eq!((read["id"].as_str(), read["userName"].as_str()), (Some(id.as_str()), Some(name.as_str())));
                let always = ["schemas", "id", "userName", "meta"];
                let narrowed = read.as_object().unwrap().keys().all(|k| always.contains(&k.as_str()));
                assert_eq!(narrowed, !projection.attributes.is_empty(), "{read}");
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("every read got its own user");
    }
    let calls = stack.grpc.read_calls();
    assert!(calls.batch_calls > 0 && calls.batched_reads > calls.batch_calls, "reads were coalesced: {calls:?}");
    assert_eq!(calls.refused_batches, 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_one_item_of_a_batch_reaches_only_its_caller() {
    let stack = Stack::start().await;
    let mut no_users = connection("no-users");
    no_users.scope.resource_types.remove("User");
    stack.connections.put(&no_users).await.unwrap();
    let alice = stack.find(User, r#"userName eq "alice.martin""#).await["id"].as_str().unwrap().to_owned();
    let bob = stack.find(User, r#"userName eq "bob.chen""#).await["id"].as_str().unwrap().to_owned();
    let group = stack.search(Group, "").await[0]["id"].as_str().unwrap().to_owned();
    // Both lists at once: `400 invalidValue`.
    let both = Projection { attributes: vec!["userName".into()], excluded_attributes: vec!["title".into()] };
    let bad_projection = GetResource { projection: both, ..get(CONNECTION, User, &bob) };
    let outcomes = stack
        .grpc
        .get_many(vec![
            get(CONNECTION, User, &alice),
            get(CONNECTION, User, "999999"),
            get("no-users", User, &alice),
            get("unknown-connection", User, &alice),
            get(CONNECTION, User, "not-an-id"),
            bad_projection,
            get(CONNECTION, Group, &group),
            get(CONNECTION, Container, "999999"),
            get(CONNECTION, User, &bob),
        ])
        .await
        .expect("the batch is answered");
    let statuses: Vec<u16> =
        outcomes.iter().map(|o| o.as_ref().map_or_else(service_error::ServiceError::http_status, |_| 200)).collect();
    assert_eq!(statuses, vec![200, 404, 404, 403, 404, 400, 200, 404, 200]);
    let ids: Vec<String> = outcomes.iter().flatten().map(|r| doc(r)["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, vec![alice.clone(), group, bob]);
    // The same through concurrent single reads, coalesced by the client: each caller its own outcome.
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..10 {
        for (connection, id, expected) in
            [(CONNECTION, alice.clone(), 200), (CONNECTION, "999999".into(), 404), ("no-users", alice.clone(), 404)]
        {
            let grpc = stack.grpc.clone();
            tasks.spawn(async move {
                let outcome = grpc.get(get(connection, User, &id)).await;
                let status = outcome.as_ref().map_or_else(service_error::ServiceError::http_status, |r| {
                    assert_eq!(doc(r)["id"], id.as_str());
                    200
                });
                assert_eq!(status, expected, "round {round}: {connection} reading {id}");
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("every read got its own outcome");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_after_an_acknowledged_write_sees_it_while_other_reads_are_coalesced() {
    let stack = Stack::start().await;
    let alice = stack.find(User, r#"userName eq "alice.martin""#).await["id"].as_str().unwrap().to_owned();
    // Background reads keep a call in flight, so that the reads below wait in batches.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut background = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (grpc, alice, stop) = (stack.grpc.clone(), alice.clone(), stop.clone());
        background.spawn(async move {
            while !stop.is_cancelled() {
                grpc.get(get(CONNECTION, User, &alice)).await.expect("background read");
            }
        });
    }
    for n in 0..5 {
        let name = format!("batched.read.{n}");
        let id = stack.create(User, json!({"userName": name, "title": "before"})).await.id();
        assert_eq!(stack.get(User, &id).await.expect("read at once")["userName"], name.as_str());
        stack.patch(User, &id, json!([{"op": "replace", "path": "title", "value": "after"}])).await.json();
        assert_eq!(stack.get(User, &id).await.expect("read at once")["title"], "after");
    }
    stop.cancel();
    while let Some(done) = background.join_next().await {
        done.expect("background reads");
    }
    assert!(stack.grpc.read_calls().batch_calls > 0, "{:?}", stack.grpc.read_calls());
    stack.stop().await;
}
