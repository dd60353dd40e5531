//! The admin API and its CLI: create, list, rotate, disable, delete.

use crate::helpers::*;
use reqwest::Method;
use scim_gateway::admin_model::{NewConnection, NewToken};
use scim_gateway::cli::{PolicyArgs, ScopeArgs, UserNameChangeArg};
use scim_gateway::{AdminClient, AdminCommand};
use secrecy::SecretString;
use serde_json::{Value, json};

#[tokio::test]
async fn a_created_connection_gets_a_token_shown_once_that_works_at_once() {
    let app = spawn_app().await;
    let res = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "okta-prod", "displayName": "Okta", "secretServer": "primary"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["location"], "/admin/v1/connections/okta-prod");
    let created: Value = res.json().await.unwrap();
    let token = created["token"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("scimc_"));

    let shown = app.admin(Method::GET, "/connections/okta-prod").send().await.unwrap().text().await.unwrap();
    assert!(!shown.contains(&token), "the token is never shown again");
    assert!(!shown.contains("sha256"), "hashes are not shown either: {shown}");

    let res = app.http.get(format!("{}/scim/v2/Users?count=1", app.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn creating_an_existing_connection_is_409_and_an_invalid_id_is_400() {
    let app = spawn_app().await;
    let res = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "test", "secretServer": "primary"}))
        .send()
        .await
        .unwrap();
    scim_error(res, 409).await;
    let res = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "Bad Id", "secretServer": "primary"}))
        .send()
        .await
        .unwrap();
    scim_error(res, 400).await;
    let res = app.admin(Method::GET, "/connections/nobody").send().await.unwrap();
    scim_error(res, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn rotation_issues_a_new_token_and_revokes_the_old_one() {
    let app = spawn_app().await;
    let client = AdminClient::new(&app.base, SecretString::from(ADMIN_TOKEN)).unwrap();
    let old_id = client.get("test").await.unwrap().credentials.bearer_tokens[0].id.clone();
    let new = client
        .issue_token("test", &NewToken { label: Some("rotated".into()), expires_in_seconds: None })
        .await
        .unwrap();
    client.revoke_token("test", &old_id).await.unwrap();
    let url = format!("{}/scim/v2/Users?count=1", app.base);
    assert_eq!(app.http.get(&url).bearer_auth(&new.token).send().await.unwrap().status(), 200);
    assert_eq!(app.http.get(&url).bearer_auth(&app.token).send().await.unwrap().status(), 401);
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_expiring_beyond_the_representable_dates_is_refused_with_400_and_the_gateway_goes_on() {
    let app = spawn_app().await;
    let res = app
        .admin(Method::POST, "/connections/test/tokens")
        .json(&json!({"expiresInSeconds": 1_000_000_000_000_u64}))
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 400).await;
    assert_eq!(body["scimType"], "invalidValue");
    assert_eq!(body["detail"], "expiresInSeconds is too large");

    let shown = app.admin(Method::GET, "/connections/test").send().await.unwrap();
    let shown: Value = shown.json().await.unwrap();
    assert_eq!(shown["credentials"]["bearerTokens"].as_array().map(Vec::len), Some(1), "no token was issued");
    let res = app.http.get(format!("{}/scim/v2/Users?count=1", app.base)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200, "the connection still works");
    app.shutdown().await;
}

#[tokio::test]
async fn a_deleted_connection_is_gone_with_its_tokens_and_its_id_is_not_given_again() {
    let app = spawn_app().await;
    let client = AdminClient::new(&app.base, SecretString::from(ADMIN_TOKEN)).unwrap();
    let created = client
        .create(&NewConnection { id: "temp".into(), secret_server: "primary".into(), ..NewConnection::default() })
        .await
        .unwrap();
    let token = created.token.unwrap().token;
    client.delete("temp").await.unwrap();
    assert!(client.list().await.unwrap().iter().all(|c| c.id != "temp"));
    let res = app.http.get(format!("{}/scim/v2/Users", app.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // Its id is not given again: what it created and set still names it.
    let again = NewConnection { id: "temp".into(), secret_server: "primary".into(), ..NewConnection::default() };
    let refused = client.create(&again).await.unwrap_err();
    assert!(format!("{refused:#}").contains("deleted connection"), "{refused:#}");
    assert!(client.list().await.unwrap().iter().all(|c| c.id != "temp"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_from_the_config_file_cannot_be_deleted() {
    let mut options = Options::default();
    options.connection["fromConfig"] = json!(true);
    let app = spawn_app_with(options).await;
    let res = app.admin(Method::DELETE, "/connections/test").send().await.unwrap();
    scim_error(res, 409).await;
    app.shutdown().await;
}

#[tokio::test]
async fn admin_changes_emit_admin_action_audit_events() {
    let app = spawn_app().await;
    let mut sub = app.events.subscribe("admin-audit-test", "t").await.unwrap();
    app.admin(Method::POST, "/connections/test/disable").send().await.unwrap();
    let mut actions = Vec::new();
    for _ in 0..20 {
        for (_, event) in next_audit_events(&mut sub, 100, std::time::Duration::from_millis(200)).await {
            if let Some(proto::audit::v1::audit_event::Kind::Admin(a)) = event.kind {
                assert!(a.actor.starts_with("admin:"));
                actions.push((a.action, a.connection_id));
            }
        }
        if !actions.is_empty() {
            break;
        }
    }
    assert_eq!(actions, vec![("disable-connection".to_owned(), "test".to_owned())]);
    app.shutdown().await;
}

#[tokio::test]
async fn the_cli_runs_over_the_admin_api() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let create = AdminCommand::Create {
        id: "sailpoint".into(),
        secret_server: "primary".into(),
        display_name: Some("SailPoint".into()),
        scope: ScopeArgs { read_only: true, ..ScopeArgs::default() },
        policies: PolicyArgs::default(),
        rate: Some(10.0),
        burst: Some(20),
        no_token: false,
    };
    scim_gateway::run(create, &app.base, &token).await.unwrap();
    scim_gateway::run(AdminCommand::Disable { id: "sailpoint".into() }, &app.base, &token).await.unwrap();
    let client = AdminClient::new(&app.base, token.clone()).unwrap();
    let view = client.get("sailpoint").await.unwrap();
    assert!(!view.enabled);
    assert_eq!(
        view.rate_limit,
        Some(connections::ConnectionRateLimit::Limited(connections::RateLimit {
            requests_per_second: 10.0,
            burst: 20
        }))
    );
    let none =
        AdminCommand::SetRateLimit { id: "sailpoint".into(), rate: None, burst: None, none: true, default: false };
    scim_gateway::run(none, &app.base, &token).await.unwrap();
    assert_eq!(client.get("sailpoint").await.unwrap().rate_limit, Some(connections::ConnectionRateLimit::NONE));
    let default =
        AdminCommand::SetRateLimit { id: "sailpoint".into(), rate: None, burst: None, none: false, default: true };
    scim_gateway::run(default, &app.base, &token).await.unwrap();
    assert_eq!(client.get("sailpoint").await.unwrap().rate_limit, None, "back on the gateway's default");
    assert!(!view.scope.operations(scim::ResourceKind::User).create);
    let err = scim_gateway::run(AdminCommand::Show { id: "nobody".into() }, &app.base, &token).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_cli_creates_a_connection_scoped_to_named_types_with_a_user_name_policy() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let create = AdminCommand::Create {
        id: "conformance".into(),
        secret_server: "primary".into(),
        display_name: None,
        scope: ScopeArgs {
            resource_types: ["User", "Group", "Container"].iter().map(|t| t.parse().unwrap()).collect(),
            ..ScopeArgs::default()
        },
        policies: PolicyArgs {
            user_name_change: Some(UserNameChangeArg::KeepSecretServerName),
            ..PolicyArgs::default()
        },
        rate: None,
        burst: None,
        no_token: true,
    };
    scim_gateway::run(create, &app.base, &token).await.unwrap();
    let client = AdminClient::new(&app.base, token.clone()).unwrap();
    let view = client.get("conformance").await.unwrap();
    assert_eq!(view.scope.resource_types.keys().collect::<Vec<_>>(), ["Container", "Group", "User"]);
    assert_eq!(view.scope.operations(scim::ResourceKind::Container), connections::Operations::ALL);
    assert_eq!(view.policies.user_name_change, connections::UserNameChangePolicy::KeepSecretServerName);
    assert_eq!(view.policies.deleted_users, connections::DeletedUserPolicy::default());
    // Out of scope is invisible: discovery lists exactly the three types.
    let issued = client.issue_token("conformance", &NewToken::default()).await.unwrap();
    let res =
        app.http.get(format!("{}/scim/v2/ResourceTypes", app.base)).bearer_auth(&issued.token).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    let names: Vec<&str> = list["Resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["User", "Group", "Container"]);
    app.shutdown().await;
}

#[tokio::test]
async fn set_scope_and_set_policies_change_an_existing_connection() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let scope = ScopeArgs { resource_types: vec!["User=read".parse().unwrap()], ..ScopeArgs::default() };
    scim_gateway::run(AdminCommand::SetScope { id: "test".into(), scope }, &app.base, &token).await.unwrap();
    let policies =
        PolicyArgs { deleted_users: Some(scim_gateway::cli::DeletedUsersArg::Inactive), ..PolicyArgs::default() };
    scim_gateway::run(AdminCommand::SetPolicies { id: "test".into(), policies }, &app.base, &token).await.unwrap();
    let view = AdminClient::new(&app.base, token.clone()).unwrap().get("test").await.unwrap();
    assert_eq!(view.scope.resource_types.len(), 1);
    assert_eq!(view.scope.operations(scim::ResourceKind::User), connections::Operations::READ_ONLY);
    assert_eq!(view.policies.deleted_users, connections::DeletedUserPolicy::Inactive);
    let nothing = AdminCommand::SetPolicies { id: "test".into(), policies: PolicyArgs::default() };
    assert!(scim_gateway::run(nothing, &app.base, &token).await.is_err(), "set-policies with no switch does nothing");
    app.shutdown().await;
}

#[tokio::test]
async fn a_scope_naming_an_unknown_resource_type_is_400_on_create_and_change() {
    let app = spawn_app().await;
    let bad_scope = json!({"resourceTypes": {"Users": {"read": true}}});
    let res = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "typo", "secretServer": "primary", "scope": bad_scope}))
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("\"Users\" is not a resource type"), "{body}");
    let res = app.admin(Method::PATCH, "/connections/test").json(&json!({"scope": bad_scope})).send().await.unwrap();
    scim_error(res, 400).await;
    let view = AdminClient::new(&app.base, SecretString::from(ADMIN_TOKEN)).unwrap().get("test").await.unwrap();
    assert!(view.scope.operations(scim::ResourceKind::User).read, "the refused change left the scope as it was");
    app.shutdown().await;
}
