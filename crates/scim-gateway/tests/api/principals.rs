//! Users and groups no connection may change (the connector's own API account, Secret Server's
//! administrators), a connection's principal scope, and whose passwords it may set: refused with
//! `403` saying why, before anything is changed in Secret Server.

use crate::helpers::*;
use futures::TryStreamExt;
use reqwest::{Method, Response};
use secret_server_client::{ClientConfig, RetryPolicy, SecretServerClient};
use serde_json::{Value, json};

/// A client of the emulator, to see what Secret Server holds.
fn secret_server(app: &TestApp) -> SecretServerClient {
    let mut config = ClientConfig::new(
        url::Url::parse(&app.sim.base_url()).unwrap(),
        app.sim.api_username(),
        app.sim.api_password().clone(),
    )
    .allowing_http();
    config.retry = RetryPolicy::none();
    SecretServerClient::new(config).unwrap()
}

/// The requests that could have changed something in Secret Server since the log was cleared
/// (the token endpoint aside).
fn writes(app: &TestApp) -> Vec<(String, String)> {
    app.sim.request_log().into_iter().filter(|(method, path)| method != "GET" && !path.contains("/oauth2/")).collect()
}

/// A connection made through the admin API with `scope` (and `policies`); returns its bearer token.
async fn connection(app: &TestApp, id: &str, scope: Value, policies: Value) -> String {
    let body = json!({"id": id, "secretServer": "primary", "scope": scope, "policies": policies});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "creating connection {id}");
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

/// A SCIM request with `token`.
async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = app.http.request(method, format!("{}/scim/v2{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        req = req.header("content-type", SCIM).body(body.to_string());
    }
    req.send().await.unwrap()
}

fn patch_op(op: &str, path: &str, value: Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": op, "path": path, "value": value}]})
}

async fn id_of(app: &TestApp, endpoint: &str, filter: &str) -> String {
    app.find_one(endpoint, filter).await["id"].as_str().unwrap().to_owned()
}

async fn detail(res: Response, status: u16) -> String {
    scim_error(res, status).await["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_api_account_s_password_cannot_be_set_through_scim_and_stays_unchanged() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let id = id_of(&app, "/Users", &format!("userName eq \"{}\"", app.sim.api_username())).await;
    let before = ss.get_user(id.parse().unwrap()).await.unwrap();
    app.sim.clear_request_log();

    let res = app.patch(&format!("/Users/{id}"), &patch_op("replace", "password", json!("An0ther-Passw0rd!"))).await;
    let why = detail(res, 403).await;
    assert!(why.contains("protected principal") && why.contains("API account"), "{why}");
    let mut replacement = user_body(app.sim.api_username());
    replacement["password"] = json!("An0ther-Passw0rd!");
    assert!(detail(app.put(&format!("/Users/{id}"), &replacement).await, 403).await.contains("protected principal"));
    let res = app.patch(&format!("/Users/{id}"), &patch_op("replace", "active", json!(false))).await;
    scim_error(res, 403).await;
    scim_error(app.delete(&format!("/Users/{id}")).await, 403).await;

    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    let after = ss.get_user(id.parse().unwrap()).await.unwrap();
    assert_eq!(after.password_last_changed, before.password_last_changed, "the password is unchanged");
    assert!(after.enabled);
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_limited_to_a_subtree_cannot_disable_an_administrator_directly_or_through_a_group() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let it = id_of(&app, "/Containers", "name eq \"IT\"").await;
    let scope = json!({
        "resourceTypes": {"User": {"read": true, "update": true}, "Group": {"read": true, "update": true}},
        "containerSubtrees": [it.parse::<i64>().unwrap()],
    });
    let token = connection(&app, "it-helpdesk", scope, json!({})).await;
    let admin = id_of(&app, "/Users", "userName eq \"admin\"").await;
    // Erin holds the role through her group once Security is given it in Secret Server.
    let security = id_of(&app, "/Groups", "displayName eq \"Security\"").await;
    let erin = id_of(&app, "/Users", "userName eq \"erin.fischer\"").await;
    let sim_token = test_support::emulator::token(&app.http, &app.sim).await;
    let res = app
        .http
        .post(format!("{}/api/v1/groups/{security}/roles", app.sim.base_url()))
        .bearer_auth(sim_token)
        .json(&json!({"roleIds": [1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.sim.clear_request_log();

    let disable = patch_op("replace", "active", json!(false));
    let why =
        detail(call(&app, &token, Method::PATCH, &format!("/Users/{admin}"), Some(disable.clone())).await, 403).await;
    assert!(why.contains("holds Secret Server's \"Administrator\" role"), "{why}");
    let why = detail(call(&app, &token, Method::PATCH, &format!("/Users/{erin}"), Some(disable)).await, 403).await;
    assert!(why.contains("through group \"Security\""), "{why}");
    let rename = patch_op("replace", "displayName", json!("Not Security"));
    let why = detail(call(&app, &token, Method::PATCH, &format!("/Groups/{security}"), Some(rename)).await, 403).await;
    assert!(why.starts_with(&format!("Group {security} is a protected principal")), "{why}");
    // Nor may it put an administrator into a group, or take one out.
    let dbas = id_of(&app, "/Groups", "displayName eq \"DBAs\"").await;
    let add = patch_op("add", "members", json!([{"value": admin}]));
    let why = detail(call(&app, &token, Method::PATCH, &format!("/Groups/{dbas}"), Some(add)).await, 403).await;
    assert!(why.contains("add it to a group or remove it from one"), "{why}");

    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    for user in [&admin, &erin] {
        assert!(ss.get_user(user.parse().unwrap()).await.unwrap().enabled, "user {user} is still enabled");
    }
    let members: Vec<i64> = ss.group_members(dbas.parse().unwrap()).map_ok(|m| m.user_id).try_collect().await.unwrap();
    assert!(!members.contains(&admin.parse().unwrap()));
    app.shutdown().await;
}

#[tokio::test]
async fn a_password_is_set_only_on_users_the_connection_created_unless_it_opts_in() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let mine = app.create_user("own.user").await["id"].as_str().unwrap().to_owned();
    let new_password = patch_op("replace", "password", json!("Fresh-Passw0rd!2"));
    assert_eq!(app.patch(&format!("/Users/{mine}"), &new_password).await.status(), 200, "its own user");

    let alice = id_of(&app, "/Users", "userName eq \"alice.martin\"").await;
    app.sim.clear_request_log();
    let why = detail(app.patch(&format!("/Users/{alice}"), &new_password).await, 403).await;
    assert!(why.contains("may not set the password") && why.contains("passwordChange"), "{why}");
    assert_eq!(writes(&app), Vec::<(String, String)>::new());
    assert_eq!(ss.get_user(alice.parse().unwrap()).await.unwrap().password_last_changed, None);
    let rename = patch_op("replace", "displayName", json!("Alice M."));
    assert_eq!(app.patch(&format!("/Users/{alice}"), &rename).await.status(), 200, "other changes are allowed");

    let res = app
        .admin(Method::PATCH, "/connections/test")
        .json(&json!({"policies": {"passwordChange": "any"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.patch(&format!("/Users/{alice}"), &new_password).await.status(), 200, "after the opt-in");
    assert!(ss.get_user(alice.parse().unwrap()).await.unwrap().password_last_changed.is_some());
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_limited_to_what_it_created_changes_nothing_else_but_still_reads_everything() {
    let app = spawn_app().await;
    let scope = json!({
        "resourceTypes": {"User": {"read": true, "create": true, "update": true, "delete": true},
                          "Group": {"read": true, "create": true, "update": true, "delete": true}},
        "principals": {"reach": "createdByConnection"},
    });
    let token = connection(&app, "okta", scope, json!({})).await;
    let alice = id_of(&app, "/Users", "userName eq \"alice.martin\"").await;
    let rename = patch_op("replace", "displayName", json!("Renamed"));
    let why =
        detail(call(&app, &token, Method::PATCH, &format!("/Users/{alice}"), Some(rename.clone())).await, 403).await;
    assert_eq!(
        why,
        format!(
            "User {alice} is outside the principal scope of connection okta, which may change the users and groups it created"
        )
    );
    assert_eq!(call(&app, &token, Method::GET, &format!("/Users/{alice}"), None).await.status(), 200);

    let res = call(&app, &token, Method::POST, "/Users", Some(user_body("okta.user"))).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let own = created["id"].as_str().unwrap();
    assert_eq!(call(&app, &token, Method::PATCH, &format!("/Users/{own}"), Some(rename.clone())).await.status(), 200);
    let group = json!({"schemas": [scim::urn::GROUP], "displayName": "Okta Team", "members": [{"value": own}]});
    let res = call(&app, &token, Method::POST, "/Groups", Some(group)).await;
    assert_eq!(res.status(), 201);
    let team: Value = res.json().await.unwrap();
    let team = team["id"].as_str().unwrap();
    let add_alice = patch_op("add", "members", json!([{"value": alice}]));
    let why = detail(call(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(add_alice)).await, 403).await;
    assert!(why.starts_with(&format!("User {alice} is outside the principal scope")), "{why}");
    let dbas = id_of(&app, "/Groups", "displayName eq \"DBAs\"").await;
    scim_error(call(&app, &token, Method::DELETE, &format!("/Groups/{dbas}"), None).await, 403).await;
    // The dev connection, whose scope is the default, still changes anyone who is not protected.
    assert_eq!(app.patch(&format!("/Users/{alice}"), &rename).await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn a_scope_that_limits_reads_shows_only_the_groups_it_names_and_their_members() {
    let app = spawn_app().await;
    let dbas = id_of(&app, "/Groups", "displayName eq \"DBAs\"").await;
    let carol = id_of(&app, "/Users", "userName eq \"carol.diaz\"").await;
    let alice = id_of(&app, "/Users", "userName eq \"alice.martin\"").await;
    let scope = json!({
        "resourceTypes": {"User": {"read": true, "update": true}, "Group": {"read": true, "update": true},
                          "ContainerPermission": {"read": true, "create": true}, "Container": {"read": true}},
        "principals": {"reach": "groupMembers", "groups": [dbas.parse::<i64>().unwrap()], "limitReads": true},
    });
    let token = connection(&app, "dba-portal", scope, json!({})).await;
    let list = |path: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let body: Value = call(app, &token, Method::GET, path, None).await.json().await.unwrap();
            body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("/Users?count=100").await, [carol.as_str()]);
    assert_eq!(list("/Groups?count=100").await, [dbas.as_str()]);
    scim_error(call(&app, &token, Method::GET, &format!("/Users/{alice}"), None).await, 404).await;
    let carol_doc: Value =
        call(&app, &token, Method::GET, &format!("/Users/{carol}"), None).await.json().await.unwrap();
    let groups: Vec<&str> =
        carol_doc["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
    assert_eq!(groups, [dbas.as_str()], "Developers, which Carol is in too, is not shown");
    // A change to a user it cannot see is the 404 of a missing one.
    let rename = patch_op("replace", "displayName", json!("Renamed"));
    scim_error(call(&app, &token, Method::PATCH, &format!("/Users/{alice}"), Some(rename)).await, 404).await;

    // Permission grants name only principals it can see.
    let staging = id_of(&app, "/Containers", "name eq \"Staging\"").await;
    let grant = |user: &str| {
        json!({"schemas": [scim::urn::CONTAINER_PERMISSION], "container": {"value": staging},
               "user": {"value": user}, "rights": ["View"]})
    };
    let why = detail(call(&app, &token, Method::POST, "/ContainerPermissions", Some(grant(&alice))).await, 400).await;
    assert!(why.contains(&format!("there is no user {alice}")), "{why}");
    let res = call(&app, &token, Method::POST, "/ContainerPermissions", Some(grant(&carol))).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.shutdown().await;
}

#[tokio::test]
async fn a_container_s_path_names_no_folder_outside_the_connection_s_subtrees() {
    let app = spawn_app().await;
    let production = id_of(&app, "/Containers", "name eq \"Production\"").await;
    assert_eq!(app.find_one("/Containers", "name eq \"Production\"").await["path"], "\\Databases\\Production");
    let scope = json!({"resourceTypes": {"Container": {"read": true}}, "containerSubtrees": [production.parse::<i64>().unwrap()]});
    let token = connection(&app, "prod-only", scope, json!({})).await;
    let res = call(&app, &token, Method::GET, &format!("/Containers/{production}"), None).await;
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["path"], "\\Production", "{doc}");
    let res = call(&app, &token, Method::GET, "/Containers?filter=path%20eq%20%22%5C%5CProduction%22", None).await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["totalResults"], 1, "{found}");
    app.shutdown().await;
}

#[tokio::test]
async fn set_scope_sets_a_principal_scope_and_an_unusable_one_is_refused() {
    use scim_gateway::cli::{PrincipalReachArg, ScopeArgs};
    use scim_gateway::{AdminClient, AdminCommand};
    use secrecy::SecretString;
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let scope = ScopeArgs {
        principals: Some(PrincipalReachArg::CreatedByConnection),
        limit_principal_reads: true,
        ..ScopeArgs::default()
    };
    scim_gateway::run(AdminCommand::SetScope { id: "test".into(), scope }, &app.base, &token).await.unwrap();
    let view = AdminClient::new(&app.base, token.clone()).unwrap().get("test").await.unwrap();
    assert_eq!(view.scope.principals.reach, connections::PrincipalReach::CreatedByConnection);
    assert!(view.scope.principals.limit_reads);

    let unusable = json!({"scope": {"resourceTypes": {}, "principals": {"reach": "groupMembers"}}});
    let res = app.admin(Method::PATCH, "/connections/test").json(&unusable).send().await.unwrap();
    let why = detail(res, 400).await;
    assert!(why.contains("needs at least one group"), "{why}");
    app.shutdown().await;
}

/// Gives role 1 (Administrator) in Secret Server, behind the connector's back: to user or group
/// `path` (`users/{id}` or `groups/{id}`).
async fn give_administrator(app: &TestApp, path: &str) {
    let sim_token = test_support::emulator::token(&app.http, &app.sim).await;
    let res = app
        .http
        .post(format!("{}/api/v1/{path}/roles", app.sim.base_url()))
        .bearer_auth(sim_token)
        .json(&json!({"roleIds": [1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "giving {path} the administrator role");
}

/// The GET requests to a route ending in `suffix` since the log was cleared.
fn reads_of(app: &TestApp, suffix: &str) -> usize {
    app.sim
        .request_log()
        .into_iter()
        .filter(|(method, path)| method == "GET" && path.split('?').next().unwrap_or_default().ends_with(suffix))
        .count()
}

#[tokio::test]
async fn a_change_of_many_members_reads_the_role_s_holders_once_and_refuses_an_administrator_as_one_member_would() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let [alice, bob, carol, dave, frank, grace] =
        ["alice.martin", "bob.chen", "carol.diaz", "dave.evans", "frank.green", "grace.hall"];
    let mut ids = std::collections::HashMap::new();
    for name in [alice, bob, carol, dave, frank, grace] {
        ids.insert(name, id_of(&app, "/Users", &format!("userName eq \"{name}\"")).await);
    }
    let helpdesk = id_of(&app, "/Groups", "displayName eq \"Helpdesk\"").await;
    let dbas = id_of(&app, "/Groups", "displayName eq \"DBAs\"").await;
    // Given after the connector loaded Secret Server: only Secret Server knows.
    give_administrator(&app, &format!("users/{}", ids[grace])).await;
    give_administrator(&app, &format!("groups/{dbas}")).await;
    let add = |names: &[&str]| {
        let value: Vec<Value> = names.iter().map(|n| json!({"value": ids[n]})).collect();
        patch_op("add", "members", json!(value))
    };
    let helpdesk_path = format!("/Groups/{helpdesk}");

    // One member at a time, as before: one `roles-assigned` read each.
    let direct_alone = detail(app.patch(&helpdesk_path, &add(&[grace])).await, 403).await;
    let through_alone = detail(app.patch(&helpdesk_path, &add(&[carol])).await, 403).await;
    assert!(direct_alone.contains("holds Secret Server's \"Administrator\" role)"), "{direct_alone}");
    assert!(through_alone.contains("through group \"DBAs\""), "{through_alone}");

    app.sim.clear_request_log();
    let direct_among = detail(app.patch(&helpdesk_path, &add(&[alice, bob, dave, grace])).await, 403).await;
    let through_among = detail(app.patch(&helpdesk_path, &add(&[alice, bob, carol, dave])).await, 403).await;
    assert_eq!(direct_among, direct_alone, "a direct holder among many is refused as it is alone");
    assert_eq!(through_among, through_alone, "a holder through a group among many is refused as it is alone");
    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    assert_eq!(reads_of(&app, "/roles-assigned"), 0, "no read per member");
    assert_eq!(reads_of(&app, "/roles/1/groups"), 2, "one read of the role's holders per change");

    app.sim.clear_request_log();
    let res = app.patch(&helpdesk_path, &add(&[alice, bob, dave, frank])).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(reads_of(&app, "/roles-assigned"), 0, "no read per member");
    let members: Vec<i64> =
        ss.group_members(helpdesk.parse().unwrap()).map_ok(|m| m.user_id).try_collect().await.unwrap();
    for name in [alice, bob, dave, frank] {
        assert!(members.contains(&ids[name].parse().unwrap()), "{name} is in Helpdesk");
    }
    for name in [carol, grace] {
        assert!(!members.contains(&ids[name].parse().unwrap()), "{name} was not added");
    }
    app.shutdown().await;
}
