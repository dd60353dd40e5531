//! The other ways to sign in, against the emulator: a pre-issued API token, and Secret Server Cloud
//! through the Delinea Platform (client-credentials token, vault broker).

use crate::helpers::{client_config, count_requests, token_requests};
use secrecy::SecretString;
use secret_server_client::{ClientError, SecretServerClient, SignIn, UserQuery, platform};
use secret_server_sim::{PlatformConfig, SimConfig, spawn};
use std::time::Duration;
use url::Url;

const API_TOKEN: &str = "contract-test-api-token-0123456789";
const CLIENT_ID: &str = "scim-connector";
const CLIENT_SECRET: &str = "contract-test-client-secret";

#[tokio::test]
async fn a_pre_issued_api_token_signs_in_without_the_token_endpoint() {
    let sim =
        spawn(SimConfig { api_token: Some(SecretString::from(API_TOKEN)), ..SimConfig::for_tests() }).await.unwrap();
    let mut config = client_config(&sim);
    config.username = String::new();
    config.sign_in = SignIn::ApiToken(SecretString::from(API_TOKEN));
    let client = SecretServerClient::new(config).unwrap();
    assert_eq!(client.current_user().await.unwrap().user_name, sim.api_username());
    assert!(client.users_page(&UserQuery::default(), 0, 1).await.unwrap().total > 0);
    assert_eq!(token_requests(&sim), 0, "no token was asked for");

    let mut wrong = client_config(&sim);
    wrong.sign_in = SignIn::ApiToken(SecretString::from("not-the-token"));
    let error = SecretServerClient::new(wrong).unwrap().current_user().await.unwrap_err();
    assert!(matches!(error, ClientError::Forbidden { .. } | ClientError::AuthenticationFailed { .. }), "{error:?}");
    sim.shutdown().await;
}

fn with_platform() -> SimConfig {
    SimConfig {
        platform: Some(PlatformConfig {
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretString::from(CLIENT_SECRET),
        }),
        ..SimConfig::for_tests()
    }
}

fn platform_url(sim: &secret_server_sim::RunningSim) -> Url {
    let mut url = Url::parse(&sim.base_url()).unwrap();
    url.set_path("/platform");
    url
}

#[tokio::test]
async fn the_platform_names_the_vault_and_its_client_credentials_token_opens_the_vault_api() {
    let sim = spawn(with_platform()).await.unwrap();
    let platform = platform_url(&sim);
    let secret = SecretString::from(CLIENT_SECRET);
    let vault = platform::vault_url(&platform, CLIENT_ID, &secret, Duration::from_secs(5)).await.unwrap();
    assert_eq!(vault.as_str().trim_end_matches('/'), sim.base_url().trim_end_matches('/'));

    let mut config = client_config(&sim);
    config.base_url = vault;
    config.username = String::new();
    config.sign_in = SignIn::Platform { url: platform.clone(), client_id: CLIENT_ID.to_owned(), client_secret: secret };
    let client = SecretServerClient::new(config).unwrap();
    assert_eq!(client.current_user().await.unwrap().user_name, sim.api_username());
    assert!(client.users_page(&UserQuery::default(), 0, 1).await.unwrap().total > 0);
    assert!(count_requests(&sim, "POST", "/platform/identity/api/oauth2/token/xpmplatform") >= 1);
    assert_eq!(token_requests(&sim), 0, "the vault's own token endpoint is not used");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_platform_refuses_a_wrong_client_secret() {
    let sim = spawn(with_platform()).await.unwrap();
    let platform = platform_url(&sim);
    let wrong = SecretString::from("not-the-secret");
    let error = platform::vault_url(&platform, CLIENT_ID, &wrong, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(error, ClientError::AuthenticationFailed { .. }), "{error:?}");

    let mut config = client_config(&sim);
    config.sign_in = SignIn::Platform { url: platform, client_id: CLIENT_ID.to_owned(), client_secret: wrong };
    let error = SecretServerClient::new(config).unwrap().current_user().await.unwrap_err();
    assert!(matches!(error, ClientError::AuthenticationFailed { .. }), "{error:?}");
    sim.shutdown().await;
}
