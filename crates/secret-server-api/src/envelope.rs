//! What every endpoint shares: the paging envelope, the error bodies, the
//! delete and boolean results, and the `{dirty, value}` patch convention.

use serde::{Deserialize, Serialize};

/// The paged envelope of every search endpoint (`GET /users`, `/groups`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PagedResult<T> {
    pub records: Vec<T>,
    pub total: i64,
    pub skip: i64,
    pub take: i64,
    pub batch_count: i64,
    pub current_page: i64,
    pub page_count: i64,
    pub has_next: bool,
    pub has_prev: bool,
    pub next_skip: i64,
    pub prev_skip: i64,
    pub sort_by: Vec<SortSpec>,
    pub success: bool,
    pub severity: String,
}

impl<T> Default for PagedResult<T> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            total: 0,
            skip: 0,
            take: 0,
            batch_count: 0,
            current_page: 0,
            page_count: 0,
            has_next: false,
            has_prev: false,
            next_skip: 0,
            prev_skip: 0,
            sort_by: Vec::new(),
            success: true,
            severity: "None".to_owned(),
        }
    }
}

impl<T> PagedResult<T> {
    /// The envelope Secret Server returns for one page of `total` records.
    pub fn page(records: Vec<T>, total: i64, skip: i64, take: i64, sort_by: Vec<SortSpec>) -> Self {
        let take = take.max(0);
        let page_count = if take == 0 { 0 } else { (total + take - 1) / take };
        let current_page = if take == 0 { 0 } else { skip / take + 1 };
        let next = skip + records.len() as i64;
        Self {
            batch_count: page_count,
            current_page,
            page_count,
            has_next: next < total,
            has_prev: skip > 0,
            next_skip: if next < total { next } else { 0 },
            prev_skip: (skip - take).max(0),
            records,
            total,
            skip,
            take,
            sort_by,
            success: true,
            severity: "None".to_owned(),
        }
    }
}

/// One entry of `sortBy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SortSpec {
    pub name: String,
    /// `Asc`, `Desc` or `None`.
    pub direction: String,
    pub priority: i32,
}

impl Default for SortSpec {
    fn default() -> Self {
        Self { name: String::new(), direction: "Asc".to_owned(), priority: 0 }
    }
}

/// `/lookup` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[derive(Default)]
pub struct Lookup {
    pub id: i64,
    pub value: String,
}

/// The body of a `400 Bad request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BadRequestBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_state: Option<serde_json::Value>,
}

/// The body of a `403` (authentication failed, expired token, or access denied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    pub message: String,
}

/// The body of a `500 Internal server error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct InternalErrorBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
}

/// What `DELETE` returns on users, groups, memberships, folders and permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeleteResult {
    pub id: i64,
    pub object_type: String,
    pub response_codes: Vec<String>,
}

/// `{success: bool}`, returned by membership bulk operations and role assignments. An answer
/// without `success` states no failure: it reads as `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessResult {
    #[serde(default = "no_failure_stated")]
    pub success: bool,
}

impl Default for SuccessResult {
    fn default() -> Self {
        Self { success: true }
    }
}

fn no_failure_stated() -> bool {
    true
}

/// One patched property: Secret Server applies it only when `dirty` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch<T> {
    pub dirty: bool,
    pub value: T,
}

impl<T> Patch<T> {
    /// A property to change to `value`.
    pub fn set(value: T) -> Self {
        Self { dirty: true, value }
    }
}
