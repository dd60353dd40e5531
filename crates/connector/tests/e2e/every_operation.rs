//! Issue 6: every SCIM operation on every resource type, sent through the gateway, leaves the
//! emulator in the expected state. Each test drives one type over HTTP with a SCIM client and, after
//! each operation, reads Secret Server's own state through its REST API (the paths of the real
//! Secret Server) with its API account, never through the connector.
//!
//! The development connection's scope writes every type but PrivilegedData, which it only reads;
//! the PrivilegedData test also makes a connection (through the admin API) whose scope allows every
//! operation on it, to show that the refusal is not only the scope's.

use crate::helpers::{Scim, secret_server_get};
use connector::testing::{StackOptions, TestStack, spawn_stack_with};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const CONTAINER: &str = "urn:ietf:params:scim:schemas:pam:1.0:Container";
const CONTAINER_PERMISSION: &str = "urn:ietf:params:scim:schemas:pam:1.0:ContainerPermission";
const PRIVILEGED_DATA: &str = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedData";
const PRIVILEGED_DATA_PERMISSION: &str = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedDataPermission";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Sends `request` and answers its status and JSON body (`Null` when there is none).
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a readable body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("a JSON body") };
    (status, body)
}

/// Sends `request`, asserts the status it must get, and answers the body.
async fn expect(request: reqwest::RequestBuilder, status: u16, what: &str) -> Value {
    let (got, body) = send(request).await;
    assert_eq!(got, status, "{what}: {body}");
    body
}

/// The SCIM id of the only `endpoint` resource matching `filter` (seeded data).
async fn only_id(scim: &Scim<'_>, endpoint: &str, filter: &str) -> String {
    let query = format!("/{endpoint}?filter={}", urlencode(filter));
    let list = expect(scim.get(&query), 200, &format!("GET {endpoint} filter {filter}")).await;
    assert_eq!(list["totalResults"], 1, "exactly one {endpoint} matches {filter}: {list}");
    list["Resources"][0]["id"].as_str().expect("an id").to_owned()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Secret Server's record at `path`, which must exist.
async fn ss_record(stack: &TestStack, path: &str) -> Value {
    let (status, body) = secret_server_get(stack, path).await;
    assert_eq!(status, 200, "Secret Server GET {path}: {body}");
    body
}

/// Asserts that Secret Server has nothing at `path`. Like the real one, the emulator answers an
/// unknown id with `400` and an `errorCode` (its API documents no 404).
async fn ss_absent(stack: &TestStack, path: &str, error_code: &str) {
    let (status, body) = secret_server_get(stack, path).await;
    assert_eq!((status, &body["errorCode"]), (400, &json!(error_code)), "Secret Server GET {path}: {body}");
}

/// The `records` of a Secret Server search at `path`.
async fn ss_records(stack: &TestStack, path: &str) -> Vec<Value> {
    ss_record(stack, path).await["records"].as_array().cloned().expect("a paged result")
}

/// The user ids of a Secret Server group's members, sorted.
async fn ss_member_ids(stack: &TestStack, group: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = ss_records(stack, &format!("/groups/{group}/users?take=1000"))
        .await
        .iter()
        .map(|m| m["userId"].as_i64().expect("a member's userId"))
        .collect();
    ids.sort_unstable();
    ids
}

fn int(id: &str) -> i64 {
    id.parse().expect("Secret Server ids are integers")
}

fn rights(doc: &Value) -> Vec<&str> {
    doc["rights"].as_array().expect("rights").iter().map(|r| r.as_str().expect("a right")).collect()
}

/// The development connection, as the adapter reads it (for its rights mapping).
async fn dev_connection(stack: &TestStack) -> connections::Connection {
    let id: connections::ConnectionId = "dev".parse().unwrap();
    stack.connections.get(&id).await.unwrap().expect("the development connection exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_user_operation_through_the_gateway_shows_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);

    // POST
    let created = expect(
        scim.post(
            "/Users",
            &json!({
                "schemas": [USER],
                "userName": "olga.ops",
                "displayName": "Olga Ops",
                "name": {"givenName": "Olga", "familyName": "Ops"},
                "emails": [{"value": "olga.ops@example.com", "type": "work", "primary": true}]
            }),
        ),
        201,
        "POST /Users",
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let ss = ss_record(&stack, &format!("/users/{id}")).await;
    assert_eq!(
        (&ss["userName"], &ss["displayName"], &ss["emailAddress"], &ss["enabled"]),
        (&json!("olga.ops"), &json!("Olga Ops"), &json!("olga.ops@example.com"), &json!(true))
    );

    // GET
    let read = expect(scim.get(&format!("/Users/{id}")), 200, "GET the user").await;
    assert_eq!((&read["userName"], &read["displayName"]), (&json!("olga.ops"), &json!("Olga Ops")));
    assert_eq!(read["emails"][0]["value"], "olga.ops@example.com");
    assert_eq!(read["active"], true);

    // PUT: a new display name and e-mail address.
    let replaced = expect(
        scim.put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": [USER],
                "userName": "olga.ops",
                "displayName": "Olga Operations",
                "active": true,
                "emails": [{"value": "olga.operations@example.com", "type": "work", "primary": true}]
            }),
        ),
        200,
        "PUT the user",
    )
    .await;
    assert_eq!(replaced["displayName"], "Olga Operations");
    let ss = ss_record(&stack, &format!("/users/{id}")).await;
    assert_eq!(
        (&ss["userName"], &ss["displayName"], &ss["emailAddress"], &ss["enabled"]),
        (&json!("olga.ops"), &json!("Olga Operations"), &json!("olga.operations@example.com"), &json!(true))
    );

    // PATCH as Entra ID sends it: a capitalised op and the boolean as a string.
    let patched = expect(
        scim.patch(&format!("/Users/{id}"), &json!([{"op": "Replace", "path": "active", "value": "False"}])),
        200,
        "PATCH active False (Entra)",
    )
    .await;
    assert_eq!(patched["active"], false);
    let ss = ss_record(&stack, &format!("/users/{id}")).await;
    assert_eq!(ss["enabled"], false, "Entra's deactivation disables the Secret Server user: {ss}");
    assert_eq!(ss["displayName"], "Olga Operations", "and changes nothing else");

    // Enabled again, so that what the DELETE does shows in Secret Server.
    let reactivated = expect(
        scim.patch(&format!("/Users/{id}"), &json!([{"op": "Replace", "path": "active", "value": "True"}])),
        200,
        "PATCH active True",
    )
    .await;
    assert_eq!(reactivated["active"], true);
    assert_eq!(ss_record(&stack, &format!("/users/{id}")).await["enabled"], true);

    // DELETE: Secret Server keeps the user, disabled; SCIM no longer knows it.
    let gone = expect(scim.delete(&format!("/Users/{id}")), 204, "DELETE the user").await;
    assert_eq!(gone, Value::Null, "204 has no body");
    let ss = ss_record(&stack, &format!("/users/{id}")).await;
    assert_eq!((&ss["userName"], &ss["enabled"]), (&json!("olga.ops"), &json!(false)));
    let after = expect(scim.get(&format!("/Users/{id}")), 404, "GET the deleted user").await;
    assert_eq!(after["schemas"][0], ERROR);

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_group_operation_through_the_gateway_shows_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let alice = only_id(&scim, "Users", r#"userName eq "alice.martin""#).await;
    let bob = only_id(&scim, "Users", r#"userName eq "bob.chen""#).await;
    let carol = only_id(&scim, "Users", r#"userName eq "carol.diaz""#).await;
    assert_eq!(ss_record(&stack, &format!("/users/{alice}")).await["userName"], "alice.martin");

    // POST with members.
    let created = expect(
        scim.post(
            "/Groups",
            &json!({
                "schemas": [GROUP],
                "displayName": "Auditors",
                "members": [{"value": alice}, {"value": bob}]
            }),
        ),
        201,
        "POST /Groups",
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let ss = ss_record(&stack, &format!("/groups/{id}")).await;
    assert_eq!((&ss["name"], &ss["enabled"]), (&json!("Auditors"), &json!(true)));
    let mut expected = vec![int(&alice), int(&bob)];
    expected.sort_unstable();
    assert_eq!(ss_member_ids(&stack, &id).await, expected);

    // PATCH: add a member.
    expect(
        scim.patch(&format!("/Groups/{id}"), &json!([{"op": "add", "path": "members", "value": [{"value": carol}]}])),
        200,
        "PATCH add a member",
    )
    .await;
    let mut expected = vec![int(&alice), int(&bob), int(&carol)];
    expected.sort_unstable();
    assert_eq!(ss_member_ids(&stack, &id).await, expected);

    // PATCH: remove one member by a value filter; the others stay.
    let patched = expect(
        scim.patch(
            &format!("/Groups/{id}"),
            &json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
        ),
        200,
        "PATCH remove a member by value filter",
    )
    .await;
    let mut expected = vec![int(&alice), int(&carol)];
    expected.sort_unstable();
    assert_eq!(ss_member_ids(&stack, &id).await, expected);
    let mut scim_members: Vec<i64> = patched["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| int(m["value"].as_str().expect("a member value")))
        .collect();
    scim_members.sort_unstable();
    assert_eq!(scim_members, expected, "the PATCH answer shows what Secret Server holds");

    // PUT: a new name, the same members.
    let replaced = expect(
        scim.put(
            &format!("/Groups/{id}"),
            &json!({
                "schemas": [GROUP],
                "displayName": "Internal Auditors",
                "members": [{"value": alice}, {"value": carol}]
            }),
        ),
        200,
        "PUT the group",
    )
    .await;
    assert_eq!(replaced["displayName"], "Internal Auditors");
    assert_eq!(ss_record(&stack, &format!("/groups/{id}")).await["name"], "Internal Auditors");
    assert_eq!(ss_member_ids(&stack, &id).await, expected);

    // DELETE: the group is gone from Secret Server, its members are not.
    expect(scim.delete(&format!("/Groups/{id}")), 204, "DELETE the group").await;
    ss_absent(&stack, &format!("/groups/{id}"), "API_GroupNotFound").await;
    assert_eq!(ss_record(&stack, &format!("/users/{alice}")).await["enabled"], true);
    expect(scim.get(&format!("/Groups/{id}")), 404, "GET the deleted group").await;

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_container_operation_through_the_gateway_shows_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let it = only_id(&scim, "Containers", r#"name eq "IT""#).await;
    let databases = only_id(&scim, "Containers", r#"name eq "Databases""#).await;
    assert_eq!(ss_record(&stack, &format!("/folders/{it}")).await["folderName"], "IT");

    // POST under a seeded folder: a subfolder inherits unless told otherwise.
    let created = expect(
        scim.post("/Containers", &json!({"schemas": [CONTAINER], "name": "Printers", "parent": {"value": it}})),
        201,
        "POST /Containers",
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(created["path"], "\\IT\\Printers");
    let ss = ss_record(&stack, &format!("/folders/{id}")).await;
    assert_eq!(
        (&ss["folderName"], &ss["parentFolderId"], &ss["inheritPermissions"]),
        (&json!("Printers"), &json!(int(&it)), &json!(true))
    );

    // PATCH: rename and move in one request.
    let moved = expect(
        scim.patch(
            &format!("/Containers/{id}"),
            &json!([
                {"op": "replace", "path": "name", "value": "Print Servers"},
                {"op": "replace", "path": "parent", "value": {"value": databases}}
            ]),
        ),
        200,
        "PATCH rename and move",
    )
    .await;
    assert_eq!(moved["path"], "\\Databases\\Print Servers");
    let ss = ss_record(&stack, &format!("/folders/{id}")).await;
    assert_eq!((&ss["folderName"], &ss["parentFolderId"]), (&json!("Print Servers"), &json!(int(&databases))));

    // PUT: stop inheriting permissions, the rest as it is.
    let replaced = expect(
        scim.put(
            &format!("/Containers/{id}"),
            &json!({
                "schemas": [CONTAINER],
                "name": "Print Servers",
                "parent": {"value": databases},
                "inheritPermissions": false
            }),
        ),
        200,
        "PUT the container",
    )
    .await;
    assert_eq!(replaced["inheritPermissions"], false);
    let ss = ss_record(&stack, &format!("/folders/{id}")).await;
    assert_eq!(
        (&ss["folderName"], &ss["parentFolderId"], &ss["inheritPermissions"]),
        (&json!("Print Servers"), &json!(int(&databases)), &json!(false))
    );

    // DELETE: the folder is gone, its former parent is not.
    expect(scim.delete(&format!("/Containers/{id}")), 204, "DELETE the container").await;
    ss_absent(&stack, &format!("/folders/{id}"), "API_FolderNotFound").await;
    assert_eq!(ss_record(&stack, &format!("/folders/{databases}")).await["folderName"], "Databases");
    expect(scim.get(&format!("/Containers/{id}")), 404, "GET the deleted container").await;

    stack.shutdown().await;
}

/// The (folder role, secret role) a user holds on a folder in Secret Server, if any.
async fn ss_folder_roles(stack: &TestStack, folder: &str, user: &str) -> Option<(String, String)> {
    ss_records(stack, &format!("/folder-permissions?filter.folderId={folder}&take=1000"))
        .await
        .into_iter()
        .find(|p| p["userId"].as_i64() == Some(int(user)))
        .map(|p| {
            let role = |key: &str| p[key].as_str().expect("a role name").to_owned();
            (role("folderAccessRoleName"), role("secretAccessRoleName"))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_container_permission_operation_through_the_gateway_shows_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let mapping = dev_connection(&stack).await.rights;
    let roles = |right: &str| {
        let r = mapping.folder_roles(right).expect("the dev connection maps the right");
        Some((r.folder.as_str().to_owned(), r.secret.as_str().to_owned()))
    };
    let databases = only_id(&scim, "Containers", r#"name eq "Databases""#).await;
    let bob = only_id(&scim, "Users", r#"userName eq "bob.chen""#).await;
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, None, "bob starts without a permission");

    // POST: the user gets the roles the right maps to.
    let created = expect(
        scim.post(
            "/ContainerPermissions",
            &json!({
                "schemas": [CONTAINER_PERMISSION],
                "container": {"value": databases},
                "user": {"value": bob},
                "rights": ["View"]
            }),
        ),
        201,
        "POST /ContainerPermissions",
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(rights(&created), ["View"]);
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, roles("View"));
    let ss = ss_record(&stack, &format!("/folder-permissions/{id}")).await;
    assert_eq!((&ss["folderId"], &ss["userId"]), (&json!(int(&databases)), &json!(int(&bob))));

    // PATCH as SailPoint sends an entitlement Add: the stronger right wins in Secret Server.
    let added = expect(
        scim.patch(
            &format!("/ContainerPermissions/{id}"),
            &json!([{"op": "add", "path": "rights", "value": ["Edit"]}]),
        ),
        200,
        "PATCH add a right",
    )
    .await;
    assert_eq!(rights(&added), ["View", "Edit"]);
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, roles("Edit"));

    // PATCH as SailPoint sends an entitlement Remove.
    let removed = expect(
        scim.patch(
            &format!("/ContainerPermissions/{id}"),
            &json!([{"op": "remove", "path": "rights[value eq \"Edit\"]"}]),
        ),
        200,
        "PATCH remove a right",
    )
    .await;
    assert_eq!(rights(&removed), ["View"]);
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, roles("View"));

    // PUT: the same target, new rights.
    let replaced = expect(
        scim.put(
            &format!("/ContainerPermissions/{id}"),
            &json!({
                "schemas": [CONTAINER_PERMISSION],
                "container": {"value": databases},
                "user": {"value": bob},
                "rights": ["Owner"]
            }),
        ),
        200,
        "PUT the permission",
    )
    .await;
    assert_eq!(rights(&replaced), ["Owner"]);
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, roles("Owner"));

    // DELETE: the permission is revoked; the folder's other permissions stay.
    let before = ss_records(&stack, &format!("/folder-permissions?filter.folderId={databases}&take=1000")).await.len();
    expect(scim.delete(&format!("/ContainerPermissions/{id}")), 204, "DELETE the permission").await;
    assert_eq!(ss_folder_roles(&stack, &databases, &bob).await, None);
    let after = ss_records(&stack, &format!("/folder-permissions?filter.folderId={databases}&take=1000")).await.len();
    assert_eq!(after, before - 1, "only bob's permission went");
    expect(scim.get(&format!("/ContainerPermissions/{id}")), 404, "GET the deleted permission").await;

    stack.shutdown().await;
}

/// Every secret in Secret Server, active or not, by id.
async fn ss_secrets(stack: &TestStack) -> Vec<Value> {
    ss_records(stack, "/secrets?filter.includeInactive=true&take=1000").await
}

/// The field values Secret Server holds for every secret (the emulator serves synthetic ones).
async fn ss_field_values(stack: &TestStack) -> Vec<String> {
    let mut values = Vec::new();
    for secret in ss_secrets(stack).await {
        let full = ss_record(stack, &format!("/secrets/{}", secret["id"])).await;
        for item in full["items"].as_array().expect("a secret's items") {
            values.push(item["itemValue"].as_str().expect("an item value").to_owned());
        }
    }
    assert!(!values.is_empty(), "the seed has secrets with fields");
    values
}

fn assert_no_field_value(body: &Value, values: &[String], what: &str) {
    let text = body.to_string();
    for value in values {
        assert!(!text.contains(value.as_str()), "{what} shows the field value {value:?}");
    }
}

/// A connection made through the admin API whose scope allows every operation on every type,
/// PrivilegedData included; answers its bearer token.
async fn connection_writing_privileged_data(stack: &TestStack) -> SecretString {
    let all = json!({"read": true, "create": true, "update": true, "delete": true});
    let types = ["User", "Group", "Container", "ContainerPermission", "PrivilegedData", "PrivilegedDataPermission"];
    let scope: serde_json::Map<String, Value> = types.iter().map(|t| ((*t).to_owned(), all.clone())).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/admin/v1/connections", stack.gateway_url()))
        .bearer_auth(stack.admin_token.expose_secret())
        .json(&json!({
            "id": "secrets-writer",
            // The instance the development connection reads and writes: the emulator.
            "secretServer": dev_connection(stack).await.secret_server,
            "scope": {"resourceTypes": scope}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the admin API creates the connection");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["connection"]["scope"]["resourceTypes"]["PrivilegedData"], all);
    SecretString::from(created["token"]["token"].as_str().expect("an initial token").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privileged_data_shows_metadata_never_a_field_value_and_refuses_writes() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let values = ss_field_values(&stack).await;
    let secrets_before = ss_secrets(&stack).await;

    // GET one: Secret Server's metadata of the secret.
    let id = only_id(&scim, "PrivilegedData", r#"name eq "sql-prod sa""#).await;
    let ss = ss_record(&stack, &format!("/secrets/{id}/summary")).await;
    let read = expect(scim.get(&format!("/PrivilegedData/{id}")), 200, "GET a secret").await;
    assert_eq!(read["schemas"][0], PRIVILEGED_DATA);
    assert_eq!(read["name"], ss["name"]);
    assert_eq!(read["container"]["value"], ss["folderId"].to_string());
    assert_eq!(read["template"]["value"], ss["secretTemplateId"].to_string());
    assert_eq!(read["template"]["display"], ss["secretTemplateName"]);
    assert_eq!(read["active"], ss["active"]);
    assert_no_field_value(&read, &values, "GET /PrivilegedData/{id}");

    // List by filter: every secret of a folder, and all of them.
    let folder_id = ss["folderId"].as_i64().expect("a folder id");
    let folder = folder_id.to_string();
    let by_folder = expect(
        scim.get(&format!("/PrivilegedData?filter={}", urlencode(&format!("container.value eq \"{folder}\"")))),
        200,
        "list secrets by folder",
    )
    .await;
    let mut listed: Vec<&str> =
        by_folder["Resources"].as_array().expect("Resources").iter().map(|r| r["name"].as_str().unwrap()).collect();
    listed.sort_unstable();
    let mut in_folder: Vec<&str> = secrets_before
        .iter()
        .filter(|s| s["folderId"].as_i64() == Some(folder_id) && s["active"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    in_folder.sort_unstable();
    assert_eq!(listed, in_folder);
    assert_no_field_value(&by_folder, &values, "the list by folder");
    let all = expect(scim.get("/PrivilegedData?count=1000"), 200, "list every secret").await;
    let mut listed: Vec<&str> =
        all["Resources"].as_array().expect("Resources").iter().map(|r| r["name"].as_str().unwrap()).collect();
    listed.sort_unstable();
    let mut everything: Vec<&str> = secrets_before.iter().map(|s| s["name"].as_str().unwrap()).collect();
    everything.sort_unstable();
    assert_eq!(listed, everything, "every secret Secret Server has is listed");
    assert_no_field_value(&all, &values, "the list of every secret");

    let body = json!({
        "schemas": [PRIVILEGED_DATA],
        "name": "smuggled",
        "container": {"value": folder},
        "template": {"value": ss["secretTemplateId"].to_string()}
    });

    // The development connection may only read secrets: its scope refuses the write.
    let refused = expect(scim.post("/PrivilegedData", &body), 403, "POST a secret on the dev connection").await;
    assert_eq!((&refused["schemas"][0], &refused["status"]), (&json!(ERROR), &json!("403")));
    assert_eq!(refused.get("scimType"), None, "RFC 7644 defines no scimType for 403: {refused}");
    let (status, _) = send(scim.delete(&format!("/PrivilegedData/{id}"))).await;
    assert_eq!(status, 403, "nor may it delete one");

    // A connection allowed to write PrivilegedData is refused too: the connector never writes secrets.
    let writer = Scim::with_token(&stack, connection_writing_privileged_data(&stack).await);
    let refused =
        expect(writer.post("/PrivilegedData", &body), 501, "POST a secret with PrivilegedData in scope").await;
    assert_eq!((&refused["schemas"][0], &refused["status"]), (&json!(ERROR), &json!("501")));
    assert_eq!(refused.get("scimType"), None, "{refused}");
    let (status, _) = send(writer.delete(&format!("/PrivilegedData/{id}"))).await;
    assert_eq!(status, 501, "nor delete one");

    assert_eq!(ss_secrets(&stack).await, secrets_before, "Secret Server's secrets are unchanged");
    stack.shutdown().await;
}

/// The secret role a group holds on a secret in Secret Server, if any.
async fn ss_secret_role(stack: &TestStack, secret: &str, group: &str) -> Option<String> {
    ss_records(stack, &format!("/secret-permissions?filter.secretId={secret}&take=1000"))
        .await
        .into_iter()
        .find(|p| p["groupId"].as_i64() == Some(int(group)))
        .map(|p| p["secretAccessRoleName"].as_str().expect("a role name").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_privileged_data_permission_operation_through_the_gateway_shows_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let mapping = dev_connection(&stack).await.rights;
    let role = |right: &str| Some(mapping.secret_role(right).expect("the dev connection maps the right").as_str());
    let secret = only_id(&scim, "PrivilegedData", r#"name eq "web02 deploy""#).await;
    let helpdesk = only_id(&scim, "Groups", r#"displayName eq "Helpdesk""#).await;
    assert_eq!(ss_secret_role(&stack, &secret, &helpdesk).await, None, "Helpdesk starts without a permission");

    // POST
    let created = expect(
        scim.post(
            "/PrivilegedDataPermissions",
            &json!({
                "schemas": [PRIVILEGED_DATA_PERMISSION],
                "privilegedData": {"value": secret},
                "group": {"value": helpdesk},
                "rights": ["List"]
            }),
        ),
        201,
        "POST /PrivilegedDataPermissions",
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(rights(&created), ["List"]);
    assert_eq!(ss_secret_role(&stack, &secret, &helpdesk).await.as_deref(), role("List"));
    let ss = ss_record(&stack, &format!("/secret-permissions/{id}")).await;
    assert_eq!((&ss["secretId"], &ss["groupId"]), (&json!(int(&secret)), &json!(int(&helpdesk))));

    // PATCH: SailPoint's Add, then its Remove.
    let added = expect(
        scim.patch(
            &format!("/PrivilegedDataPermissions/{id}"),
            &json!([{"op": "add", "path": "rights", "value": ["View"]}]),
        ),
        200,
        "PATCH add a right",
    )
    .await;
    assert_eq!(rights(&added), ["List", "View"]);
    assert_eq!(ss_secret_role(&stack, &secret, &helpdesk).await.as_deref(), role("View"));
    let removed = expect(
        scim.patch(
            &format!("/PrivilegedDataPermissions/{id}"),
            &json!([{"op": "remove", "path": "rights[value eq \"View\"]"}]),
        ),
        200,
        "PATCH remove a right",
    )
    .await;
    assert_eq!(rights(&removed), ["List"]);
    assert_eq!(ss_secret_role(&stack, &secret, &helpdesk).await.as_deref(), role("List"));

    // DELETE
    let before = ss_records(&stack, &format!("/secret-permissions?filter.secretId={secret}&take=1000")).await.len();
    expect(scim.delete(&format!("/PrivilegedDataPermissions/{id}")), 204, "DELETE the permission").await;
    assert_eq!(ss_secret_role(&stack, &secret, &helpdesk).await, None);
    let after = ss_records(&stack, &format!("/secret-permissions?filter.secretId={secret}&take=1000")).await.len();
    assert_eq!(after, before - 1, "only Helpdesk's permission went");
    expect(scim.get(&format!("/PrivilegedDataPermissions/{id}")), 404, "GET the deleted permission").await;

    stack.shutdown().await;
}
