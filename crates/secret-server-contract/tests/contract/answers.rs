//! Every answer the emulator gives to the client's requests, errors included, fits the schema the
//! published API declares for its status.

use crate::drive::{BASE_PATH, Harness, every_client_method};
use secret_server_api::UserCreateArgs;
use secret_server_contract::{Exchange, Spec, report};

fn problems_of(spec: &Spec, exchanges: &[Exchange]) -> Vec<String> {
    let mut problems = Vec::new();
    for exchange in exchanges {
        let path = exchange.path_under(BASE_PATH);
        for problem in spec.check_response(&exchange.method, path, exchange.status, &exchange.response_body) {
            problems.push(format!("{}: {problem}", exchange.line()));
        }
    }
    problems
}

#[tokio::test]
async fn every_answer_to_the_client_fits_the_published_schema_of_its_status() {
    let spec = Spec::published();
    let h = Harness::start().await;
    every_client_method(&h.client).await;
    let exchanges = h.api_exchanges();
    assert!(
        exchanges.iter().all(|e| e.status == 200),
        "the drive succeeds: {:?}",
        exchanges.iter().filter(|e| e.status != 200).map(Exchange::line).collect::<Vec<_>>()
    );
    let problems = problems_of(&spec, &exchanges);
    assert!(problems.is_empty(), "answers that depart from the published API:\n{}", report(&problems));
    h.stop().await;
}

#[tokio::test]
async fn error_answers_fit_the_published_error_schemas() {
    let spec = Spec::published();
    let h = Harness::start().await;
    // 400: an unknown id, a broken rule (a taken name), a refused password (with modelState).
    assert!(h.client.get_user(987_654).await.is_err());
    let args = |name: &str, password: &str| UserCreateArgs {
        user_name: name.into(),
        password: Some(password.into()),
        display_name: name.into(),
        enabled: true,
        ..UserCreateArgs::default()
    };
    h.client.create_user(&args("twice", "Contract-Passw0rd!")).await.expect("the first create");
    assert!(h.client.create_user(&args("twice", "Contract-Passw0rd!")).await.is_err());
    assert!(h.client.create_user(&args("weak", "short")).await.is_err());
    // 403: no token, and a token that is not one.
    let raw = reqwest::Client::new();
    let url = format!("{}/api/v1/users", h.proxy.url(BASE_PATH));
    raw.get(&url).send().await.expect("the proxy answers");
    raw.get(&url).bearer_auth("not-a-token").send().await.expect("the proxy answers");
    // 500: a server error (the client then retries the GET).
    h.sim.faults().update(|f| f.next_server_errors = 1).expect("faults switch");
    h.client.current_user().await.expect("the retry succeeds");

    let exchanges = h.api_exchanges();
    let statuses: Vec<u16> = exchanges.iter().map(|e| e.status).collect();
    for status in [400, 403, 500] {
        assert!(statuses.contains(&status), "no {status} among {statuses:?}");
    }
    let problems = problems_of(&spec, &exchanges);
    assert!(problems.is_empty(), "error answers that depart from the published API:\n{}", report(&problems));
    h.stop().await;
}

#[tokio::test]
async fn a_secret_move_is_answered_with_field_values_that_nothing_decoded_from_it_holds() {
    use futures::TryStreamExt;
    use secret_server_client::SecretQuery;
    use secret_server_sim::store::secrets::FIELD_VALUE_MARK;

    let h = Harness::start().await;
    let secrets: Vec<_> = h.client.search_secrets(&SecretQuery::default()).try_collect().await.unwrap();
    let secret = secrets.first().expect("the demo organisation has secrets");
    let moved = h.client.move_secret(secret.id, secret.folder_id).await.unwrap();

    // The answer carries the secret's fields with their values, as the published model says.
    let answer = h.api_exchanges().into_iter().find(|e| e.path_under(BASE_PATH).ends_with("/general")).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.response_body).unwrap();
    let values: Vec<&str> = body["fields"].as_array().unwrap().iter().filter_map(|f| f["value"].as_str()).collect();
    assert!(!values.is_empty() && values.iter().all(|v| v.starts_with(FIELD_VALUE_MARK)), "{body}");
    // What the client gives back has no place for them.
    assert_eq!(moved.id, secret.id);
    assert!(!format!("{moved:?}").contains(FIELD_VALUE_MARK));
    assert!(!serde_json::to_string(&moved).unwrap().contains(FIELD_VALUE_MARK));
    h.stop().await;
}
