//! A preflight for a real vault: [`doctor`] checks, with the settings of one Secret Server
//! instance, what the connector needs of it, and returns a typed [`DoctorReport`]: reachability and
//! TLS (the health check, without a token), sign-in (`GET /users/current`), the API surface of
//! Secret Server 11 (the secret search `GET /api/v2/secrets`), every role permission each SCIM
//! feature needs (from the account's permissions), paging (two pages of one user agree with the
//! total), and a harmless read of each endpoint the connector calls. Nothing is changed.
//!
//! `scim-connector doctor --secret-server NAME` prints [`DoctorReport::render`] and exits non-zero
//! when [`DoctorReport::passed`] is false. The admin API runs the same checks in the adapter, with
//! the adapter's own client ([`doctor_with`], and [`quick_test`] for a quick test of the connection).

use secret_server_client::{
    ClientConfig, ClientError, FolderPermissionQuery, FolderQuery, GroupQuery, RoleQuery, SecretPermissionQuery,
    SecretQuery, SecretServerClient, UserQuery,
};
use std::fmt::Write as _;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// As the connector needs it.
    Pass,
    /// Works, with a caveat (e.g. no TLS).
    Warn,
    /// The connector cannot work this way.
    Fail,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "ok",
            Outcome::Warn => "warn",
            Outcome::Fail => "FAIL",
        }
    }
}

/// One check: what was checked, how it came out, what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// What one SCIM feature needs of the API account: any one permission of each group in `needs`.
#[derive(Debug, Clone, Copy)]
pub struct FeatureNeed {
    /// The SCIM feature, as the table names it.
    pub feature: &'static str,
    /// Whether the connector is of no use without it (users and groups); others only limit it.
    pub required: bool,
    /// Role permissions: the feature needs one of each inner list.
    pub needs: &'static [&'static [&'static str]],
    /// What else it needs that role permissions do not show.
    pub note: &'static str,
}

/// The role permission that lets the API account assign roles to users and groups and unassign
/// them (a User's and a Group's `roles`); `View Roles` only reads them.
pub const ASSIGN_ROLES: &str = "Administer Role Permissions";

/// Every SCIM feature and the role permissions it needs (Secret Server's role-permission list:
/// View/Administer Users and Groups, Administer Folders and Create Root Folders, which folder
/// permissions still restrict, View Secret and Own Secret for secrets, View Roles for the
/// administrators the adapter protects, Administer Role Permissions to assign roles).
pub const FEATURES: &[FeatureNeed] = &[
    FeatureNeed { feature: "Users: read", required: true, needs: &[&["View Users", "Administer Users"]], note: "" },
    FeatureNeed {
        feature: "Users: create, replace, patch, deactivate",
        required: true,
        needs: &[&["Administer Users"]],
        note: "",
    },
    FeatureNeed { feature: "Groups: read", required: true, needs: &[&["View Groups", "Administer Groups"]], note: "" },
    FeatureNeed {
        feature: "Groups: create, replace, patch, members",
        required: true,
        needs: &[&["Administer Groups"]],
        note: "directory-synchronized groups keep their members",
    },
    FeatureNeed {
        feature: "Protected administrators",
        required: true,
        needs: &[&["View Roles", ASSIGN_ROLES]],
        note: "",
    },
    FeatureNeed {
        feature: "Users and Groups: assign and unassign roles",
        required: false,
        needs: &[&[ASSIGN_ROLES]],
        note: "only for connections whose scope names roles",
    },
    FeatureNeed {
        feature: "Containers: read",
        required: false,
        needs: &[],
        note: "lists only folders the account holds a folder permission on",
    },
    FeatureNeed {
        feature: "Containers: create, rename, move, delete",
        required: false,
        needs: &[&["Administer Folders"]],
        note: "needs Owner on each folder (Edit on a new parent); Create Root Folders at the root",
    },
    FeatureNeed {
        feature: "Containers at the root",
        required: false,
        needs: &[&["Administer Folders"], &["Create Root Folders"]],
        note: "",
    },
    FeatureNeed {
        feature: "ContainerPermissions: read, grant, revoke",
        required: false,
        needs: &[],
        note: "needs Owner on each folder",
    },
    FeatureNeed {
        feature: "PrivilegedData: read",
        required: false,
        needs: &[&["View Secret"]],
        note: "lists only secrets the account may list",
    },
    FeatureNeed {
        feature: "PrivilegedDataPermissions: grant, revoke",
        required: false,
        needs: &[&["View Secret"], &["Own Secret"]],
        note: "needs Owner on each secret",
    },
];

/// Whether one SCIM feature will work, and what to grant when it will not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureStatus {
    pub feature: &'static str,
    pub required: bool,
    /// Role permissions to grant (for each missing need, its first permission).
    pub grant: Vec<&'static str>,
    pub note: &'static str,
}

impl FeatureStatus {
    /// Whether the account has what the feature needs.
    pub fn works(&self) -> bool {
        self.grant.is_empty()
    }
}

/// What [`doctor`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorReport {
    /// The instance's name.
    pub instance: String,
    /// Its base URL.
    pub url: String,
    pub checks: Vec<Check>,
    /// Empty when sign-in failed (the permissions are unknown).
    pub features: Vec<FeatureStatus>,
}

impl DoctorReport {
    /// No check failed and every required feature works.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.outcome == Outcome::Fail)
            && !self.features.is_empty()
            && self.features.iter().all(|f| !f.required || f.works())
    }

    /// The role permissions to grant for every feature to work (sorted, once each).
    pub fn missing_permissions(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.features.iter().flat_map(|f| f.grant.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The report as text: the checks, then a table of the SCIM features.
    pub fn render(&self) -> String {
        let mut out = format!("Secret Server {} ({})\n\n", self.instance, self.url);
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in &self.checks {
            let _ = writeln!(out, "  {:<4}  {:<width$}  {}", check.outcome.label(), check.name, check.detail);
        }
        if !self.features.is_empty() {
            let width = self.features.iter().map(|f| f.feature.len()).max().unwrap_or(0);
            let _ = writeln!(out, "\n  {:<width$}  {:<8}  {:<5}  grant / note", "SCIM feature", "needed", "works");
            for f in &self.features {
                let needed = if f.required { "required" } else { "optional" };
                let works = if f.works() { "yes" } else { "NO" };
                let what = if f.works() { f.note.to_owned() } else { format!("grant: {}", f.grant.join(", ")) };
                let line = format!("  {:<width$}  {needed:<8}  {works:<5}  {what}", f.feature);
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let verdict = if self.passed() {
            "passed: every required feature will work".to_owned()
        } else if self.missing_permissions().is_empty() {
            "FAILED: see the checks above".to_owned()
        } else {
            format!("FAILED: grant the API account {}", self.missing_permissions().join(", "))
        };
        let _ = writeln!(out, "\n{verdict}");
        out
    }
}

/// The features and what the account lacks for each, from its role permissions.
pub fn features_for(permissions: &[String]) -> Vec<FeatureStatus> {
    let has = |name: &str| permissions.iter().any(|p| p.trim().eq_ignore_ascii_case(name));
    FEATURES
        .iter()
        .map(|f| FeatureStatus {
            feature: f.feature,
            required: f.required,
            grant: f.needs.iter().filter(|any| !any.iter().any(|p| has(p))).map(|any| any[0]).collect(),
            note: f.note,
        })
        .collect()
}

fn check(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check { name, outcome, detail: detail.into() }
}

/// A harmless read, as a check: ok when it answers, warn when the account may not (a feature
/// the table already names), fail otherwise.
fn read_check<T>(name: &'static str, result: Result<T, ClientError>, describe: impl FnOnce(T) -> String) -> Check {
    match result {
        Ok(value) => check(name, Outcome::Pass, describe(value)),
        Err(e @ (ClientError::Forbidden { .. } | ClientError::BadRequest { .. })) => {
            check(name, Outcome::Warn, format!("refused: {e}"))
        }
        Err(e) => check(name, Outcome::Fail, e.to_string()),
    }
}

/// Runs every check against the instance `name` configured by `config`. Never changes anything.
pub async fn doctor(name: &str, config: ClientConfig) -> DoctorReport {
    let url = config.base_url.to_string();
    match SecretServerClient::new(config) {
        Ok(client) => doctor_with(name, &client).await,
        Err(e) => DoctorReport {
            instance: name.to_owned(),
            url,
            checks: vec![check("configuration", Outcome::Fail, e.to_string())],
            features: Vec::new(),
        },
    }
}

fn tls_check(client: &SecretServerClient) -> Check {
    if client.base_url().scheme() == "https" {
        check("TLS", Outcome::Pass, "https, certificate verified against the system's roots")
    } else {
        check("TLS", Outcome::Warn, "plain http: the API account's credentials travel unencrypted")
    }
}

/// The first checks of every preflight: reachability (the health check, without a token), TLS
/// and sign-in. Returns the account's role permissions when it signed in.
async fn reach_and_sign_in(client: &SecretServerClient, report: &mut DoctorReport) -> Option<Vec<String>> {
    let tls = tls_check(client);
    match client.healthcheck().await {
        Ok(health) if health.healthy && !health.read_only_mode => {
            report.checks.push(check("reachable", Outcome::Pass, "the health check answers healthy"));
        }
        Ok(health) => report.checks.push(check(
            "reachable",
            Outcome::Fail,
            format!("the health check answers healthy={} readOnlyMode={}", health.healthy, health.read_only_mode),
        )),
        Err(e) => {
            report.checks.push(check("reachable", Outcome::Fail, e.to_string()));
            report.checks.push(tls);
            return None;
        }
    }
    report.checks.push(tls);
    let me = match client.current_user().await {
        Ok(me) => me,
        Err(e) => {
            report.checks.push(check("sign-in", Outcome::Fail, e.to_string()));
            return None;
        }
    };
    report.checks.push(check(
        "sign-in",
        Outcome::Pass,
        format!("as {} (id {}), {} role permissions", me.user_name, me.id, me.permissions.len()),
    ));
    let permissions: Vec<String> = me.permissions.into_iter().map(|p| p.name).collect();
    report.features = features_for(&permissions);
    Some(permissions)
}

/// Runs every check against the instance `name` through `client` (the adapter's own, with its
/// credentials). Never changes anything.
pub async fn doctor_with(name: &str, client: &SecretServerClient) -> DoctorReport {
    let mut report = DoctorReport {
        instance: name.to_owned(),
        url: client.base_url().to_string(),
        checks: Vec::new(),
        features: Vec::new(),
    };
    if reach_and_sign_in(client, &mut report).await.is_none() {
        return report;
    }

    // Secret Server 11's secret search is GET /api/v2/secrets; 10.x answers GET only under /v1.
    report.checks.push(match client.secrets_page(&SecretQuery::default(), 0, 1).await {
        Ok(_) => check("version", Outcome::Pass, "the 11.x API (GET /api/v2/secrets answers)"),
        Err(e @ (ClientError::Forbidden { .. } | ClientError::BadRequest { .. })) => {
            check("version", Outcome::Warn, format!("GET /api/v2/secrets is there but refused: {e}"))
        }
        Err(e) => check("version", Outcome::Fail, format!("GET /api/v2/secrets (Secret Server 11 or later): {e}")),
    });
    report.checks.push(paging(client).await);
    let query = UserQuery::default();
    report
        .checks
        .push(read_check("read users", client.users_page(&query, 0, 1).await, |p| format!("{} users", p.total)));
    report.checks.push(read_check("read groups", client.groups_page(&GroupQuery::default(), 0, 1).await, |p| {
        format!("{} groups", p.total)
    }));
    report.checks.push(read_check("read group members", first_group_members(client).await, |n| n));
    report.checks.push(read_check("read folders", client.folders_page(&FolderQuery::default(), 0, 1).await, |p| {
        format!("{} folders visible", p.total)
    }));
    report.checks.push(read_check(
        "read folder permissions",
        client.folder_permissions_page(&FolderPermissionQuery::default(), 0, 1).await,
        |p| format!("{} visible", p.total),
    ));
    report.checks.push(read_check(
        "read secret permissions",
        client.secret_permissions_page(&SecretPermissionQuery::default(), 0, 1).await,
        |p| format!("{} visible", p.total),
    ));
    report.checks.push(read_check("read roles", client.roles_page(&RoleQuery::default(), 0, 1).await, |p| {
        format!("{} roles", p.total)
    }));
    report
}

/// The quick test of a connection: reachability, TLS, sign-in, one harmless read (a page of one
/// user) and how long each took. Never changes anything.
pub async fn quick_test(name: &str, client: &SecretServerClient) -> DoctorReport {
    let mut report = DoctorReport {
        instance: name.to_owned(),
        url: client.base_url().to_string(),
        checks: Vec::new(),
        features: Vec::new(),
    };
    let began = std::time::Instant::now();
    if reach_and_sign_in(client, &mut report).await.is_none() {
        return report;
    }
    let signed_in = began.elapsed();
    let read = std::time::Instant::now();
    report.checks.push(read_check("read users", client.users_page(&UserQuery::default(), 0, 1).await, |p| {
        format!("{} users", p.total)
    }));
    report.checks.push(check(
        "latency",
        Outcome::Pass,
        format!("health check and sign-in {} ms, one read {} ms", signed_in.as_millis(), read.elapsed().as_millis()),
    ));
    report
}

impl DoctorReport {
    /// The report as the admin API serves it (`adapter_api::admin::DoctorReport`).
    pub fn to_api(&self, elapsed: std::time::Duration) -> adapter_api::admin::DoctorReport {
        use adapter_api::admin as api;
        let checks = self
            .checks
            .iter()
            .map(|c| api::DoctorCheck {
                name: c.name.to_owned(),
                outcome: match c.outcome {
                    Outcome::Pass => api::CheckOutcome::Pass,
                    Outcome::Warn => api::CheckOutcome::Warn,
                    Outcome::Fail => api::CheckOutcome::Fail,
                },
                detail: c.detail.clone(),
            })
            .collect();
        let features = self
            .features
            .iter()
            .map(|f| api::DoctorFeature {
                feature: f.feature.to_owned(),
                required: f.required,
                works: f.works(),
                grant: f.grant.iter().map(|g| (*g).to_owned()).collect(),
                note: f.note.to_owned(),
            })
            .collect();
        api::DoctorReport::new(
            self.instance.clone(),
            self.url.clone(),
            checks,
            features,
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        )
    }
}

/// Two pages of one user each must agree with the total and with each other.
async fn paging(client: &SecretServerClient) -> Check {
    let query = UserQuery::default();
    let (first, second) = match (client.users_page(&query, 0, 1).await, client.users_page(&query, 1, 1).await) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(e), _) | (_, Err(e)) => return read_check("paging", Err::<(), _>(e), |()| String::new()),
    };
    let ids = |p: &secret_server_api::PagedResult<secret_server_api::UserSummary>| {
        p.records.iter().map(|u| u.id).collect::<Vec<_>>()
    };
    let consistent = first.records.len() <= 1
        && second.records.len() <= 1
        && first.total == second.total
        && (first.total < 2 || (first.has_next && first.records.len() == 1 && ids(&first) != ids(&second)));
    if consistent {
        check("paging", Outcome::Pass, format!("skip/take pages agree with total {}", first.total))
    } else {
        check(
            "paging",
            Outcome::Fail,
            format!(
                "pages of one user disagree: total {} then {}, hasNext {}, ids {:?} then {:?}",
                first.total,
                second.total,
                first.has_next,
                ids(&first),
                ids(&second)
            ),
        )
    }
}

/// The members of the first group listed (a read of `GET /groups/{id}/users`).
async fn first_group_members(client: &SecretServerClient) -> Result<String, ClientError> {
    let Some(group) = client.groups_page(&GroupQuery::default(), 0, 1).await?.records.into_iter().next() else {
        return Ok("no group to read".to_owned());
    };
    let members = client.group_members_page(group.id, 0, 1).await?;
    Ok(format!("group {} has {} members", group.id, members.total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_permission_names_what_to_grant_for_each_feature_that_needs_it() {
        let all: Vec<String> = FEATURES.iter().flat_map(|f| f.needs.iter().map(|any| any[0].to_owned())).collect();
        let without: Vec<String> = all.into_iter().filter(|p| p != "Administer Groups").collect();
        let features = features_for(&without);
        let broken: Vec<_> = features.iter().filter(|f| !f.works()).map(|f| (f.feature, f.grant.clone())).collect();
        assert_eq!(broken, vec![("Groups: create, replace, patch, members", vec!["Administer Groups"])]);
    }

    #[test]
    fn view_users_is_enough_to_read_users_but_not_to_change_them() {
        let features = features_for(&["view users".to_owned()]);
        let works = |name: &str| features.iter().find(|f| f.feature == name).unwrap().works();
        assert!(works("Users: read"));
        assert!(!works("Users: create, replace, patch, deactivate"));
    }
}
