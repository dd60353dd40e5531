//! The generator of large data sets: users, groups, memberships, a folder
//! tree with permissions, and secrets, built straight into the store (no
//! journal; the caller writes one snapshot) from a seeded random generator, so
//! the same spec always gives the same data. Progress (records, rate, ETA) is
//! drawn on stderr with `indicatif` when stderr is a terminal.
//!
//! Shape: 5% of users disabled and 20% in the `corp.example.com` domain;
//! group sizes skewed (a few large groups, many small ones); about fifty root
//! folders, the others under a random earlier folder, 70% of those inheriting;
//! every folder that does not inherit gets `permissions_per_folder`
//! permissions, mostly for groups, and one more: Owner for the Everyone group,
//! so that the API account (as every user, in Everyone) sees and manages the
//! whole tree whatever its name; 3% of secrets inactive. A generated set has
//! no personal folders (100,000 of them would only weigh on the emulator: the
//! API account cannot see them).

use crate::store::{Change, Counts, FolderPermRec, FolderRec, Principal, Store, now_iso, templates};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secret_server_api::{FolderAccessRole, Group, ROOT_FOLDER_ID, SecretAccessRole, SecretSummary, User};
use std::collections::HashSet;

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateSpec {
    pub users: u64,
    pub groups: u64,
    /// Distinct (group, user) pairs; capped at `users × groups`.
    pub memberships: u64,
    pub folders: u64,
    /// Permissions on each folder that does not inherit (capped by the principals available).
    pub permissions_per_folder: u64,
    pub secrets: u64,
    /// The random seed: the same spec gives the same data.
    pub rng_seed: u64,
}

impl Default for GenerateSpec {
    /// The large data set of the issue: 100,000 users, 10,000 groups, 1,000,000 memberships,
    /// 20,000 folders (3 permissions on each that does not inherit), 50,000 secrets.
    fn default() -> Self {
        Self {
            users: 100_000,
            groups: 10_000,
            memberships: 1_000_000,
            folders: 20_000,
            permissions_per_folder: 3,
            secrets: 50_000,
            rng_seed: 42,
        }
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nina", "Omar",
    "Pia", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vic", "Wes", "Xena", "Yara", "Zane",
];
const LAST: &[&str] = &[
    "Adams", "Baker", "Clark", "Diaz", "Ellis", "Ford", "Gray", "Hayes", "Ito", "James", "Khan", "Lopez", "Moore",
    "Nash", "Ortiz", "Patel", "Reed", "Silva", "Tran", "Usman", "Vega", "Wong", "Young", "Zhou",
];
const DEPARTMENTS: &[&str] =
    &["Finance", "HR", "IT", "Sales", "Legal", "Ops", "R&D", "Support", "Marketing", "Security", "Facilities"];

fn bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{prefix:>12.bold} [{bar:32}] {human_pos}/{human_len} {per_sec:>12} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what);
    bar
}

/// Ticks a progress bar every 4096 records (drawing is the slow part).
fn tick(bar: &ProgressBar, done: u64) {
    if done.is_multiple_of(4096) {
        bar.set_position(done);
    }
}

/// Generates a data set into `store` (which may already hold the API account).
pub fn generate_into(store: &mut Store, spec: &GenerateSpec) -> Counts {
    let mut rng = StdRng::seed_from_u64(spec.rng_seed);
    let now = now_iso();
    let domain_id = 1;
    if store.domain_name(domain_id).is_none() {
        store.apply(Change::PutDomain { id: domain_id, name: "corp.example.com".to_owned() });
    }
    if let Some(change) = super::everyone_group(store) {
        store.apply(change);
    }
    let everyone = store.everyone_group();

    let progress = bar(spec.users, "users");
    let mut user_ids = Vec::with_capacity(spec.users as usize);
    for n in 1..=spec.users {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let in_domain = rng.random_bool(0.2);
        let user_name = format!("{}.{}{:06}", first.to_lowercase(), last.to_lowercase(), n);
        let id = store.next.user;
        store.apply(Change::PutUser(User {
            id,
            email_address: Some(format!("{user_name}@example.com")),
            user_name,
            display_name: format!("{first} {last}"),
            enabled: !rng.random_bool(0.05),
            domain_id: if in_domain { domain_id } else { crate::store::LOCAL_DOMAIN_ID },
            created: Some(now.clone()),
            ..User::default()
        }));
        user_ids.push(id);
        tick(&progress, n);
    }
    progress.finish();

    let progress = bar(spec.groups, "groups");
    let mut group_ids = Vec::with_capacity(spec.groups as usize);
    for n in 1..=spec.groups {
        let department = DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())];
        let id = store.next.group;
        store.apply(Change::PutGroup(Group {
            id,
            name: format!("{department} team {n:05}"),
            enabled: true,
            domain_id: crate::store::LOCAL_DOMAIN_ID,
            created: Some(now.clone()),
            is_editable: true,
            can_edit_members: true,
            ..Group::default()
        }));
        group_ids.push(id);
        tick(&progress, n);
    }
    progress.finish();

    let possible = (user_ids.len() as u64).saturating_mul(group_ids.len() as u64);
    let wanted = spec.memberships.min(possible);
    let progress = bar(wanted, "memberships");
    let mut made = 0u64;
    if wanted > 0 {
        let mut seen = HashSet::with_capacity(wanted as usize);
        while made < wanted {
            // Squaring a uniform draw skews group sizes: a few large groups, many small ones.
            let u: f64 = rng.random();
            let g = group_ids[((u * u) * group_ids.len() as f64) as usize % group_ids.len()];
            let user = user_ids[rng.random_range(0..user_ids.len())];
            if seen.insert((g, user)) {
                store.add_member(g, user);
                made += 1;
                tick(&progress, made);
            } else if seen.len() as u64 * 10 > possible * 9 {
                // Nearly every pair is taken: fill the rest in order instead of drawing.
                'fill: for &g in &group_ids {
                    for &user in &user_ids {
                        if made >= wanted {
                            break 'fill;
                        }
                        if seen.insert((g, user)) {
                            store.add_member(g, user);
                            made += 1;
                        }
                    }
                }
            }
        }
    }
    progress.finish();

    let progress = bar(spec.folders, "folders");
    let roots = spec.folders.min(50);
    let mut folder_ids: Vec<i64> = Vec::with_capacity(spec.folders as usize);
    for n in 1..=spec.folders {
        let (parent, inherit) = if n <= roots {
            (ROOT_FOLDER_ID, false)
        } else {
            (folder_ids[rng.random_range(0..folder_ids.len())], rng.random_bool(0.7))
        };
        let id = store.next.folder;
        let name = if parent == ROOT_FOLDER_ID {
            format!("{} {n:05}", DEPARTMENTS[(n as usize) % DEPARTMENTS.len()])
        } else {
            format!("Folder {n:05}")
        };
        store.apply(Change::PutFolder(FolderRec {
            id,
            folder_name: name,
            parent_folder_id: parent,
            folder_type_id: 1,
            inherit_permissions: inherit,
            inherit_secret_policy: parent != ROOT_FOLDER_ID,
            secret_policy_id: None,
            personal: false,
        }));
        folder_ids.push(id);
        if !inherit && let Some(everyone) = everyone {
            let perm_id = store.next.folder_permission;
            store.apply(Change::PutFolderPermission(FolderPermRec {
                id: perm_id,
                folder_id: id,
                principal: Principal::Group(everyone),
                folder_role: FolderAccessRole::Owner,
                secret_role: SecretAccessRole::Owner,
            }));
        }
        if !inherit {
            let want = spec.permissions_per_folder.min((group_ids.len() + user_ids.len()) as u64);
            let mut principals = HashSet::new();
            while (principals.len() as u64) < want {
                let principal = if !group_ids.is_empty() && (user_ids.is_empty() || rng.random_bool(0.8)) {
                    Principal::Group(group_ids[rng.random_range(0..group_ids.len())])
                } else {
                    Principal::User(user_ids[rng.random_range(0..user_ids.len())])
                };
                if !principals.insert(principal) {
                    continue;
                }
                let folder_role = FolderAccessRole::ALL[rng.random_range(0..FolderAccessRole::ALL.len())];
                let secret_role = SecretAccessRole::ALL[rng.random_range(1..SecretAccessRole::ALL.len())];
                let perm_id = store.next.folder_permission;
                store.apply(Change::PutFolderPermission(FolderPermRec {
                    id: perm_id,
                    folder_id: id,
                    principal,
                    folder_role,
                    secret_role,
                }));
            }
        }
        tick(&progress, n);
    }
    progress.finish();

    let progress = bar(spec.secrets, "secrets");
    for n in 1..=spec.secrets {
        let template = &templates::TEMPLATES[rng.random_range(0..templates::TEMPLATES.len())];
        let folder_id =
            if folder_ids.is_empty() { ROOT_FOLDER_ID } else { folder_ids[rng.random_range(0..folder_ids.len())] };
        let id = store.next.secret;
        store.apply(Change::PutSecret(SecretSummary {
            id,
            name: format!("{} {n:06}", template.name),
            folder_id,
            secret_template_id: template.id,
            secret_template_name: template.name.to_owned(),
            site_id: 1,
            active: !rng.random_bool(0.03),
            create_date: Some(now.clone()),
            inherits_permissions: folder_id != ROOT_FOLDER_ID,
            ..SecretSummary::default()
        }));
        tick(&progress, n);
    }
    progress.finish();
    store.counts()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GenerateSpec {
        GenerateSpec {
            users: 300,
            groups: 20,
            memberships: 1_000,
            folders: 120,
            permissions_per_folder: 2,
            secrets: 200,
            rng_seed: 7,
        }
    }

    #[test]
    fn the_generator_makes_exactly_what_the_spec_asks() {
        let mut store = Store::new();
        let counts = generate_into(&mut store, &small());
        assert_eq!(counts.users, 300);
        assert_eq!(counts.groups, 21, "twenty, and the Everyone group");
        assert_eq!(counts.memberships, 1_000);
        assert_eq!(counts.folders, 120);
        assert_eq!(counts.secrets, 200);
        let explicit = store.folders.values().filter(|f| !f.inherit_permissions).count();
        assert_eq!(counts.folder_permissions, explicit * 3, "two drawn per folder, and the Everyone group's Owner");
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let (mut a, mut b) = (Store::new(), Store::new());
        generate_into(&mut a, &small());
        generate_into(&mut b, &small());
        let names = |s: &Store| s.users.values().map(|e| e.user.user_name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert_eq!(a.members, b.members);
    }

    #[test]
    fn memberships_beyond_every_pair_are_capped() {
        let mut store = Store::new();
        let spec = GenerateSpec { users: 5, groups: 3, memberships: 100, folders: 0, secrets: 0, ..small() };
        assert_eq!(generate_into(&mut store, &spec).memberships, 15);
    }
}
