//! One method per Secret Server endpoint, grouped by resource.

mod folder_permissions;
mod folders;
mod groups;
mod roles;
mod secret_permissions;
mod secrets;
mod system;
mod users;
