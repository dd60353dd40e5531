//! Users: search, lookup, create, update (`PUT`), patch (`{dirty, value}`),
//! delete (which deactivates), and a user's groups.
//!
//! Rules: user names are unique per domain, case-insensitively; `userName` and
//! `domainId` cannot change on update; a local user needs a password that
//! satisfies the password policy; what is kept of a password is a salted hash
//! (see [`super::passwords`]), with which the user signs in, and when it was
//! last set, as `passwordLastChanged`; a user cannot disable their own account.

use super::passwords::PasswordHash;
use super::search::{Paging, SortKey};
use super::{Change, LOCAL_DOMAIN_ID, Store, now_iso};
use crate::config::PasswordPolicy;
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{DeleteResult, GroupMembership, Lookup, PagedResult, User, UserCreateArgs, UserSummary};
use serde_json::Value;

/// The fields `GET /users` can sort by; the first is the natural order.
pub const USER_SORT: &[&str] = &["id", "userName", "displayName", "emailAddress", "created", "enabled", "domainId"];
/// The fields a user's groups (and a group's members) can sort by.
pub const MEMBERSHIP_SORT: &[&str] = &["id", "groupId", "groupName", "userId", "userName", "displayName"];

/// The filters of `GET /users` and `GET /users/lookup`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Lower-cased `filter.searchText`.
    pub search_text: Option<String>,
    pub include_inactive: bool,
    pub domain_id: Option<i64>,
    /// `filter.searchFields`: which of `userName`, `displayName`, `emailAddress` the text is
    /// matched against (all three when empty).
    pub search_fields: Vec<String>,
}

impl UserFilter {
    /// The test of one user against this filter. The search text's substring finder is built once
    /// here, not once per user: a search scans every user, and building the searcher for each one
    /// was most of the emulator's time in a lookup by name (`str::contains` builds it per call).
    fn matcher(&self) -> impl Fn(&super::UserEntry) -> bool + '_ {
        let finder = self.search_text.as_deref().map(memchr::memmem::Finder::new);
        move |entry| self.matches(entry, finder.as_ref())
    }

    fn matches(&self, entry: &super::UserEntry, finder: Option<&memchr::memmem::Finder<'_>>) -> bool {
        let user = &entry.user;
        if !self.include_inactive && !user.enabled {
            return false;
        }
        if self.domain_id.is_some_and(|d| normalize_domain(Some(d)) != user.domain_id) {
            return false;
        }
        let (Some(text), Some(finder)) = (&self.search_text, finder) else { return true };
        if self.search_fields.is_empty() {
            return finder.find(entry.search_key.as_bytes()).is_some();
        }
        self.search_fields.iter().any(|field| match field.to_ascii_lowercase().as_str() {
            "username" => user.user_name.to_lowercase().contains(text.as_str()),
            "displayname" => user.display_name.to_lowercase().contains(text.as_str()),
            "emailaddress" | "email" => {
                user.email_address.as_deref().is_some_and(|e| e.to_lowercase().contains(text.as_str()))
            }
            _ => false,
        })
    }
}

/// Local users may be sent with `domainId` absent, `0` or `-1`; all mean "no domain".
pub fn normalize_domain(domain_id: Option<i64>) -> i64 {
    match domain_id {
        Some(d) if d > 0 => d,
        _ => LOCAL_DOMAIN_ID,
    }
}

fn user_key(field: &str, u: &&User) -> SortKey {
    match field {
        "userName" => SortKey::text(&u.user_name),
        "displayName" => SortKey::text(&u.display_name),
        "emailAddress" => SortKey::opt_text(u.email_address.as_deref()),
        "created" => SortKey::opt_text(u.created.as_deref()),
        "enabled" => u.enabled.into(),
        "domainId" => u.domain_id.into(),
        _ => u.id.into(),
    }
}

/// Checks an email address the way a form validator would: one `@`, text on both sides, no spaces.
fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
        && !email.chars().any(char::is_whitespace)
}

fn check_name(field: &str, value: &str, errors: &mut Vec<(String, String)>) {
    if value.trim().is_empty() {
        errors.push((field.to_owned(), format!("{field} is required.")));
    } else if value.chars().count() > 255 {
        errors.push((field.to_owned(), format!("{field} must be at most 255 characters.")));
    } else if value.chars().any(char::is_control) {
        errors.push((field.to_owned(), format!("{field} must not contain control characters.")));
    }
}

fn check_email(email: Option<&str>, errors: &mut Vec<(String, String)>) {
    if let Some(email) = email.filter(|e| !e.is_empty())
        && !valid_email(email)
    {
        errors.push(("emailAddress".to_owned(), format!("'{email}' is not a valid email address.")));
    }
}

impl Store {
    /// A `GET /users` record.
    pub fn user_summary(&self, user: &User) -> UserSummary {
        UserSummary {
            id: user.id,
            user_name: user.user_name.clone(),
            display_name: user.display_name.clone(),
            email_address: user.email_address.clone(),
            enabled: user.enabled,
            domain_id: user.domain_id,
            domain_name: self.domain_name(user.domain_id),
            created: user.created.clone(),
            last_login: user.last_login.clone(),
            is_locked_out: user.is_locked_out,
            login_failures: user.login_failures,
            is_application_account: user.is_application_account,
        }
    }

    /// The page of users matching `filter`. A search text of 3 bytes or more is answered from
    /// the trigram index (see [`Store::select_users_among`]); other searches scan.
    fn select_users<'a>(&'a self, filter: &'a UserFilter, paging: &Paging) -> (Vec<&'a User>, i64) {
        let candidates = filter.search_text.as_deref().and_then(|text| self.user_text.candidates(text));
        self.select_users_among(filter, paging, candidates)
    }

    /// The page of users matching `filter` among `candidates` (ascending ids, a superset of the
    /// matches, each verified as the scan does), or by a scan of every user when `None`: the scan
    /// is the reference the index's answers are tested against.
    pub(crate) fn select_users_among<'a>(
        &'a self,
        filter: &'a UserFilter,
        paging: &Paging,
        candidates: Option<Vec<i64>>,
    ) -> (Vec<&'a User>, i64) {
        match candidates {
            Some(ids) => self.select_user_candidates(filter, paging, &ids),
            None => self.scan_users(filter, paging),
        }
    }

    /// The page of users matching `filter` among `candidates`, in the order and with the total
    /// the scan gives.
    fn select_user_candidates<'a>(
        &'a self,
        filter: &'a UserFilter,
        paging: &Paging,
        candidates: &[i64],
    ) -> (Vec<&'a User>, i64) {
        let matches = filter.matcher();
        let found = candidates.iter().filter_map(|id| self.users.get(id)).filter(|e| matches(e)).map(|e| &e.user);
        match &paging.sort {
            Some(sort) if sort.name == "userName" => {
                // The name index's order: (lower-cased name, id).
                let mut by_name: Vec<(String, &User)> = found.map(|u| (u.user_name.to_lowercase(), u)).collect();
                by_name.sort_unstable_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
                if sort.descending {
                    paging.window(by_name.into_iter().rev().map(|(_, u)| u))
                } else {
                    paging.window(by_name.into_iter().map(|(_, u)| u))
                }
            }
            _ => paging.select(found, "id", user_key),
        }
    }

    /// The page of users matching `filter`, by a scan of every user. Sorting by `userName`
    /// streams the name index, so it costs what the natural order costs.
    fn scan_users<'a>(&'a self, filter: &'a UserFilter, paging: &Paging) -> (Vec<&'a User>, i64) {
        match &paging.sort {
            Some(sort) if sort.name == "userName" => {
                let by_name = self.users_by_name.iter().filter_map(|(_, id)| self.users.get(id));
                let matches = filter.matcher();
                let matching = move |e: &&'a super::UserEntry| matches(e);
                if sort.descending {
                    paging.window(by_name.rev().filter(matching).map(|e| &e.user))
                } else {
                    paging.window(by_name.filter(matching).map(|e| &e.user))
                }
            }
            _ => {
                let matches = filter.matcher();
                paging.select(self.users.values().filter(|e| matches(e)).map(|e| &e.user), "id", user_key)
            }
        }
    }

    /// `GET /users`.
    pub fn search_users(&self, filter: &UserFilter, paging: &Paging) -> PagedResult<UserSummary> {
        let (window, total) = self.select_users(filter, paging);
        paging.envelope(window.into_iter().map(|u| self.user_summary(u)).collect(), total)
    }

    /// `GET /users/lookup`: `{id, value: userName}`.
    pub fn lookup_users(&self, filter: &UserFilter, paging: &Paging) -> PagedResult<Lookup> {
        let (window, total) = self.select_users(filter, paging);
        paging.envelope(window.into_iter().map(|u| Lookup { id: u.id, value: u.user_name.clone() }).collect(), total)
    }

    /// `GET /users/{id}`: inactive users too.
    ///
    /// # Errors
    /// `API_UserNotFound`.
    pub fn get_user(&self, id: i64) -> SimResult<User> {
        self.user(id).cloned().ok_or(SimError::NotFound(Thing::User, id))
    }

    /// Plans `POST /users`; returns the new id.
    ///
    /// # Errors
    /// Invalid fields (model state), a duplicate name, an unknown domain, a password the policy refuses.
    pub fn plan_create_user(&self, args: UserCreateArgs, policy: &PasswordPolicy) -> SimResult<(Vec<Change>, i64)> {
        let mut errors = Vec::new();
        check_name("userName", &args.user_name, &mut errors);
        check_email(args.email_address.as_deref(), &mut errors);
        let domain_id = normalize_domain(args.domain_id);
        // The published `UserCreateArgs` requires `password` of every user, a directory user's
        // included (its directory's password is the one it signs in with); the policy applies
        // to a local user's.
        match args.password.as_deref() {
            None | Some("") => errors.push(("password".to_owned(), "The Password field is required.".to_owned())),
            Some(password) if domain_id == LOCAL_DOMAIN_ID => {
                errors.extend(policy.check(password).into_iter().map(|m| ("password".to_owned(), m)));
            }
            Some(_) => {}
        }
        if !errors.is_empty() {
            return Err(SimError::Invalid(errors));
        }
        if domain_id != LOCAL_DOMAIN_ID && !self.domains.contains_key(&domain_id) {
            return Err(SimError::NotFound(Thing::Domain, domain_id));
        }
        let user_name = args.user_name.trim().to_owned();
        if self.user_by_name(domain_id, &user_name).is_some() {
            return Err(SimError::rule(
                "API_DuplicateUserName",
                format!("A user with the user name '{user_name}' already exists."),
            ));
        }
        let id = self.next.user;
        // A directory user signs in with its directory's password (`/_sim/users/{id}/password`
        // stands for the directory): the one the create carried is not kept.
        let local_password = args.password.as_deref().filter(|p| !p.is_empty() && domain_id == LOCAL_DOMAIN_ID);
        let display_name =
            if args.display_name.trim().is_empty() { user_name.clone() } else { args.display_name.trim().to_owned() };
        let user = User {
            id,
            user_name,
            display_name,
            email_address: args.email_address.filter(|e| !e.is_empty()),
            enabled: args.enabled,
            domain_id,
            ad_guid: args.ad_guid.filter(|g| !g.is_empty()),
            created: Some(now_iso()),
            last_login: None,
            password_last_changed: local_password.map(|_| now_iso()),
            is_locked_out: false,
            login_failures: 0,
            is_application_account: args.is_application_account,
            two_factor: args.two_factor,
            radius_two_factor: args.radius_two_factor,
            radius_user_name: args.radius_user_name.filter(|r| !r.is_empty()),
            duo_two_factor: args.duo_two_factor,
            fido2_two_factor: args.fido2_two_factor,
            oath_two_factor: args.oath_two_factor,
            unix_authentication_method: None,
            date_option_id: 0,
            time_option_id: 0,
            slack_id: None,
        };
        let mut changes = self.personal_folder_changes(&user);
        changes.insert(0, Change::PutUser(user));
        if let Some(password) = local_password {
            changes.insert(1, Change::SetPassword { user_id: id, password: PasswordHash::of(password) });
        }
        Ok((changes, id))
    }

    /// Enabled users who are not application accounts: what Secret Server's user licences count.
    pub fn licensed_users(&self) -> u64 {
        self.users.values().filter(|e| e.user.enabled && !e.user.is_application_account).count() as u64
    }

    /// Checks that one more licensed user fits: a user about to become enabled (created enabled,
    /// or enabled again) who is not an application account, when `limit` licences are all taken.
    ///
    /// # Errors
    /// The licence error.
    pub fn check_license(&self, limit: Option<u64>, becomes_licensed: bool) -> SimResult<()> {
        match limit {
            Some(limit) if becomes_licensed && self.licensed_users() >= limit => Err(SimError::rule(
                "API_UserLicenseLimitReached",
                format!(
                    "You have reached the maximum number of users ({limit}) your license allows. Disable a user or \
                     add licenses before you add or enable another."
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Plans `PUT /users/{id}` from the raw body, so that a `userName` or `domainId` sent in it can
    /// be refused when it differs from the stored one.
    ///
    /// # Errors
    /// `API_UserNotFound`, a mismatched `id`, a changed `userName` or `domainId`, invalid fields, a
    /// password the policy refuses, disabling the caller's own account.
    pub fn plan_update_user(
        &self,
        id: i64,
        body: &Value,
        policy: &PasswordPolicy,
        caller_id: i64,
    ) -> SimResult<(Vec<Change>, i64)> {
        let current = self.get_user(id)?;
        let args: secret_server_api::UserUpdateArgs =
            serde_json::from_value(body.clone()).map_err(|e| SimError::invalid("body", e.to_string()))?;
        let mut errors = Vec::new();
        if args.id != 0 && args.id != id {
            errors.push(("id".to_owned(), format!("The id in the body ({}) does not match the URL ({id}).", args.id)));
        }
        if let Some(name) = body.get("userName").and_then(Value::as_str)
            && !name.trim().eq_ignore_ascii_case(&current.user_name)
        {
            errors.push(("userName".to_owned(), "userName cannot be changed.".to_owned()));
        }
        if let Some(domain) = body.get("domainId").filter(|v| !v.is_null())
            && normalize_domain(domain.as_i64()) != current.domain_id
        {
            errors.push(("domainId".to_owned(), "domainId cannot be changed.".to_owned()));
        }
        check_email(args.email_address.as_deref(), &mut errors);
        if current.domain_id == LOCAL_DOMAIN_ID
            && let Some(password) = args.password.as_deref().filter(|p| !p.is_empty())
        {
            errors.extend(policy.check(password).into_iter().map(|m| ("password".to_owned(), m)));
        }
        if !errors.is_empty() {
            return Err(SimError::Invalid(errors));
        }
        if id == caller_id && !args.enabled {
            return Err(cannot_disable_self());
        }
        let display_name = if args.display_name.trim().is_empty() {
            current.user_name.clone()
        } else {
            args.display_name.trim().to_owned()
        };
        let new_password = args.password.as_deref().filter(|p| !p.is_empty()).map(PasswordHash::of);
        let password_last_changed = match new_password {
            Some(_) => Some(now_iso()),
            None => current.password_last_changed.clone(),
        };
        let user = User {
            display_name,
            password_last_changed,
            email_address: args.email_address.filter(|e| !e.is_empty()),
            enabled: args.enabled,
            is_locked_out: args.is_locked_out,
            login_failures: args.login_failures.max(0),
            is_application_account: args.is_application_account,
            two_factor: args.two_factor,
            radius_two_factor: args.radius_two_factor,
            radius_user_name: args.radius_user_name.filter(|r| !r.is_empty()),
            // The update model is the whole user: what it leaves out takes its default.
            duo_two_factor: args.duo_two_factor,
            fido2_two_factor: args.fido2_two_factor,
            oath_two_factor: args.oath_two_factor,
            unix_authentication_method: args.unix_authentication_method,
            date_option_id: args.date_option_id,
            time_option_id: args.time_option_id,
            ..current
        };
        let mut changes = vec![Change::PutUser(user)];
        changes.extend(new_password.map(|password| Change::SetPassword { user_id: id, password }));
        Ok((changes, id))
    }

    /// Plans `PATCH /users/{id}` (`PatchUserModel`): only properties sent with `dirty: true`
    /// change; a new password is checked against the policy, then kept as a hash.
    ///
    /// # Errors
    /// `API_UserNotFound`, an invalid email or empty display name, a password the policy refuses,
    /// disabling the caller's own account.
    pub fn plan_patch_user(
        &self,
        id: i64,
        args: secret_server_api::UserPatchArgs,
        policy: &PasswordPolicy,
        caller_id: i64,
    ) -> SimResult<(Vec<Change>, i64)> {
        fn set<T>(field: &mut T, patch: Option<secret_server_api::Patch<T>>) {
            if let Some(patch) = patch.filter(|p| p.dirty) {
                *field = patch.value;
            }
        }
        let mut user = self.get_user(id)?;
        let mut errors = Vec::new();
        if let Some(patch) = args.enabled.filter(|p| p.dirty) {
            if id == caller_id && !patch.value {
                return Err(cannot_disable_self());
            }
            user.enabled = patch.value;
        }
        if let Some(patch) = args.display_name.filter(|p| p.dirty) {
            check_name("displayName", &patch.value, &mut errors);
            user.display_name = patch.value.trim().to_owned();
        }
        if let Some(patch) = args.email_address.filter(|p| p.dirty) {
            check_email(Some(&patch.value), &mut errors);
            user.email_address = Some(patch.value).filter(|e| !e.is_empty());
        }
        let mut new_password = None;
        if let Some(patch) = args.password.filter(|p| p.dirty && !p.value.is_empty()) {
            if user.domain_id == LOCAL_DOMAIN_ID {
                errors.extend(policy.check(&patch.value).into_iter().map(|m| ("password".to_owned(), m)));
            }
            user.password_last_changed = Some(now_iso());
            new_password = Some(PasswordHash::of(&patch.value));
        }
        if let Some(patch) = args.radius_user_name.filter(|p| p.dirty) {
            user.radius_user_name = Some(patch.value).filter(|r| !r.is_empty());
        }
        if let Some(patch) = args.slack_id.filter(|p| p.dirty) {
            user.slack_id = Some(patch.value).filter(|r| !r.is_empty());
        }
        if let Some(patch) = args.login_failures.filter(|p| p.dirty) {
            user.login_failures = patch.value.max(0);
        }
        set(&mut user.is_locked_out, args.is_locked_out);
        set(&mut user.is_application_account, args.is_application_account);
        set(&mut user.two_factor, args.two_factor);
        set(&mut user.radius_two_factor, args.radius_two_factor);
        set(&mut user.duo_two_factor, args.duo_two_factor);
        set(&mut user.fido2_two_factor, args.fido2_two_factor);
        set(&mut user.oath_two_factor, args.oath_two_factor);
        set(&mut user.date_option_id, args.date_option_id);
        set(&mut user.time_option_id, args.time_option_id);
        if !errors.is_empty() {
            return Err(SimError::Invalid(errors));
        }
        let mut changes = vec![Change::PutUser(user)];
        changes.extend(new_password.map(|password| Change::SetPassword { user_id: id, password }));
        Ok((changes, id))
    }

    /// Plans `POST /_sim/users/{id}/password`: the password a user (a domain user included: the
    /// emulator plays its directory too) signs in with from now on. No policy applies (the
    /// directory's policy is not the vault's).
    ///
    /// # Errors
    /// `API_UserNotFound`, an empty password.
    pub fn plan_set_password(&self, id: i64, password: &str) -> SimResult<(Vec<Change>, i64)> {
        self.get_user(id)?;
        if password.is_empty() {
            return Err(SimError::invalid("password", "A password is required."));
        }
        Ok((vec![Change::SetPassword { user_id: id, password: PasswordHash::of(password) }], id))
    }

    /// Checks a password grant for a user other than the API account: the user named `user_name`
    /// in the domain named `domain` (local when `None`), enabled, not locked out, with this
    /// password. Returns the user's id.
    ///
    /// # Errors
    /// Why the sign-in is refused, as the token endpoint words it.
    pub fn check_sign_in(&self, domain: Option<&str>, user_name: &str, password: &str) -> Result<i64, SignInRefused> {
        let domain_id = match domain {
            None => LOCAL_DOMAIN_ID,
            Some(name) => {
                let name = name.trim();
                let found = self.domains.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(id, _)| *id);
                found.ok_or(SignInRefused::Failed)?
            }
        };
        let user = self.user_by_name(domain_id, user_name.trim()).ok_or(SignInRefused::Failed)?;
        // The hash is checked first so that a wrong password tells nothing of the account's state.
        let password_ok = self.passwords.get(&user.id).is_some_and(|kept| kept.matches(password));
        if !password_ok {
            return Err(SignInRefused::Failed);
        }
        if !user.enabled {
            return Err(SignInRefused::Disabled);
        }
        if user.is_locked_out {
            return Err(SignInRefused::LockedOut);
        }
        Ok(user.id)
    }
}

/// Why a password grant is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    /// Unknown user or domain, no or another password.
    Failed,
    /// The right password for a disabled account.
    Disabled,
    /// The right password for a locked-out account.
    LockedOut,
}

impl SignInRefused {
    /// The token endpoint's message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Failed => "Login failed.",
            Self::Disabled => "Login failed. The account is disabled.",
            Self::LockedOut => "Login failed. The account is locked out.",
        }
    }
}

impl Store {
    /// Plans `DELETE /users/{id}`: the user is deactivated (Secret Server keeps users for audit).
    /// Deleting a user that is already inactive is answered as for an unknown user (Secret Server
    /// refuses it; Delinea's SCIM connector reports it as a 404), unless `inactive_succeeds` (the
    /// emulator's leniency switch) makes it succeed again.
    ///
    /// # Errors
    /// `API_UserNotFound` (also for an inactive user), deleting the caller's own account.
    pub fn plan_delete_user(
        &self,
        id: i64,
        caller_id: i64,
        inactive_succeeds: bool,
    ) -> SimResult<(Vec<Change>, DeleteResult)> {
        let user = self.get_user(id)?;
        if id == caller_id {
            return Err(cannot_disable_self());
        }
        let result = DeleteResult { id, object_type: "User".to_owned(), response_codes: Vec::new() };
        if !user.enabled && !inactive_succeeds {
            return Err(SimError::NotFound(Thing::User, id));
        }
        if !user.enabled {
            return Ok((Vec::new(), result));
        }
        Ok((vec![Change::PutUser(User { enabled: false, ..user })], result))
    }

    /// One membership record.
    pub fn membership(&self, group_id: i64, user_id: i64) -> Option<GroupMembership> {
        let group = self.group(group_id)?;
        let user = self.user(user_id)?;
        Some(GroupMembership {
            group_id,
            group_name: group.name.clone(),
            group_domain_id: group.domain_id,
            group_domain_name: self.domain_name(group.domain_id),
            user_id,
            user_name: user.user_name.clone(),
            user_domain_id: user.domain_id,
            user_domain_name: self.domain_name(user.domain_id),
            display_name: Some(user.display_name.clone()),
            enabled: user.enabled,
        })
    }

    /// `GET /users/{id}/groups`.
    ///
    /// # Errors
    /// `API_UserNotFound`.
    pub fn search_user_groups(&self, user_id: i64, paging: &Paging) -> SimResult<PagedResult<GroupMembership>> {
        self.get_user(user_id)?;
        // The Everyone group's implicit membership is not listed (see `store::groups`).
        let mut ids: Vec<i64> = self.groups_of(user_id).collect();
        ids.sort_unstable();
        let groups = ids.into_iter().filter_map(|g| self.group(g));
        let (window, total) = paging.select(groups, "id", |field, g| match field {
            "groupName" => SortKey::text(&g.name),
            _ => g.id.into(),
        });
        let records = window.into_iter().filter_map(|g| self.membership(g.id, user_id)).collect();
        Ok(paging.envelope(records, total))
    }

    /// Plans `POST /users/{id}/groups` (add to these groups; groups the user is already in are
    /// left as they are).
    ///
    /// # Errors
    /// `API_UserNotFound`, `API_GroupNotFound`, an inactive user, a group whose members cannot be
    /// edited (directory-synchronized, or a system group).
    pub fn plan_add_user_groups(&self, user_id: i64, group_ids: &[i64]) -> SimResult<Vec<Change>> {
        let user = self.get_user(user_id)?;
        let mut changes = Vec::new();
        for group_id in group_ids {
            // Everyone is every user's group already; a directory-synchronized group's members are
            // the directory's.
            if self.in_group(*group_id, user_id) {
                self.group(*group_id).ok_or(SimError::NotFound(Thing::Group, *group_id))?;
                continue;
            }
            self.editable_group(*group_id)?;
            changes.push(Change::AddMember { group_id: *group_id, user_id });
        }
        if !user.enabled && !changes.is_empty() {
            return Err(user_inactive(&user.user_name));
        }
        Ok(changes)
    }

    /// Plans `PUT /users/{id}/groups` (the user's groups become exactly these).
    ///
    /// # Errors
    /// As [`Store::plan_add_user_groups`], and a group among those left whose members cannot be
    /// edited.
    pub fn plan_replace_user_groups(&self, user_id: i64, group_ids: &[i64]) -> SimResult<Vec<Change>> {
        let mut changes = self.plan_add_user_groups(user_id, group_ids)?;
        for group_id in self.groups_of(user_id).filter(|g| !group_ids.contains(g)) {
            self.editable_group(group_id)?;
            changes.push(Change::RemoveMember { group_id, user_id });
        }
        Ok(changes)
    }

    /// Plans `DELETE /users/{id}/groups?groupIds=..`.
    ///
    /// # Errors
    /// `API_UserNotFound`, `API_GroupNotFound`, `API_MembershipNotFound`.
    pub fn plan_remove_user_groups(&self, user_id: i64, group_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.get_user(user_id)?;
        let mut changes = Vec::new();
        for group_id in group_ids {
            self.editable_group(*group_id)?;
            if !self.is_member(*group_id, user_id) {
                return Err(SimError::NotFound(Thing::Membership, *group_id));
            }
            changes.push(Change::RemoveMember { group_id: *group_id, user_id });
        }
        Ok(changes)
    }
}

fn cannot_disable_self() -> SimError {
    SimError::rule("API_CannotDisableSelf", "You cannot disable or delete your own account.")
}

/// The error for granting group, folder or secret access to an inactive user.
pub fn user_inactive(user_name: &str) -> SimError {
    SimError::rule(
        "API_UserInactive",
        format!("User '{user_name}' is inactive; it cannot be given access until it is enabled."),
    )
}
