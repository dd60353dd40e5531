//! What a fresh emulator starts with: the API account, then the chosen seed
//! ([`crate::Seed`]): nothing, the demo organisation, a JSON seed file, or a
//! generated large data set. Also [`generate_data_dir`], the library side of
//! `scim-connector sim generate`.

pub mod file;
mod generate;

pub use file::{SeedError, SeedFile};
pub use generate::{GenerateSpec, generate_into};

use crate::config::Seed;
use crate::persist::{DataDir, PersistError};
use crate::store::{Change, Counts, EVERYONE, LOCAL_DOMAIN_ID, Store, now_iso, roles};
use anyhow::Context;
use secret_server_api::{Group, User};
use std::path::Path;

/// The demo organisation, as a seed file.
pub const DEMO_SEED: &str = include_str!("demo.json");

/// The changes that give a store what every emulator has: Secret Server's built-in roles, and the
/// API account (created when missing) holding the `Administrator` role. Empty when the store has
/// them all already.
pub fn api_account(store: &Store, api_username: &str) -> Vec<Change> {
    let now = now_iso();
    let mut changes = roles::missing_built_in_roles(store, &now);
    let id = match store.user_by_name(LOCAL_DOMAIN_ID, api_username) {
        Some(user) => user.id,
        None => {
            let id = store.next_ids().user;
            changes.push(Change::PutUser(User {
                id,
                user_name: api_username.to_owned(),
                display_name: "SCIM connector API account".to_owned(),
                enabled: true,
                domain_id: LOCAL_DOMAIN_ID,
                created: Some(now),
                is_application_account: true,
                ..User::default()
            }));
            id
        }
    };
    if !store.direct_roles_of_user(id).any(|r| r == roles::ADMINISTRATOR_ROLE_ID) {
        changes.push(Change::AddUserRole { user_id: id, role_id: roles::ADMINISTRATOR_ROLE_ID });
    }
    changes
}

/// The change that creates the Everyone group (a system group every user is in), if the store
/// lacks it.
pub fn everyone_group(store: &Store) -> Option<Change> {
    if store.everyone_group().is_some() {
        return None;
    }
    Some(Change::PutGroup(Group {
        id: store.next_ids().group,
        name: EVERYONE.to_owned(),
        enabled: true,
        domain_id: LOCAL_DOMAIN_ID,
        created: Some(now_iso()),
        system_group: true,
        ..Group::default()
    }))
}

/// What every emulator holds whatever its seed, in the order it is created: Secret Server's built-in roles,
/// the API account holding the Administrator role, and the Everyone group, each only when missing.
pub fn system_objects(store: &Store, api_username: &str) -> Vec<Change> {
    let mut changes = api_account(store, api_username);
    if let Some(everyone) = everyone_group(store) {
        changes.push(everyone);
    }
    changes
}

/// Builds the initial state: the built-in roles and the API account first (so it has the lowest
/// id), then the seed, then the Everyone group when the seed did not bring it.
///
/// # Errors
/// A seed file that cannot be read, parsed or loaded.
pub fn initial_store(seed: &Seed, api_username: &str) -> anyhow::Result<Store> {
    let mut store = Store::new();
    for change in api_account(&store, api_username) {
        store.apply(change);
    }
    match seed {
        Seed::Empty => {}
        Seed::Demo => {
            let demo: SeedFile = serde_json::from_str(DEMO_SEED).context("the built-in demo seed does not parse")?;
            file::load_for(&demo, &mut store, Some(api_username)).context("the built-in demo seed does not load")?;
        }
        Seed::File(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read seed file {}", path.display()))?;
            let seed: SeedFile = serde_json::from_slice(&bytes)
                .with_context(|| format!("seed file {} is not a valid seed", path.display()))?;
            file::load_for(&seed, &mut store, Some(api_username))
                .with_context(|| format!("seed file {}", path.display()))?;
        }
        Seed::Generate(spec) => {
            generate_into(&mut store, spec);
        }
    }
    if let Some(everyone) = everyone_group(&store) {
        store.apply(everyone);
    }
    Ok(store)
}

/// Generates a data set into a data directory, as one snapshot; `scim-connector sim generate`
/// calls this. The directory must hold no state unless `replace` is set. The API account is
/// created when the emulator first starts on the directory.
///
/// # Errors
/// The directory holds state (without `replace`), is in use, or cannot be written.
pub fn generate_data_dir(spec: &GenerateSpec, dir: &Path, replace: bool) -> anyhow::Result<Counts> {
    if DataDir::holds_state(dir) && !replace {
        return Err(PersistError::NotEmpty(dir.to_owned()))
            .context("pass --replace to overwrite it, or choose another data directory");
    }
    let opened = DataDir::open(dir)?;
    let mut store = Store::new();
    let started = std::time::Instant::now();
    let counts = generate_into(&mut store, spec);
    let db = crate::db::Db::new(store, Some(opened.data_dir), u64::MAX);
    db.compact().with_context(|| format!("cannot write the snapshot in {}", dir.display()))?;
    tracing::info!(?counts, elapsed_ms = started.elapsed().as_millis() as u64, "data set generated");
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_seed_loads_with_the_api_account_first() {
        let store = initial_store(&Seed::Demo, "api").unwrap();
        assert_eq!(store.user_by_name(LOCAL_DOMAIN_ID, "api").unwrap().id, 1);
        let counts = store.counts();
        assert_eq!(counts.users, 11);
        assert_eq!(counts.groups, 7, "six, and the Everyone group");
        assert_eq!(counts.folders, 8 + 1 + 10, "eight, \\Personal Folders, and one for each user but the API account");
        assert_eq!(counts.secrets, 12);
        assert!(counts.secret_permissions >= 4);
    }

    #[test]
    fn the_empty_seed_holds_only_the_api_account() {
        let store = initial_store(&Seed::Empty, "api").unwrap();
        assert_eq!(store.counts().users, 1);
        assert!(api_account(&store, "API").is_empty(), "names are case-insensitive");
    }

    #[test]
    fn the_api_account_and_the_demo_s_admin_hold_the_administrator_role() {
        let store = initial_store(&Seed::Demo, "api").unwrap();
        let admin_role = roles::ADMINISTRATOR_ROLE_ID;
        assert_eq!(store.role(admin_role).unwrap().name, secret_server_api::ADMINISTRATOR_ROLE);
        for name in ["api", "admin"] {
            let user = store.user_by_name(LOCAL_DOMAIN_ID, name).unwrap();
            assert!(store.holds_role(user.id, admin_role), "{name}");
        }
        let alice = store.user_by_name(LOCAL_DOMAIN_ID, "alice.martin").unwrap();
        assert!(!store.holds_role(alice.id, admin_role));
    }
}
