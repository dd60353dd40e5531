//! Secrets: metadata only. Search (by folder, with sub-folders, by text,
//! active/inactive, template), lookup, summary; create and delete (which
//! deactivates) so that tests and seeds can shape the data.
//!
//! The emulator never stores a field value. `GET /secrets/{id}` exists for
//! realism and answers with synthetic values, so a client test can prove it is
//! never called (the request log records every request).
//!
//! Access: searches list only the secrets the caller may list (List or better,
//! from the secret's own permissions or, when it inherits, its folder's);
//! reading one it may not is access denied.

use super::search::{Paging, SortKey};
use super::{Change, Store, Viewer, now_iso, templates};
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{DeleteResult, Lookup, PagedResult, ROOT_FOLDER_ID, SecretSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The fields `GET /secrets` can sort by.
pub const SECRET_SORT: &[&str] = &["id", "name", "folderId", "secretTemplateName", "secretTemplateId", "createDate"];

/// The filters of `GET /secrets` and `GET /secrets/lookup`.
#[derive(Debug, Clone)]
pub struct SecretFilter {
    pub folder_id: Option<i64>,
    pub include_sub_folders: bool,
    /// Lower-cased `filter.searchText` (matched against the name).
    pub search_text: Option<String>,
    pub include_inactive: bool,
    pub include_active: bool,
    pub secret_template_id: Option<i64>,
}

impl Default for SecretFilter {
    fn default() -> Self {
        Self {
            folder_id: None,
            include_sub_folders: false,
            search_text: None,
            include_inactive: false,
            include_active: true,
            secret_template_id: None,
        }
    }
}

/// `POST /secrets`: the metadata of a new secret. Field values (`items`) are accepted and discarded.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretCreateArgs {
    pub name: String,
    pub folder_id: i64,
    pub secret_template_id: i64,
    pub site_id: i64,
    pub check_out_enabled: bool,
    pub auto_change_enabled: bool,
    pub requires_comment: bool,
}

/// One field of the synthetic `GET /secrets/{id}` answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyntheticItem {
    pub item_id: i64,
    pub field_id: i64,
    pub field_name: &'static str,
    pub slug: &'static str,
    pub is_password: bool,
    pub item_value: String,
}

/// The synthetic `GET /secrets/{id}` answer: the summary plus `items`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyntheticSecret {
    #[serde(flatten)]
    pub summary: SecretSummary,
    pub items: Vec<SyntheticItem>,
}

impl Store {
    fn folder_scope(&self, filter: &SecretFilter) -> Option<BTreeSet<i64>> {
        let folder_id = filter.folder_id?;
        let mut scope = BTreeSet::from([folder_id]);
        if filter.include_sub_folders {
            let mut stack = vec![folder_id];
            while let Some(f) = stack.pop() {
                for child in self.child_folders(f) {
                    if scope.insert(child) {
                        stack.push(child);
                    }
                }
            }
        }
        Some(scope)
    }

    fn matching_secrets<'a>(&'a self, viewer: Viewer, filter: &'a SecretFilter) -> Vec<&'a SecretSummary> {
        let keep = |e: &super::SecretEntry| {
            let s = &e.secret;
            ((s.active && filter.include_active) || (!s.active && filter.include_inactive))
                && self.can_list_secret(viewer, s.id)
                && filter.secret_template_id.is_none_or(|t| t == s.secret_template_id)
                && filter.search_text.as_deref().is_none_or(|t| e.search_key.contains(t))
        };
        match self.folder_scope(filter) {
            Some(scope) => {
                let mut ids: Vec<i64> =
                    scope.iter().flat_map(|f| self.secrets_by_folder.get(f).into_iter().flatten().copied()).collect();
                ids.sort_unstable();
                ids.iter().filter_map(|id| self.secrets.get(id)).filter(|e| keep(e)).map(|e| &e.secret).collect()
            }
            None => self.secrets.values().filter(|e| keep(e)).map(|e| &e.secret).collect(),
        }
    }

    fn select_secrets<'a>(
        &'a self,
        viewer: Viewer,
        filter: &'a SecretFilter,
        paging: &Paging,
    ) -> (Vec<&'a SecretSummary>, i64) {
        paging.select(self.matching_secrets(viewer, filter).into_iter(), "id", |field, s| match field {
            "name" => SortKey::text(&s.name),
            "folderId" => s.folder_id.into(),
            "secretTemplateName" => SortKey::text(&s.secret_template_name),
            "secretTemplateId" => s.secret_template_id.into(),
            "createDate" => SortKey::opt_text(s.create_date.as_deref()),
            _ => s.id.into(),
        })
    }

    /// `GET /secrets` (`/v2/secrets`): the secrets `viewer` may list.
    pub fn search_secrets(&self, viewer: Viewer, filter: &SecretFilter, paging: &Paging) -> PagedResult<SecretSummary> {
        let (window, total) = self.select_secrets(viewer, filter, paging);
        paging.envelope(window.into_iter().cloned().collect(), total)
    }

    /// `GET /secrets/lookup`: the secrets `viewer` may list.
    pub fn lookup_secrets(&self, viewer: Viewer, filter: &SecretFilter, paging: &Paging) -> PagedResult<Lookup> {
        let (window, total) = self.select_secrets(viewer, filter, paging);
        paging.envelope(window.into_iter().map(|s| Lookup { id: s.id, value: s.name.clone() }).collect(), total)
    }

    /// One secret's metadata.
    ///
    /// # Errors
    /// `API_SecretNotFound`.
    pub fn get_secret_summary(&self, id: i64) -> SimResult<SecretSummary> {
        self.secret(id).cloned().ok_or(SimError::NotFound(Thing::Secret, id))
    }

    /// `GET /secrets/{id}/summary` (and `/secrets/lookup/{id}`) as `viewer` may read it.
    ///
    /// # Errors
    /// `API_SecretNotFound`; access denied on a secret `viewer` may not list.
    pub fn secret_summary_for(&self, viewer: Viewer, id: i64) -> SimResult<SecretSummary> {
        let secret = self.get_secret_summary(id)?;
        if !self.can_list_secret(viewer, id) {
            return Err(SimError::denied(format!("a role on secret {id}")));
        }
        Ok(secret)
    }

    /// `GET /secrets/{id}`: the summary plus synthetic field values.
    ///
    /// # Errors
    /// `API_SecretNotFound`.
    pub fn get_synthetic_secret(&self, id: i64) -> SimResult<SyntheticSecret> {
        let summary = self.get_secret_summary(id)?;
        let items = templates::by_id(summary.secret_template_id)
            .map(|t| t.fields)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(n, f)| SyntheticItem {
                item_id: id * 100 + n as i64,
                field_id: f.field_id,
                field_name: f.name,
                slug: f.slug,
                is_password: f.is_password,
                item_value: format!("synthetic-{}-{id}", f.slug),
            })
            .collect();
        Ok(SyntheticSecret { summary, items })
    }

    /// Plans `POST /secrets`.
    ///
    /// # Errors
    /// A missing name, an unknown folder or template.
    pub fn plan_create_secret(&self, args: SecretCreateArgs) -> SimResult<(Vec<Change>, i64)> {
        if args.name.trim().is_empty() {
            return Err(SimError::invalid("name", "name is required."));
        }
        let folder_id = if args.folder_id == 0 { ROOT_FOLDER_ID } else { args.folder_id };
        if folder_id != ROOT_FOLDER_ID && self.folder(folder_id).is_none() {
            return Err(SimError::NotFound(Thing::Folder, folder_id));
        }
        let template = templates::by_id(args.secret_template_id)
            .ok_or(SimError::NotFound(Thing::SecretTemplate, args.secret_template_id))?;
        let id = self.next.secret;
        let secret = SecretSummary {
            id,
            name: args.name.trim().to_owned(),
            folder_id,
            secret_template_id: template.id,
            secret_template_name: template.name.to_owned(),
            site_id: if args.site_id <= 0 { 1 } else { args.site_id },
            active: true,
            create_date: Some(now_iso()),
            check_out_enabled: args.check_out_enabled,
            auto_change_enabled: args.auto_change_enabled,
            requires_comment: args.requires_comment,
            inherits_permissions: folder_id != ROOT_FOLDER_ID,
            ..SecretSummary::default()
        };
        Ok((vec![Change::PutSecret(secret)], id))
    }

    /// Plans `DELETE /secrets/{id}`: the secret is deactivated (kept for audit, like users).
    ///
    /// # Errors
    /// `API_SecretNotFound`.
    pub fn plan_delete_secret(&self, id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        let secret = self.get_secret_summary(id)?;
        let result = DeleteResult { id, object_type: "Secret".to_owned(), response_codes: Vec::new() };
        if !secret.active {
            return Ok((Vec::new(), result));
        }
        Ok((vec![Change::PutSecret(SecretSummary { active: false, ..secret })], result))
    }

    /// Plans `PATCH /secrets/{id}/general` with `data.folder`: moves the secret. As Secret Server
    /// does, the caller needs Edit (or Owner) on the secret and Add Secret (or better) on the
    /// folder it goes to; a secret that inherits its permissions then inherits the new folder's
    /// (at the root, where there is nothing to inherit, it stops inheriting).
    ///
    /// # Errors
    /// `API_SecretNotFound` (also for a secret the caller may not list), an unknown folder, access
    /// denied for a missing role.
    pub fn plan_move_secret(&self, viewer: Viewer, id: i64, folder_id: i64) -> SimResult<(Vec<Change>, i64)> {
        let secret = self.get_secret_summary(id)?;
        if !self.can_list_secret(viewer, id) {
            return Err(SimError::NotFound(Thing::Secret, id));
        }
        let folder_id = if folder_id == 0 { ROOT_FOLDER_ID } else { folder_id };
        if folder_id != ROOT_FOLDER_ID && self.folder(folder_id).is_none() {
            return Err(SimError::NotFound(Thing::Folder, folder_id));
        }
        if self.secret_role_of(viewer, id).is_none_or(|r| r.id() < secret_server_api::SecretAccessRole::Edit.id()) {
            return Err(SimError::denied(format!("Edit on secret {id}")));
        }
        if folder_id != ROOT_FOLDER_ID && !self.can_add_secret(viewer, folder_id) {
            return Err(SimError::denied(format!("Add Secret on folder {folder_id}")));
        }
        if secret.folder_id == folder_id {
            return Ok((Vec::new(), id));
        }
        let inherits_permissions = secret.inherits_permissions && folder_id != ROOT_FOLDER_ID;
        Ok((vec![Change::PutSecret(SecretSummary { folder_id, inherits_permissions, ..secret })], id))
    }

    /// The answer of `PATCH /secrets/{id}/general`: the published `SecretDetailGeneralViewModel`'s
    /// id, name, folder and active state, and its `fields` as Secret Server fills them, with the
    /// secret's field values. The emulator stores no value: each field's is made up and begins
    /// with [`FIELD_VALUE_MARK`], so that a test can show none of them goes further than the
    /// client's decoding.
    ///
    /// # Errors
    /// `API_SecretNotFound`.
    pub fn secret_general(&self, id: i64) -> SimResult<SecretGeneralView> {
        let s = self.get_secret_summary(id)?;
        let field = |name: &str, slug: &str, kind: &str| ViewTemplateField {
            name: name.to_owned(),
            label: name.to_owned(),
            slug: slug.to_owned(),
            kind: kind.to_owned(),
            value: format!("{FIELD_VALUE_MARK}:{id}:{slug}"),
        };
        Ok(SecretGeneralView {
            id: s.id,
            name: ViewValue { value: serde_json::Value::String(s.name.clone()) },
            folder: ViewValue { value: serde_json::Value::from(s.folder_id) },
            active: ViewValue { value: serde_json::Value::Bool(s.active) },
            fields: vec![
                field("Username", "username", "Text"),
                field("Password", "password", "Password"),
                field("Notes", "notes", "Notes"),
            ],
        })
    }
}

/// How every field value the emulator makes up for a secret's general view begins.
pub const FIELD_VALUE_MARK: &str = "emulated-secret-field-value";

/// A `ViewTemplateFieldOfString` of the general view: a field of the secret and its value.
#[derive(Debug, Clone, Serialize)]
pub struct ViewTemplateField {
    pub name: String,
    pub label: String,
    pub slug: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// A `ViewFieldValueOf*` with its value only.
#[derive(Debug, Clone, Serialize)]
pub struct ViewValue {
    pub value: serde_json::Value,
}

/// The emulator's `SecretDetailGeneralViewModel`: the secret's metadata and its fields with
/// made-up values.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretGeneralView {
    pub id: i64,
    pub name: ViewValue,
    pub folder: ViewValue,
    pub active: ViewValue,
    pub fields: Vec<ViewTemplateField>,
}
