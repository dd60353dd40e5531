//! Every client method decodes what the published API allows Secret Server to answer: a scripted
//! vault answers each request with a sample of the operation's `200` schema (every nullable
//! property `null`; every property with a value; no property at all), and the call must succeed,
//! carrying the values it was sent.

use crate::drive::{BASE_PATH, OPERATIONS_THE_CLIENT_USES};
use futures::TryStreamExt;
use futures::future::BoxFuture;
use secrecy::SecretString;
use secret_server_api::{
    FolderCreateArgs, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, FolderUpdateArgs, GroupCreateArgs,
    GroupPatchArgs, SecretPermissionCreateArgs, SecretPermissionUpdateArgs, UserCreateArgs, UserPatchArgs,
    UserUpdateArgs,
};
use secret_server_client::{
    ClientConfig, ClientError, FolderPermissionQuery, FolderQuery, GroupQuery, RetryPolicy, RoleQuery,
    SecretPermissionQuery, SecretQuery, SecretServerClient, UserQuery,
};
use secret_server_contract::{Fill, ScriptedVault, Spec, sample};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

type Decoded = Result<Value, ClientError>;
type Call = fn(SecretServerClient) -> BoxFuture<'static, Decoded>;

fn json<T: Serialize>(result: Result<T, ClientError>) -> Decoded {
    result.map(|v| serde_json::to_value(v).expect("the client's types serialize"))
}

async fn all<T: Serialize>(stream: futures::stream::BoxStream<'static, Result<T, ClientError>>) -> Decoded {
    json(stream.try_collect::<Vec<T>>().await)
}

/// One client method: a label, the operation it calls, whether it streams (its result is then the
/// `records` of the answer), and the call.
struct Case {
    label: &'static str,
    operation: &'static str,
    streams: bool,
    call: Call,
}

const fn case(label: &'static str, operation: &'static str, streams: bool, call: Call) -> Case {
    Case { label, operation, streams, call }
}

/// Every public method of the client (a new one belongs here and in `drive`).
fn cases() -> Vec<Case> {
    vec![
        case("healthcheck", "GET /v1/healthcheck", false, |c| Box::pin(async move { json(c.healthcheck().await) })),
        case("current_user", "GET /v1/users/current", false, |c| Box::pin(async move { json(c.current_user().await) })),
        case("users_page", "GET /v1/users", false, |c| {
            Box::pin(async move { json(c.users_page(&UserQuery::everyone(), 0, 10).await) })
        }),
        case("search_users", "GET /v1/users", true, |c| {
            Box::pin(async move { all(c.search_users(&UserQuery::everyone())).await })
        }),
        case("get_user", "GET /v1/users/{id}", false, |c| Box::pin(async move { json(c.get_user(7).await) })),
        case("create_user", "POST /v1/users", false, |c| {
            Box::pin(async move {
                json(c.create_user(&UserCreateArgs { user_name: "u".into(), ..Default::default() }).await)
            })
        }),
        case("update_user", "PUT /v1/users/{id}", false, |c| {
            Box::pin(async move { json(c.update_user(&UserUpdateArgs { id: 7, ..Default::default() }).await) })
        }),
        case("patch_user", "PATCH /v1/users/{id}", false, |c| {
            Box::pin(async move { json(c.patch_user(7, &UserPatchArgs::default()).await) })
        }),
        case("set_user_enabled", "PATCH /v1/users/{id}", false, |c| {
            Box::pin(async move { json(c.set_user_enabled(7, false).await) })
        }),
        case("delete_user", "DELETE /v1/users/{id}", false, |c| Box::pin(async move { json(c.delete_user(7).await) })),
        case("roles_page", "GET /v1/roles", false, |c| {
            Box::pin(async move { json(c.roles_page(&RoleQuery::default(), 0, 5).await) })
        }),
        case("search_roles", "GET /v1/roles", true, |c| {
            Box::pin(async move { all(c.search_roles(&RoleQuery::default())).await })
        }),
        case("get_role", "GET /v1/roles/{id}", false, |c| Box::pin(async move { json(c.get_role(2).await) })),
        case("role_groups", "GET /v1/roles/{id}/groups", true, |c| {
            Box::pin(async move { all(c.role_groups(2)).await })
        }),
        case("user_roles", "GET /v1/users/{id}/roles", true, |c| Box::pin(async move { all(c.user_roles(7)).await })),
        case("user_roles_assigned", "GET /v1/users/{userId}/roles-assigned", true, |c| {
            Box::pin(async move { all(c.user_roles_assigned(7)).await })
        }),
        case("add_user_roles", "POST /v1/users/{id}/roles", false, |c| {
            Box::pin(async move { json(c.add_user_roles(7, &[2]).await) })
        }),
        case("replace_user_roles", "PUT /v1/users/{id}/roles", false, |c| {
            Box::pin(async move { json(c.replace_user_roles(7, &[2]).await) })
        }),
        case("remove_user_roles", "DELETE /v1/users/{id}/roles", false, |c| {
            Box::pin(async move { json(c.remove_user_roles(7, &[2]).await) })
        }),
        case("group_roles", "GET /v1/groups/{id}/roles", true, |c| {
            Box::pin(async move { all(c.group_roles(7)).await })
        }),
        case("add_group_roles", "POST /v1/groups/{id}/roles", false, |c| {
            Box::pin(async move { json(c.add_group_roles(7, &[2]).await) })
        }),
        case("replace_group_roles", "PUT /v2/groups/{id}/roles", false, |c| {
            Box::pin(async move { json(c.replace_group_roles(7, &[2]).await) })
        }),
        case("remove_group_roles", "DELETE /v1/groups/{id}/roles", false, |c| {
            Box::pin(async move { json(c.remove_group_roles(7, &[2]).await) })
        }),
        case("user_groups", "GET /v1/users/{id}/groups", true, |c| {
            Box::pin(async move { all(c.user_groups(7)).await })
        }),
        case("groups_page", "GET /v1/groups", false, |c| {
            Box::pin(async move { json(c.groups_page(&GroupQuery::everyone(), 0, 10).await) })
        }),
        case("search_groups", "GET /v1/groups", true, |c| {
            Box::pin(async move { all(c.search_groups(&GroupQuery::everyone())).await })
        }),
        case("get_group", "GET /v1/groups/{id}", false, |c| Box::pin(async move { json(c.get_group(7).await) })),
        case("create_group", "POST /v1/groups", false, |c| {
            Box::pin(
                async move { json(c.create_group(&GroupCreateArgs { name: "g".into(), ..Default::default() }).await) },
            )
        }),
        case("patch_group", "PATCH /v1/groups/{id}", false, |c| {
            Box::pin(async move { json(c.patch_group(7, &GroupPatchArgs::rename("G")).await) })
        }),
        case("delete_group", "DELETE /v1/groups/{id}", false, |c| {
            Box::pin(async move { json(c.delete_group(7).await) })
        }),
        case("group_members_page", "GET /v1/groups/{id}/users", false, |c| {
            Box::pin(async move { json(c.group_members_page(7, 0, 10).await) })
        }),
        case("group_members", "GET /v1/groups/{id}/users", true, |c| {
            Box::pin(async move { all(c.group_members(7)).await })
        }),
        case("add_group_member", "POST /v1/groups/{id}/users", false, |c| {
            Box::pin(async move { json(c.add_group_member(7, 8).await) })
        }),
        case("replace_group_members", "PUT /v1/groups/{id}/users", false, |c| {
            Box::pin(async move { json(c.replace_group_members(7, &[8]).await) })
        }),
        case("patch_group_members", "PATCH /v1/groups/{id}/users", false, |c| {
            Box::pin(async move { json(c.patch_group_members(7, &[8], &[9]).await) })
        }),
        case("remove_group_member", "DELETE /v1/groups/{id}/users/{userId}", false, |c| {
            Box::pin(async move { json(c.remove_group_member(7, 8).await) })
        }),
        case("folders_page", "GET /v1/folders", false, |c| {
            Box::pin(async move { json(c.folders_page(&FolderQuery::default(), 0, 10).await) })
        }),
        case("search_folders", "GET /v1/folders", true, |c| {
            Box::pin(async move { all(c.search_folders(&FolderQuery::default())).await })
        }),
        case("get_folder", "GET /v1/folders/{id}", false, |c| Box::pin(async move { json(c.get_folder(7).await) })),
        case("create_folder", "POST /v1/folders", false, |c| {
            Box::pin(async move {
                json(c.create_folder(&FolderCreateArgs { folder_name: "f".into(), ..Default::default() }).await)
            })
        }),
        case("update_folder", "PUT /v1/folders/{id}", false, |c| {
            Box::pin(async move {
                json(c.update_folder(&FolderUpdateArgs { id: 7, folder_type_id: 1, ..Default::default() }).await)
            })
        }),
        case("delete_folder", "DELETE /v1/folders/{id}", false, |c| {
            Box::pin(async move { json(c.delete_folder(7).await) })
        }),
        case("folder_permissions_page", "GET /v1/folder-permissions", false, |c| {
            Box::pin(async move { json(c.folder_permissions_page(&FolderPermissionQuery::folder(7), 0, 10).await) })
        }),
        case("search_folder_permissions", "GET /v1/folder-permissions", true, |c| {
            Box::pin(async move { all(c.search_folder_permissions(&FolderPermissionQuery::folder(7))).await })
        }),
        case("get_folder_permission", "GET /v1/folder-permissions/{id}", false, |c| {
            Box::pin(async move { json(c.get_folder_permission(7).await) })
        }),
        case("create_folder_permission", "POST /v1/folder-permissions", false, |c| {
            Box::pin(async move {
                let args = FolderPermissionCreateArgs { folder_id: 7, group_id: Some(8), ..Default::default() };
                json(c.create_folder_permission(&args).await)
            })
        }),
        case("update_folder_permission", "PUT /v1/folder-permissions/{id}", false, |c| {
            Box::pin(async move {
                json(
                    c.update_folder_permission(&FolderPermissionUpdateArgs {
                        id: 7,
                        folder_id: 7,
                        ..Default::default()
                    })
                    .await,
                )
            })
        }),
        case("delete_folder_permission", "DELETE /v1/folder-permissions/{id}", false, |c| {
            Box::pin(async move { json(c.delete_folder_permission(7).await) })
        }),
        case("secrets_page", "GET /v2/secrets", false, |c| {
            Box::pin(async move { json(c.secrets_page(&SecretQuery::default(), 0, 10).await) })
        }),
        case("search_secrets", "GET /v2/secrets", true, |c| {
            Box::pin(async move { all(c.search_secrets(&SecretQuery::default())).await })
        }),
        case("lookup_secrets", "GET /v1/secrets/lookup", true, |c| {
            Box::pin(async move { all(c.lookup_secrets(&SecretQuery::default())).await })
        }),
        case("secret_summary", "GET /v1/secrets/{id}/summary", false, |c| {
            Box::pin(async move { json(c.secret_summary(7).await) })
        }),
        case("move_secret", "PATCH /v1/secrets/{id}/general", false, |c| {
            Box::pin(async move { json(c.move_secret(7, 8).await) })
        }),
        case("secret_permissions_page", "GET /v1/secret-permissions", false, |c| {
            Box::pin(async move { json(c.secret_permissions_page(&SecretPermissionQuery::secret(7), 0, 10).await) })
        }),
        case("search_secret_permissions", "GET /v1/secret-permissions", true, |c| {
            Box::pin(async move { all(c.search_secret_permissions(&SecretPermissionQuery::secret(7))).await })
        }),
        case("get_secret_permission", "GET /v1/secret-permissions/{id}", false, |c| {
            Box::pin(async move { json(c.get_secret_permission(7).await) })
        }),
        case("create_secret_permission", "POST /v1/secret-permissions", false, |c| {
            Box::pin(async move {
                json(
                    c.create_secret_permission(&SecretPermissionCreateArgs {
                        secret_id: 7,
                        group_id: Some(8),
                        ..Default::default()
                    })
                    .await,
                )
            })
        }),
        case("update_secret_permission", "PUT /v1/secret-permissions/{id}", false, |c| {
            Box::pin(async move {
                json(
                    c.update_secret_permission(&SecretPermissionUpdateArgs {
                        id: 7,
                        secret_id: 7,
                        ..Default::default()
                    })
                    .await,
                )
            })
        }),
        case("delete_secret_permission", "DELETE /v1/secret-permissions/{id}", false, |c| {
            Box::pin(async move { json(c.delete_secret_permission(7).await) })
        }),
    ]
}

/// The sample the vault answers `operation` with: paged answers have no next page, so that a
/// streamed search stops.
fn answer(spec: &Spec, operation: &str, fill: Fill) -> Value {
    let op = spec.operations().iter().find(|op| op.name() == operation).unwrap_or_else(|| panic!("{operation}"));
    let schema = op.raw_response_schema(200).unwrap_or_else(|| panic!("{operation} declares no 200 body"));
    let mut value = sample(spec.document(), schema, fill);
    if let Some(has_next) = value.get_mut("hasNext") {
        *has_next = Value::Bool(false);
    }
    value
}

async fn vault_answering(spec: Arc<Spec>, fill: Fill) -> (ScriptedVault, SecretServerClient) {
    let vault = ScriptedVault::start(move |asked| {
        let path = asked.path.strip_prefix(BASE_PATH).unwrap_or(&asked.path);
        match spec.find(&asked.method, path) {
            Ok(op) => (200, answer(&spec, &op.name(), fill)),
            Err(problem) => (404, serde_json::json!({ "message": problem })),
        }
    })
    .await
    .expect("the scripted vault starts");
    let mut config =
        ClientConfig::new(vault.base_url().parse().expect("URL"), "api", SecretString::from("pw")).allowing_http();
    config.retry = RetryPolicy::none();
    (vault, SecretServerClient::new(config).expect("the client builds"))
}

/// Where `decoded` does not carry what `sent` said (a property of the client's type whose value
/// differs from the one sent under the same name).
fn differences(decoded: &Value, sent: &Value, at: &str, out: &mut Vec<String>) {
    match (decoded, sent) {
        (_, Value::Null) => {}
        (Value::Object(d), Value::Object(s)) => {
            for (key, value) in d {
                if let Some(sent) = s.get(key) {
                    differences(value, sent, &format!("{at}.{key}"), out);
                }
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            for (n, (value, sent)) in d.iter().zip(s).enumerate() {
                differences(value, sent, &format!("{at}[{n}]"), out);
            }
        }
        (d, s) if d != s => out.push(format!("{at}: sent {s}, decoded {d}")),
        _ => {}
    }
}

async fn every_method_decodes(fill: Fill) {
    let spec = Arc::new(Spec::published());
    let (vault, client) = vault_answering(Arc::clone(&spec), fill).await;
    let mut failures = Vec::new();
    for case in cases() {
        match (case.call)(client.clone()).await {
            Err(e) => failures.push(format!("{} ({}): {e}", case.label, case.operation)),
            Ok(decoded) if fill == Fill::Values => {
                let sent = answer(&spec, case.operation, fill);
                let sent = if case.streams { sent["records"].clone() } else { sent };
                let mut diffs = Vec::new();
                differences(&decoded, &sent, "", &mut diffs);
                failures.extend(diffs.into_iter().map(|d| format!("{} ({}): {d}", case.label, case.operation)));
            }
            Ok(_) => {}
        }
    }
    vault.stop().await;
    assert!(failures.is_empty(), "{fill:?}:\n  {}", failures.join("\n  "));
}

#[tokio::test]
async fn every_client_method_decodes_answers_with_every_nullable_property_null() {
    every_method_decodes(Fill::NullWhereNullable).await;
}

#[tokio::test]
async fn every_client_method_decodes_answers_with_every_property_and_keeps_their_values() {
    every_method_decodes(Fill::Values).await;
}

#[tokio::test]
async fn every_client_method_decodes_answers_without_any_property() {
    every_method_decodes(Fill::Empty).await;
}

#[test]
fn the_decoding_cases_cover_every_operation_the_client_uses() {
    let covered: BTreeSet<&str> = cases().iter().map(|c| c.operation).collect();
    let used: BTreeSet<&str> = OPERATIONS_THE_CLIENT_USES.iter().copied().collect();
    assert_eq!(covered, used);
}

#[tokio::test]
async fn the_health_check_is_read_in_either_casing() {
    for body in [
        serde_json::json!({ "healthy": true, "databaseHealthy": true, "serviceBusHealthy": null }),
        serde_json::json!({ "Healthy": true, "DatabaseHealthy": true, "ServiceBusHealthy": null }),
    ] {
        let vault = ScriptedVault::start(move |_| (200, body.clone())).await.expect("the scripted vault starts");
        let config =
            ClientConfig::new(vault.base_url().parse().expect("URL"), "api", SecretString::from("pw")).allowing_http();
        let health = SecretServerClient::new(config).expect("client").healthcheck().await.expect("decodes");
        assert!(health.healthy, "{health:?}");
        assert_eq!((health.database_healthy, health.service_bus_healthy), (Some(true), None));
        vault.stop().await;
    }
}
