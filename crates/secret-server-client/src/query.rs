//! The search filters the client sends (`filter.*`), as typed structs.
//!
//! Query keys are `&'static str` written in this file only, so a caller can
//! set values but never add a key of its own.

/// Query-string pairs of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QueryPairs(Vec<(&'static str, String)>);

impl QueryPairs {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, key: &'static str, value: impl ToString) -> &mut Self {
        self.0.push((key, value.to_string()));
        self
    }

    fn optional(&mut self, key: &'static str, value: Option<impl ToString>) -> &mut Self {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }

    /// Sends `key=true` only when set: `false` is every filter's default.
    fn flag(&mut self, key: &'static str, value: bool) -> &mut Self {
        if value {
            self.push(key, "true");
        }
        self
    }

    /// `skip` and `take` of one page.
    pub(crate) fn page(mut self, skip: i64, take: i64) -> Self {
        self.push("skip", skip).push("take", take);
        self
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// The filters of a search, as query pairs.
pub(crate) trait ToQuery {
    fn to_query(&self) -> QueryPairs;
}

/// `GET /users` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Matched by Secret Server against the user name, display name and email.
    pub search_text: Option<String>,
    /// Also return disabled (deleted) users.
    pub include_inactive: bool,
    pub domain_id: Option<i64>,
}

impl UserQuery {
    /// Every user, active or not.
    pub fn everyone() -> Self {
        Self { include_inactive: true, ..Self::default() }
    }

    /// Users matching `text`, active or not.
    pub fn text(text: impl Into<String>) -> Self {
        Self { search_text: Some(text.into()), include_inactive: true, domain_id: None }
    }
}

impl ToQuery for UserQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.searchText", self.search_text.as_deref())
            .flag("filter.includeInactive", self.include_inactive)
            .optional("filter.domainId", self.domain_id);
        q
    }
}

/// `GET /roles` filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleQuery {
    /// Only the roles this user holds.
    pub user_id: Option<i64>,
    /// Only the roles this group holds.
    pub group_id: Option<i64>,
    /// Also return disabled roles.
    pub include_inactive: bool,
}

impl ToQuery for RoleQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.userId", self.user_id)
            .optional("filter.groupId", self.group_id)
            .flag("filter.includeInactive", self.include_inactive);
        q
    }
}

/// `GET /groups` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupQuery {
    pub search_text: Option<String>,
    /// Also return disabled groups.
    pub include_inactive: bool,
    pub domain_id: Option<i64>,
}

impl GroupQuery {
    /// Every group, enabled or not.
    pub fn everyone() -> Self {
        Self { include_inactive: true, ..Self::default() }
    }

    /// Groups matching `text`, enabled or not.
    pub fn text(text: impl Into<String>) -> Self {
        Self { search_text: Some(text.into()), include_inactive: true, domain_id: None }
    }
}

impl ToQuery for GroupQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.searchText", self.search_text.as_deref())
            .flag("filter.includeInactive", self.include_inactive)
            .optional("filter.domainId", self.domain_id);
        q
    }
}

/// `GET /groups/{id}/users` filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemberQuery {
    pub(crate) include_inactive_users: bool,
}

impl ToQuery for MemberQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.flag("filter.includeInactiveUsersForGroup", self.include_inactive_users);
        q
    }
}

/// `GET /folders` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderQuery {
    /// Only the direct children of this folder (`-1`: the root).
    pub parent_folder_id: Option<i64>,
    pub search_text: Option<String>,
}

impl FolderQuery {
    /// The children of `parent` (`secret_server_api::ROOT_FOLDER_ID` for the root's).
    pub fn children_of(parent: i64) -> Self {
        Self { parent_folder_id: Some(parent), search_text: None }
    }

    /// Folders whose name matches `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Self { parent_folder_id: None, search_text: Some(text.into()) }
    }
}

impl ToQuery for FolderQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.parentFolderId", self.parent_folder_id)
            .optional("filter.searchText", self.search_text.as_deref());
        q
    }
}

/// `GET /folder-permissions` filters: by folder, user or group, or a
/// combination (a folder and a user finds that user's permission on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderPermissionQuery {
    pub folder_id: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
}

impl FolderPermissionQuery {
    pub fn folder(folder_id: i64) -> Self {
        Self { folder_id: Some(folder_id), ..Self::default() }
    }

    pub fn user(user_id: i64) -> Self {
        Self { user_id: Some(user_id), ..Self::default() }
    }

    pub fn group(group_id: i64) -> Self {
        Self { group_id: Some(group_id), ..Self::default() }
    }
}

impl ToQuery for FolderPermissionQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.folderId", self.folder_id)
            .optional("filter.userId", self.user_id)
            .optional("filter.groupId", self.group_id);
        q
    }
}

/// `GET /secrets` and `GET /secrets/lookup` filters: metadata only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretQuery {
    pub folder_id: Option<i64>,
    pub search_text: Option<String>,
    pub include_inactive: bool,
    /// With `folder_id`: also the secrets of its subfolders.
    pub include_sub_folders: bool,
}

impl SecretQuery {
    /// The secrets of one folder.
    pub fn in_folder(folder_id: i64) -> Self {
        Self { folder_id: Some(folder_id), ..Self::default() }
    }

    /// Secrets whose name matches `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Self { search_text: Some(text.into()), ..Self::default() }
    }
}

impl ToQuery for SecretQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.folderId", self.folder_id)
            .optional("filter.searchText", self.search_text.as_deref())
            .flag("filter.includeInactive", self.include_inactive)
            .flag("filter.includeSubFolders", self.include_sub_folders);
        q
    }
}

/// `GET /secret-permissions` filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretPermissionQuery {
    pub secret_id: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
}

impl SecretPermissionQuery {
    pub fn secret(secret_id: i64) -> Self {
        Self { secret_id: Some(secret_id), ..Self::default() }
    }

    pub fn user(user_id: i64) -> Self {
        Self { user_id: Some(user_id), ..Self::default() }
    }

    pub fn group(group_id: i64) -> Self {
        Self { group_id: Some(group_id), ..Self::default() }
    }
}

impl ToQuery for SecretPermissionQuery {
    fn to_query(&self) -> QueryPairs {
        let mut q = QueryPairs::new();
        q.optional("filter.secretId", self.secret_id)
            .optional("filter.userId", self.user_id)
            .optional("filter.groupId", self.group_id);
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(q: &QueryPairs) -> Vec<&'static str> {
        q.pairs().map(|(k, _)| k).collect()
    }

    #[test]
    fn unset_filters_are_not_sent() {
        assert!(keys(&UserQuery::default().to_query()).is_empty());
        assert!(keys(&SecretQuery::default().to_query()).is_empty());
        assert!(keys(&FolderPermissionQuery::default().to_query()).is_empty());
    }

    #[test]
    fn user_search_by_text_includes_inactive_users() {
        let q = UserQuery::text("bjensen").to_query().page(2000, 1000);
        let pairs: Vec<(&str, &str)> = q.pairs().collect();
        assert_eq!(
            pairs,
            [("filter.searchText", "bjensen"), ("filter.includeInactive", "true"), ("skip", "2000"), ("take", "1000")]
        );
    }

    #[test]
    fn folder_children_of_root_use_minus_one() {
        let q = FolderQuery::children_of(secret_server_api::ROOT_FOLDER_ID).to_query();
        assert_eq!(q.pairs().collect::<Vec<_>>(), [("filter.parentFolderId", "-1")]);
    }

    #[test]
    fn secret_query_with_every_field_set_asks_for_metadata_only() {
        let q = SecretQuery {
            folder_id: Some(3),
            search_text: Some("db".into()),
            include_inactive: true,
            include_sub_folders: true,
        }
        .to_query();
        assert_eq!(
            keys(&q),
            ["filter.folderId", "filter.searchText", "filter.includeInactive", "filter.includeSubFolders"]
        );
    }
}
