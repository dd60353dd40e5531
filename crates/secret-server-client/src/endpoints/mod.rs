//! One method per Secret Server endpoint, grouped by resource.

mod folder_permissions;
mod folders;
mod groups;
mod roles;
mod secret_permissions;
mod secrets;
mod system;
mod users;

use crate::error::ClientError;
use secret_server_api::SuccessResult;

/// A membership or role operation's answer, refused when it says the change was not made.
fn applied(operation: &'static str, result: SuccessResult) -> Result<SuccessResult, ClientError> {
    if result.success { Ok(result) } else { Err(ClientError::NotApplied { operation }) }
}
