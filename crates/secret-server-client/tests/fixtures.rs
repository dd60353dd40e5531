//! The documented Secret Server payloads (see the reference notes: Postman
//! collection generated from the Swagger, PowerShell classes) deserialize into
//! the wire model, with the fields newer versions add tolerated and ignored.

use secret_server_api::{
    BadRequestBody, CurrentUser, DeleteResult, ErrorBody, Folder, FolderAccessRole, FolderPermission, Group,
    GroupMembership, GroupSummary, HealthCheck, InternalErrorBody, Lookup, PagedResult, SecretAccessRole,
    SecretPermission, SecretSummary, SuccessResult, TokenErrorBody, TokenResponse, User, UserSummary,
};
use serde::de::DeserializeOwned;

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} does not deserialize: {e}"))
}

#[test]
fn user_model_with_newer_fields_deserializes() {
    let user: User = fixture("user.json");
    assert_eq!((user.id, user.user_name.as_str(), user.domain_id), (42, "bjensen", -1));
    assert_eq!(user.email_address.as_deref(), Some("bjensen@example.com"));
    assert!(user.enabled && !user.is_locked_out);
    assert_eq!(user.created.as_deref(), Some("2026-01-02T03:04:05Z"));
    assert_eq!(user.unix_authentication_method.as_deref(), Some("Password"));
}

#[test]
fn user_summary_page_keeps_the_paging_envelope() {
    let page: PagedResult<UserSummary> = fixture("user-summary-page.json");
    assert_eq!((page.total, page.skip, page.take, page.next_skip), (2002, 1000, 1000, 2000));
    assert!(page.has_next && page.has_prev && page.success);
    assert_eq!((page.current_page, page.page_count, page.batch_count), (2, 3, 3));
    assert_eq!(page.sort_by[0].name, "userName");
    assert_eq!(page.severity, "None");
    assert_eq!(page.records.len(), 2);
    let inactive = &page.records[1];
    assert!(!inactive.enabled && inactive.is_locked_out);
    assert_eq!(inactive.domain_name.as_deref(), Some("CORP"));
    assert_eq!(inactive.email_address, None);
}

#[test]
fn group_model_with_owners_deserializes() {
    let group: Group = fixture("group.json");
    assert_eq!((group.id, group.name.as_str()), (7, "Vault Admins"));
    assert!(group.enabled && group.is_editable && group.can_edit_members && group.has_group_owners);
    assert!(!group.system_group && !group.synchronized);
}

#[test]
fn group_summary_page_carries_member_counts() {
    let page: PagedResult<GroupSummary> = fixture("group-summary-page.json");
    assert_eq!(page.records[0].member_count, 12);
    assert!(!page.has_next);
}

#[test]
fn membership_records_and_the_add_member_answer_share_one_model() {
    let page: PagedResult<GroupMembership> = fixture("group-membership-page.json");
    let m = &page.records[0];
    assert_eq!((m.group_id, m.user_id, m.user_name.as_str()), (7, 42, "bjensen"));
    assert_eq!(m.display_name.as_deref(), Some("Barbara Jensen"));
    // The POST answer has six fields; the rest default.
    let added: GroupMembership = fixture("group-membership-added.json");
    assert_eq!((added.group_id, added.user_id, added.display_name), (7, 42, None));
}

#[test]
fn folder_with_children_and_templates_deserializes() {
    let folder: Folder = fixture("folder.json");
    assert_eq!(folder.folder_path, r"\Infrastructure\Databases");
    assert_eq!((folder.parent_folder_id, folder.folder_type_id, folder.secret_policy_id), (3, 1, Some(-1)));
    assert!(!folder.inherit_permissions && folder.inherit_secret_policy);
    let children = folder.child_folders.unwrap();
    assert_eq!((children[0].id, children[0].parent_folder_id), (13, 12));
    assert!(children[0].inherit_permissions);
}

#[test]
fn folder_permission_search_records_carry_every_field_and_role_names_parse() {
    let page: PagedResult<FolderPermission> = fixture("folder-permission-summary-page.json");
    let (group, user) = (&page.records[0], &page.records[1]);
    assert_eq!((group.id, group.folder_id, group.group_id, group.user_id), (501, 12, Some(7), None));
    assert_eq!((user.user_id, user.user_name.as_deref()), (Some(42), Some("bjensen")));
    assert_eq!(user.folder_access_role_name.parse::<FolderAccessRole>(), Ok(FolderAccessRole::AddSecret));
    assert_eq!(user.secret_access_role_name.parse::<SecretAccessRole>(), Ok(SecretAccessRole::List));
    assert_eq!(user.domain_name.as_deref(), Some("local"));
}

#[test]
fn folder_permission_short_shape_is_accepted_with_missing_ids_as_zero() {
    let short: FolderPermission = fixture("folder-permission-short.json");
    assert_eq!((short.id, short.folder_id), (0, 0));
    assert_eq!((short.group_id, short.folder_access_role_id, short.secret_access_role_id), (Some(7), 1, 2));
    assert_eq!(short.folder_access_role_name, "View");
}

#[test]
fn folder_permission_full_shape_is_accepted() {
    let full: FolderPermission = fixture("folder-permission-full.json");
    assert_eq!((full.id, full.folder_id, full.user_id, full.group_id), (503, 12, Some(42), None));
    assert_eq!(full.secret_access_role_name.parse::<SecretAccessRole>(), Ok(SecretAccessRole::Edit));
}

#[test]
fn secret_summary_deserializes_and_drops_extended_fields() {
    let secret: SecretSummary = fixture("secret-summary.json");
    assert_eq!((secret.id, secret.folder_id, secret.secret_template_id), (9001, 12, 6001));
    assert!(secret.active && secret.inherits_permissions && !secret.is_restricted);
    assert_eq!(secret.days_until_expiration, Some(30));
    // The model has no place for field values: serializing it back loses them.
    let back = serde_json::to_string(&secret).unwrap();
    assert!(!back.contains("extendedFields") && !back.contains("\"sa\""), "{back}");
}

#[test]
fn secret_lookup_page_deserializes() {
    let page: PagedResult<Lookup> = fixture("secret-lookup-page.json");
    assert_eq!(page.records.iter().map(|l| l.id).collect::<Vec<_>>(), [9001, 9002]);
    assert_eq!(page.records[0].value, "prod-db sa");
}

#[test]
fn secret_permission_deserializes() {
    let p: SecretPermission = fixture("secret-permission.json");
    assert_eq!((p.id, p.secret_id, p.user_id, p.group_id), (801, 9001, Some(42), None));
    assert_eq!((p.secret_access_role_id, p.secret_access_role_name.as_str()), (2, "View"));
}

#[test]
fn error_bodies_deserialize() {
    let inherited: BadRequestBody = fixture("error-400.json");
    assert_eq!(inherited.error_code.as_deref(), Some(secret_server_api::PERMISSIONS_ARE_INHERITED));
    assert_eq!(inherited.model_state, None);
    let invalid: BadRequestBody = fixture("error-400-model-state.json");
    let state = invalid.model_state.unwrap();
    assert!(state["args.Password"][0].as_str().unwrap().contains("password policy"));
    let not_found: BadRequestBody = fixture("error-400-not-found.json");
    assert_eq!(not_found.error_code.as_deref(), Some("API_UserNotFound"));
    let denied: ErrorBody = fixture("error-403.json");
    assert_eq!(denied.message, "Authentication failed.");
    let internal: InternalErrorBody = fixture("error-500.json");
    assert_eq!(internal.exception_type.as_deref(), Some("System.NullReferenceException"));
}

#[test]
fn token_response_accepts_expires_in_as_int_and_as_string() {
    let int: TokenResponse = fixture("token-int.json");
    assert_eq!((int.expires_in, int.token_type.as_str()), (1199, "bearer"));
    assert!(int.refresh_token.is_some());
    let string: TokenResponse = fixture("token-string.json");
    assert_eq!((string.expires_in, string.refresh_token), (1199, None));
    // Neither token shows in debug output.
    assert!(!format!("{int:?}").contains("AgJf5Xb") && !format!("{int:?}").contains("AgKn"));
}

#[test]
fn token_error_bodies_deserialize_in_both_shapes() {
    let message: TokenErrorBody = fixture("token-error-message.json");
    assert_eq!(message.message.as_deref(), Some("Login failed."));
    let oauth: TokenErrorBody = fixture("token-error-oauth.json");
    assert_eq!(oauth.error.as_deref(), Some("invalid_grant"));
    assert!(oauth.error_description.unwrap().contains("incorrect"));
}

#[test]
fn delete_and_success_results_deserialize() {
    let deleted: DeleteResult = fixture("delete-result.json");
    assert_eq!((deleted.id, deleted.object_type.as_str()), (42, "User"));
    let ok: SuccessResult = fixture("success-result.json");
    assert!(ok.success);
    let refused: SuccessResult = serde_json::from_str(r#"{"success":false}"#).unwrap();
    assert!(!refused.success);
    let silent: SuccessResult = serde_json::from_str("{}").unwrap();
    assert!(silent.success, "an answer without `success` states no failure");
}

#[test]
fn healthcheck_and_current_user_deserialize() {
    let health: HealthCheck = fixture("healthcheck.json");
    assert!(health.healthy && health.database_healthy == Some(true) && health.scheduled_for_deletion == Some(false));
    let me: CurrentUser = fixture("current-user.json");
    assert_eq!(me.user_name, "scim-api");
    assert!(me.permissions.iter().any(|p| p.name == "Administer Users"));
}
