//! Every request the client builds is an operation of the published API, with declared and typed
//! query parameters and a body that fits the operation's request schema.

use crate::drive::{BASE_PATH, Harness, OPERATIONS_THE_CLIENT_USES, every_client_method};
use secret_server_contract::{Spec, report};
use std::collections::BTreeSet;

#[tokio::test]
async fn every_request_the_client_sends_is_an_operation_of_the_published_api_with_declared_parameters() {
    let spec = Spec::published();
    let h = Harness::start().await;
    every_client_method(&h.client).await;

    let mut problems = Vec::new();
    let mut reached = BTreeSet::new();
    for exchange in h.api_exchanges() {
        let path = exchange.path_under(BASE_PATH);
        let body = Some(exchange.request_body.as_slice());
        for problem in spec.check_request(&exchange.method, path, &exchange.query, body) {
            problems.push(format!("{}: {problem}", exchange.line()));
        }
        if let Ok(op) = spec.find(&exchange.method, path) {
            reached.insert(op.name());
        }
    }
    assert!(problems.is_empty(), "requests that depart from the published API:\n{}", report(&problems));

    let expected: BTreeSet<String> = OPERATIONS_THE_CLIENT_USES.iter().map(|s| (*s).to_owned()).collect();
    let missed: Vec<&String> = expected.difference(&reached).collect();
    assert!(missed.is_empty(), "operations the drive did not reach: {missed:?}");
    let unlisted: Vec<&String> = reached.difference(&expected).collect();
    assert!(unlisted.is_empty(), "operations the client reached that the list leaves out: {unlisted:?}");
    h.stop().await;
}

#[tokio::test]
async fn every_operation_the_client_uses_is_in_the_published_api() {
    let spec = Spec::published();
    let names: BTreeSet<String> = spec.operations().iter().map(|op| op.name()).collect();
    for operation in OPERATIONS_THE_CLIENT_USES {
        assert!(names.contains(*operation), "{operation} is not an operation of the published API");
    }
}
