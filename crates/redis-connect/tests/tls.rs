//! TLS and ACL against a real `redis-server` speaking TLS only and requiring client certificates,
//! with certificates made for the test. Needs `redis-server` on PATH (fails without it).

use redis::aio::ConnectionManagerConfig;
use redis_connect::testing::{RedisProcess, TestPki};
use redis_connect::{Redis, RedisSettings};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;

fn settings(server: &RedisProcess, ca: Option<&Path>, client: Option<(&Path, &Path)>) -> RedisSettings {
    let mut settings = RedisSettings::url(format!("rediss://localhost:{}", server.port));
    settings.tls.ca_file = ca.map(Path::to_owned);
    if let Some((cert, key)) = client {
        settings.tls.cert_file = Some(cert.to_owned());
        settings.tls.key_file = Some(key.to_owned());
    }
    settings
}

/// A short connection timeout and no retries: a refusal is final here.
fn quick() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(3)))
        .set_number_of_retries(0)
}

async fn ping(settings: &RedisSettings) -> redis::RedisResult<String> {
    let redis = Redis::new(settings).expect("valid settings");
    let mut conn = redis.connect(quick()).await?;
    redis::cmd("PING").query_async(&mut conn).await
}

#[tokio::test]
async fn a_client_with_the_ca_and_its_certificate_connects_and_strangers_are_refused() {
    let pki = TestPki::new();
    let server = RedisProcess::with_tls(&pki, true);
    let client = Some((pki.client_cert.as_path(), pki.client_key.as_path()));

    let trusted = settings(&server, Some(&pki.ca), client);
    assert_eq!(ping(&trusted).await.expect("the trusted client connects"), "PONG");

    let without_the_ca = settings(&server, None, client);
    assert!(ping(&without_the_ca).await.is_err(), "a server signed by a CA the client does not know is refused");

    let trusting_another_ca = settings(&server, Some(&pki.unknown_ca), client);
    assert!(ping(&trusting_another_ca).await.is_err(), "the server's certificate does not chain to that CA");

    let stranger = settings(&server, Some(&pki.ca), Some((&pki.unknown_client_cert, &pki.unknown_client_key)));
    assert!(ping(&stranger).await.is_err(), "a client certificate from an unknown CA is refused by the server");

    let anonymous = settings(&server, Some(&pki.ca), None);
    assert!(ping(&anonymous).await.is_err(), "a client without a certificate is refused by the server");
}

#[tokio::test]
async fn an_acl_user_given_beside_the_url_connects_and_a_wrong_password_is_refused_unechoed() {
    let pki = TestPki::new();
    let server = RedisProcess::with_tls(&pki, false);
    let admin = settings(&server, Some(&pki.ca), None);
    let redis = Redis::new(&admin).unwrap();
    let mut conn = redis.connect(quick()).await.expect("the server answers over TLS");
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("queue")
        .arg("on")
        .arg(">queue-Pa55")
        .arg("~scimc:*")
        .arg("+@all")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let mut user = settings(&server, Some(&pki.ca), None);
    user.username = Some("queue".to_owned());
    user.password = Some(SecretString::from("queue-Pa55"));
    let redis = Redis::new(&user).unwrap();
    let mut conn = redis.connect(quick()).await.expect("the ACL user connects");
    let whoami: String = redis::cmd("ACL").arg("WHOAMI").query_async(&mut conn).await.unwrap();
    assert_eq!(whoami, "queue");

    user.password = Some(SecretString::from("wrong-Pa55"));
    let refused = ping(&user).await.expect_err("a wrong password is refused");
    assert!(!refused.to_string().contains("wrong-Pa55"), "errors never echo the password: {refused}");
}

#[test]
fn a_missing_certificate_file_fails_at_start_naming_its_setting() {
    let mut settings = RedisSettings::url("rediss://localhost:6380");
    settings.tls.ca_file = Some("no-such-dir/ca.pem".into());
    let err = Redis::new(&settings).expect_err("the file is missing");
    assert_eq!(err.setting, "redis_tls_ca_file");
    assert!(err.to_string().contains("no-such-dir/ca.pem"), "{err}");
}
