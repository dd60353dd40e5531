//! Roles, read only: the roles, one role, the groups that hold a role, and a user's or a group's
//! roles, with how a user holds each (directly or through which groups).

use crate::helpers::Harness;
use futures::TryStreamExt;
use secret_server_api::{ADMINISTRATOR_ROLE, GroupAssignedRole, Role, RoleGroupSummary, RoleSummary, UserRoleSummary};
use secret_server_client::{ClientError, RoleQuery, UserQuery};
use secret_server_sim::{Seed, SimConfig};

/// The emulator with a group that holds the Administrator role and a user in it.
async fn with_an_administrators_group() -> (Harness, tempfile::NamedTempFile) {
    let seed = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        seed.path(),
        r#"{"users": [{"userName": "vera"}, {"userName": "walt"}],
            "groups": [{"name": "Vault Admins", "members": ["vera"], "roles": ["Administrator"]}]}"#,
    )
    .unwrap();
    let config = SimConfig { seed: Seed::File(seed.path().to_owned()), ..SimConfig::for_tests() };
    (Harness::with(config, |_| {}).await, seed)
}

async fn user_id(h: &Harness, name: &str) -> i64 {
    let users: Vec<_> = h.client.search_users(&UserQuery::text(name)).try_collect().await.unwrap();
    users.into_iter().find(|u| u.user_name == name).unwrap().id
}

#[tokio::test]
async fn search_roles_lists_the_built_in_roles_and_filters_by_holder() {
    let (h, _seed) = with_an_administrators_group().await;
    let roles: Vec<Role> = h.client.search_roles(&RoleQuery::default()).try_collect().await.unwrap();
    let administrator = roles.iter().find(|r| r.name == ADMINISTRATOR_ROLE).expect("the Administrator role");
    assert!(administrator.enabled && administrator.is_system);
    assert_eq!(h.client.get_role(administrator.id).await.unwrap().name, ADMINISTRATOR_ROLE);

    let vera = user_id(&h, "vera").await;
    let held: Vec<Role> =
        h.client.search_roles(&RoleQuery { user_id: Some(vera), ..RoleQuery::default() }).try_collect().await.unwrap();
    assert_eq!(held.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), [ADMINISTRATOR_ROLE]);
    let walt = user_id(&h, "walt").await;
    let none: Vec<Role> =
        h.client.search_roles(&RoleQuery { user_id: Some(walt), ..RoleQuery::default() }).try_collect().await.unwrap();
    assert!(none.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_role_s_groups_and_a_user_s_assigned_roles_name_who_grants_it() {
    let (h, _seed) = with_an_administrators_group().await;
    let holders: Vec<RoleGroupSummary> = h.client.role_groups(1).try_collect().await.unwrap();
    let (personal, groups): (Vec<RoleGroupSummary>, Vec<RoleGroupSummary>) =
        holders.into_iter().partition(|g| g.personal);
    assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["Vault Admins"]);
    // A user holding the role directly is listed as its personal group, named after it.
    assert_eq!(personal.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), [h.sim.api_username()]);
    let group_id = groups[0].group_id;
    let group_roles: Vec<RoleSummary> = h.client.group_roles(group_id).try_collect().await.unwrap();
    assert_eq!(group_roles, [RoleSummary { role_id: 1, name: ADMINISTRATOR_ROLE.to_owned() }]);

    let vera = user_id(&h, "vera").await;
    let assigned: Vec<UserRoleSummary> = h.client.user_roles_assigned(vera).try_collect().await.unwrap();
    assert_eq!(assigned.len(), 1);
    assert!(!assigned[0].is_direct_assignment);
    assert_eq!(assigned[0].groups, [GroupAssignedRole { group_id, group_name: "Vault Admins".to_owned() }]);

    let api = user_id(&h, h.sim.api_username()).await;
    let direct: Vec<UserRoleSummary> = h.client.user_roles_assigned(api).try_collect().await.unwrap();
    assert!(direct[0].is_direct_assignment && direct[0].groups.is_empty());
    let roles: Vec<RoleSummary> = h.client.user_roles(api).try_collect().await.unwrap();
    assert_eq!(roles[0].name, ADMINISTRATOR_ROLE);
    h.finish().await;
}

#[tokio::test]
async fn an_unknown_role_is_not_found() {
    let h = Harness::demo().await;
    assert!(matches!(h.client.get_role(999).await, Err(ClientError::NotFound { .. })), "an unknown role id");
    h.finish().await;
}
