//! The closed set of Secret Server paths this client may call.
//!
//! A request can only be addressed through an [`ApiPath`], and an `ApiPath`
//! can only be built from a [`Route`] of this module with integer ids. So no
//! call can reach an endpoint that returns a secret's field values: those
//! endpoints have no `Route`, and an integer id cannot add a path segment.
//! The tests in `tests/no_secret_values.rs` read this file and check that
//! every secrets template is one of the metadata-only ones.

use std::fmt;

/// One path template of the Secret Server REST API, relative to the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    Token,
    Healthcheck,
    CurrentUser,
    Users,
    User,
    UserGroups,
    Groups,
    Group,
    GroupMembers,
    GroupMember,
    Folders,
    Folder,
    FolderPermissions,
    FolderPermission,
    Secrets,
    SecretsLookup,
    SecretSummary,
    SecretGeneral,
    SecretPermissions,
    SecretPermission,
    Roles,
    Role,
    RoleGroups,
    UserRoles,
    UserRolesAssigned,
    GroupRoles,
    GroupRolesV2,
}

impl Route {
    /// Every route, for the tests that check the set as a whole.
    #[cfg(test)]
    pub(crate) const ALL: [Route; 27] = [
        Route::Token,
        Route::Healthcheck,
        Route::CurrentUser,
        Route::Users,
        Route::User,
        Route::UserGroups,
        Route::Groups,
        Route::Group,
        Route::GroupMembers,
        Route::GroupMember,
        Route::Folders,
        Route::Folder,
        Route::FolderPermissions,
        Route::FolderPermission,
        Route::Secrets,
        Route::SecretsLookup,
        Route::SecretSummary,
        Route::SecretGeneral,
        Route::SecretPermissions,
        Route::SecretPermission,
        Route::Roles,
        Route::Role,
        Route::RoleGroups,
        Route::UserRoles,
        Route::UserRolesAssigned,
        Route::GroupRoles,
        Route::GroupRolesV2,
    ];

    /// The template, with `{…}` placeholders for integer ids, relative to the base URL.
    pub(crate) fn template(self) -> &'static str {
        match self {
            Route::Token => "oauth2/token",
            Route::Healthcheck => "api/v1/healthcheck",
            Route::CurrentUser => "api/v1/users/current",
            Route::Users => "api/v1/users",
            Route::User => "api/v1/users/{id}",
            Route::UserGroups => "api/v1/users/{id}/groups",
            Route::Groups => "api/v1/groups",
            Route::Group => "api/v1/groups/{id}",
            Route::GroupMembers => "api/v1/groups/{id}/users",
            Route::GroupMember => "api/v1/groups/{id}/users/{userId}",
            Route::Folders => "api/v1/folders",
            Route::Folder => "api/v1/folders/{id}",
            Route::FolderPermissions => "api/v1/folder-permissions",
            Route::FolderPermission => "api/v1/folder-permissions/{id}",
            // 11.x documents the search as `GET /v2/secrets`; `/v1/secrets` answers only `POST` there.
            Route::Secrets => "api/v2/secrets",
            Route::SecretsLookup => "api/v1/secrets/lookup",
            Route::SecretSummary => "api/v1/secrets/{id}/summary",
            // Written to (the folder only); its answer is read without the fields' values.
            Route::SecretGeneral => "api/v1/secrets/{id}/general",
            Route::SecretPermissions => "api/v1/secret-permissions",
            Route::SecretPermission => "api/v1/secret-permissions/{id}",
            Route::Roles => "api/v1/roles",
            Route::Role => "api/v1/roles/{id}",
            Route::RoleGroups => "api/v1/roles/{id}/groups",
            Route::UserRoles => "api/v1/users/{id}/roles",
            Route::UserRolesAssigned => "api/v1/users/{userId}/roles-assigned",
            Route::GroupRoles => "api/v1/groups/{id}/roles",
            // 11.7.2 documents replacing a group's roles only under `/v2`.
            Route::GroupRolesV2 => "api/v2/groups/{id}/roles",
        }
    }

    /// How many integer ids the template takes.
    pub(crate) fn arity(self) -> usize {
        self.template().matches('{').count()
    }
}

/// A concrete path: a [`Route`] with its ids filled in. The fields are
/// private and the only constructors take a `Route` and integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiPath {
    route: Route,
    rendered: String,
}

impl ApiPath {
    /// A route without ids (`api/v1/users`).
    pub(crate) fn fixed(route: Route) -> Self {
        Self::render(route, &[])
    }

    /// A route with one id (`api/v1/users/{id}`).
    pub(crate) fn one(route: Route, id: i64) -> Self {
        Self::render(route, &[id])
    }

    /// A route with two ids (`api/v1/groups/{id}/users/{userId}`).
    pub(crate) fn two(route: Route, id: i64, second: i64) -> Self {
        Self::render(route, &[id, second])
    }

    fn render(route: Route, ids: &[i64]) -> Self {
        // A mismatch is a programming error in this crate; the unit tests
        // render every route with its arity, so it cannot ship.
        debug_assert_eq!(route.arity(), ids.len(), "wrong number of ids for {route:?}");
        let mut rendered = String::with_capacity(route.template().len() + 8);
        let mut ids = ids.iter();
        let mut rest = route.template();
        while let Some(open) = rest.find('{') {
            rendered.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            if let Some(id) = ids.next() {
                rendered.push_str(&id.to_string());
            }
            rest = &rest[close..];
        }
        rendered.push_str(rest);
        Self { route, rendered }
    }

    /// The route this path was built from.
    pub(crate) fn route(&self) -> Route {
        self.route
    }

    /// The path relative to the base URL (`api/v1/users/42`).
    pub(crate) fn as_str(&self) -> &str {
        &self.rendered
    }
}

/// A call's name for spans and metrics: the method and the route template,
/// never the concrete URL (`GET /api/v1/users/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteName {
    pub(crate) method: &'static str,
    pub(crate) route: Route,
}

impl fmt::Display for RouteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} /{}", self.method, self.route.template())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_with_sample_ids(route: Route) -> ApiPath {
        match route.arity() {
            0 => ApiPath::fixed(route),
            1 => ApiPath::one(route, 42),
            _ => ApiPath::two(route, 42, -7),
        }
    }

    #[test]
    fn every_route_renders_without_leftover_placeholders() {
        for route in Route::ALL {
            let path = render_with_sample_ids(route);
            assert!(!path.as_str().contains(['{', '}']), "{route:?} rendered as {}", path.as_str());
            assert_eq!(path.route(), route);
        }
    }

    #[test]
    fn ids_fill_placeholders_in_order() {
        assert_eq!(ApiPath::two(Route::GroupMember, 3, 9).as_str(), "api/v1/groups/3/users/9");
        assert_eq!(ApiPath::one(Route::SecretSummary, 12).as_str(), "api/v1/secrets/12/summary");
        assert_eq!(ApiPath::fixed(Route::Users).as_str(), "api/v1/users");
    }

    #[test]
    fn no_route_reaches_a_secret_by_id_alone() {
        for route in Route::ALL {
            let path = render_with_sample_ids(route);
            let segments: Vec<&str> = path.as_str().split('/').collect();
            if let Some(i) = segments.iter().position(|s| *s == "secrets") {
                let after = &segments[i + 1..];
                let allowed = after.is_empty()
                    || after == ["lookup"]
                    || (after.len() == 2 && (after[1] == "summary" || after[1] == "general"));
                assert!(allowed, "{route:?} reaches {}", path.as_str());
            }
        }
    }

    #[test]
    fn route_name_is_method_and_template() {
        let name = RouteName { method: "GET", route: Route::User };
        assert_eq!(name.to_string(), "GET /api/v1/users/{id}");
    }
}
