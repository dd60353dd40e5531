//! The role names of folder and secret permissions, as Secret Server spells them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// `folderAccessRoleName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FolderAccessRole {
    View,
    Edit,
    #[serde(rename = "Add Secret", alias = "AddSecret")]
    AddSecret,
    Owner,
}

/// `secretAccessRoleName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SecretAccessRole {
    None,
    List,
    View,
    Edit,
    Owner,
}

/// A role name Secret Server does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role name {0:?}")]
pub struct UnknownRole(pub String);

impl FolderAccessRole {
    pub const ALL: [FolderAccessRole; 4] =
        [FolderAccessRole::View, FolderAccessRole::Edit, FolderAccessRole::AddSecret, FolderAccessRole::Owner];

    /// The name as Secret Server spells it (`"Add Secret"` with a space).
    pub fn as_str(self) -> &'static str {
        match self {
            FolderAccessRole::View => "View",
            FolderAccessRole::Edit => "Edit",
            FolderAccessRole::AddSecret => "Add Secret",
            FolderAccessRole::Owner => "Owner",
        }
    }

    /// The role id Secret Server reports beside the name.
    pub fn id(self) -> i64 {
        match self {
            FolderAccessRole::View => 1,
            FolderAccessRole::Edit => 2,
            FolderAccessRole::AddSecret => 3,
            FolderAccessRole::Owner => 4,
        }
    }
}

impl SecretAccessRole {
    pub const ALL: [SecretAccessRole; 5] = [
        SecretAccessRole::None,
        SecretAccessRole::List,
        SecretAccessRole::View,
        SecretAccessRole::Edit,
        SecretAccessRole::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretAccessRole::None => "None",
            SecretAccessRole::List => "List",
            SecretAccessRole::View => "View",
            SecretAccessRole::Edit => "Edit",
            SecretAccessRole::Owner => "Owner",
        }
    }

    /// The numbering of `filter.permissionRequired` (List = 1 ... Owner = 4; None = 0).
    pub fn id(self) -> i64 {
        match self {
            SecretAccessRole::None => 0,
            SecretAccessRole::List => 1,
            SecretAccessRole::View => 2,
            SecretAccessRole::Edit => 3,
            SecretAccessRole::Owner => 4,
        }
    }
}

impl FromStr for FolderAccessRole {
    type Err = UnknownRole;
    /// Accepts Secret Server's spellings, case-insensitively (`Add Secret` and `AddSecret`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        match folded.as_str() {
            "view" => Ok(FolderAccessRole::View),
            "edit" => Ok(FolderAccessRole::Edit),
            "addsecret" => Ok(FolderAccessRole::AddSecret),
            "owner" => Ok(FolderAccessRole::Owner),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

impl FromStr for SecretAccessRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(SecretAccessRole::None),
            "list" => Ok(SecretAccessRole::List),
            "view" => Ok(SecretAccessRole::View),
            "edit" => Ok(SecretAccessRole::Edit),
            "owner" => Ok(SecretAccessRole::Owner),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

impl fmt::Display for FolderAccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SecretAccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
