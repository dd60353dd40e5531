//! The gRPC port serves the gateway only: a caller without the shared secret, or with a wrong
//! one, is refused before its request (and its `connection_id`) is read.

use crate::support::Stack;
use proto::directory::v1 as dir;
use secrecy::SecretString;
use secret_server_adapter::grpc_auth::PresentSecret;
use tonic::transport::Channel;

async fn health_with(stack: &Stack, secret: Option<&SecretString>) -> Result<dir::HealthResponse, tonic::Status> {
    let adapter = stack.adapter.as_ref().expect("the adapter runs");
    let channel = Channel::from_shared(format!("http://{}", adapter.grpc_addr())).unwrap().connect().await.unwrap();
    let mut client = dir::directory_client::DirectoryClient::with_interceptor(channel, PresentSecret::new(secret));
    client.health(dir::HealthRequest {}).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_without_the_shared_secret_or_with_another_is_unauthenticated() {
    let stack = Stack::start().await;
    let refused = health_with(&stack, None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let wrong = SecretString::from("0".repeat(64));
    assert_eq!(health_with(&stack, Some(&wrong)).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let secret = stack.adapter.as_ref().unwrap().grpc_secret().cloned();
    assert!(health_with(&stack, secret.as_ref()).await.is_ok(), "the gateway's secret is accepted");
}

#[test]
fn an_adapter_without_a_shared_secret_or_client_certificates_does_not_start() {
    let settings = secret_server_adapter::AdapterSettings {
        instances: vec![secret_server_adapter::InstanceSettings::new(
            "primary",
            secret_server_client::ClientConfig::new(
                "https://vault.example.com/SecretServer".parse().unwrap(),
                "api",
                SecretString::from("pw"),
            ),
        )],
        grpc_secret: None,
        ..secret_server_adapter::AdapterSettings::default()
    };
    let error = settings.validate().unwrap_err();
    assert_eq!(error.setting, "grpc_secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_account_check_without_the_shared_secret_is_unauthenticated_before_secret_server_is_asked() {
    use proto::admin::v1 as admin;
    let stack = Stack::start().await;
    let adapter = stack.adapter.as_ref().expect("the adapter runs");
    let channel = Channel::from_shared(format!("http://{}", adapter.grpc_addr())).unwrap().connect().await.unwrap();
    let mut client = admin::admin_client::AdminClient::with_interceptor(channel, PresentSecret::new(None));
    stack.sim.clear_request_log();
    let request = admin::VerifyConsoleAccountRequest {
        instance: "primary".to_owned(),
        username: "anyone".to_owned(),
        password: "Any-Passw0rd!".to_owned(),
        domain: String::new(),
    };
    let refused = client.verify_console_account(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // The adapter's own token is cached: a sign-in attempt would be a token request.
    let asked = stack.sim.request_log().into_iter().filter(|(_, path)| path.contains("oauth2/token")).count();
    assert_eq!(asked, 0, "Secret Server was not asked to sign anyone in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_account_never_signs_in_to_the_console_and_secret_server_is_not_asked() {
    use proto::admin::v1 as admin;
    let stack = Stack::start_with(crate::support::Options {
        console_group: Some("helpdesk".into()),
        ..crate::support::Options::default()
    })
    .await;
    let adapter = stack.adapter.as_ref().expect("the adapter runs");
    let channel = Channel::from_shared(format!("http://{}", adapter.grpc_addr())).unwrap().connect().await.unwrap();
    let secret = adapter.grpc_secret().cloned();
    let mut client = admin::admin_client::AdminClient::with_interceptor(channel, PresentSecret::new(secret.as_ref()));
    stack.sim.clear_request_log();
    // In any case: a wrong password tried against it would count towards its lockout.
    let request = admin::VerifyConsoleAccountRequest {
        instance: "primary".to_owned(),
        username: stack.sim.api_username().to_uppercase(),
        password: "Wrong-Passw0rd!".to_owned(),
        domain: String::new(),
    };
    let verdict = client.verify_console_account(request).await.unwrap().into_inner();
    assert_eq!(verdict.outcome(), admin::ConsoleAccountOutcome::Refused);
    assert!(verdict.reason.contains("Secret Server was not asked"), "{}", verdict.reason);
    let asked = stack.sim.request_log().into_iter().filter(|(_, path)| path.contains("oauth2/token")).count();
    assert_eq!(asked, 0, "no sign-in was tried with the API account's name");
}
