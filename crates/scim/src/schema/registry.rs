//! The schema registry: every schema, every resource type, and path resolution against them.

use super::{Attribute, Schema};
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::urn;

/// A schema extension of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// A resource type (RFC 7643 §6): which schema and extensions a kind's resources use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub kind: ResourceKind,
    pub description: String,
    pub schema: String,
    pub extensions: Vec<SchemaExtension>,
}

/// The schemas and resource types this server speaks: built once, read-only, cheap to share in an `Arc`.
#[derive(Debug, Clone)]
pub struct Schemas {
    schemas: Vec<Schema>,
    common: Schema,
    resource_types: Vec<ResourceType>,
    /// Per kind (in `ResourceKind::ALL` order): the index of its core schema and of its
    /// extensions in `schemas`, so that hot paths never compare URNs.
    layout: Vec<(Option<usize>, Vec<usize>)>,
}

/// A resolved attribute: where it lives (core, or under an extension's URN key) and its definition.
#[derive(Debug, Clone, Copy)]
pub struct AttrRef<'a> {
    /// The extension schema holding the attribute; `None` for core and common attributes, which
    /// sit at the top level of a resource.
    pub extension: Option<&'a Schema>,
    pub attribute: &'a Attribute,
    pub sub_attribute: Option<&'a Attribute>,
}

impl<'a> AttrRef<'a> {
    /// The attribute the path ends at (the sub-attribute when there is one).
    pub fn leaf(&self) -> &'a Attribute {
        self.sub_attribute.unwrap_or(self.attribute)
    }

    /// The canonical spelling of the path: schema case, URN-qualified for extension attributes
    /// (`emails.value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`).
    pub fn canonical_path(&self) -> String {
        let mut out = String::new();
        if let Some(ext) = self.extension {
            out.push_str(&ext.id);
            out.push(':');
        }
        out.push_str(&self.attribute.name);
        if let Some(sub) = self.sub_attribute {
            out.push('.');
            out.push_str(&sub.name);
        }
        out
    }

    /// The same reference without its sub-attribute.
    pub fn parent(&self) -> AttrRef<'a> {
        AttrRef { extension: self.extension, attribute: self.attribute, sub_attribute: None }
    }
}

/// What a path names for a resource type: an attribute, or a whole extension (its URN alone).
#[derive(Debug, Clone, Copy)]
pub enum PathTarget<'a> {
    Attribute(AttrRef<'a>),
    Extension(&'a Schema),
}

// The schema data is compiled in; `standard()` parsing it is covered by tests, so a failure here is
// a build defect, never a client's doing.
const COMMON_JSON: &str = include_str!("data/common.json");
const STANDARD_JSON: [&str; 9] = [
    include_str!("data/user.json"),
    include_str!("data/group.json"),
    include_str!("data/enterprise_user.json"),
    include_str!("data/linked_object.json"),
    include_str!("data/container.json"),
    include_str!("data/container_permission.json"),
    include_str!("data/privileged_data.json"),
    include_str!("data/privileged_data_permission.json"),
    include_str!("data/role.json"),
];

impl Schemas {
    /// The standard registry: User (with the Enterprise and LinkedObject extensions), Group (with
    /// LinkedObject), the four PAM resource types and the read-only Role.
    pub fn standard() -> Self {
        let parse = |text: &str| -> Schema { serde_json::from_str(text).expect("embedded schema JSON is valid") };
        let schemas: Vec<Schema> = STANDARD_JSON.iter().map(|t| parse(t)).collect();
        let common = parse(COMMON_JSON);
        let ext = |schema: &str| SchemaExtension { schema: schema.to_owned(), required: false };
        let resource_types = ResourceKind::ALL
            .into_iter()
            .map(|kind| {
                let (description, extensions) = match kind {
                    ResourceKind::User => ("User Account", vec![ext(urn::ENTERPRISE_USER), ext(urn::LINKED_OBJECT)]),
                    ResourceKind::Group => ("Group", vec![ext(urn::LINKED_OBJECT)]),
                    ResourceKind::Container => ("A Secret Server folder", vec![]),
                    ResourceKind::ContainerPermission => ("A Secret Server folder permission", vec![]),
                    ResourceKind::PrivilegedData => ("A Secret Server secret's metadata", vec![]),
                    ResourceKind::PrivilegedDataPermission => ("A Secret Server secret permission", vec![]),
                    ResourceKind::Role => ("A Secret Server role (read-only)", vec![]),
                };
                ResourceType {
                    kind,
                    description: description.to_owned(),
                    schema: kind.schema_urn().to_owned(),
                    extensions,
                }
            })
            .collect::<Vec<ResourceType>>();
        let index_of = |urn: &str| schemas.iter().position(|s| s.id.eq_ignore_ascii_case(urn));
        let layout = resource_types
            .iter()
            .map(|rt| (index_of(&rt.schema), rt.extensions.iter().filter_map(|e| index_of(&e.schema)).collect()))
            .collect();
        Self { schemas, common, resource_types, layout }
    }

    fn layout(&self, kind: ResourceKind) -> Option<&(Option<usize>, Vec<usize>)> {
        let at = ResourceKind::ALL.iter().position(|k| *k == kind)?;
        self.layout.get(at)
    }

    /// Every served schema (what `/Schemas` lists).
    pub fn all(&self) -> &[Schema] {
        &self.schemas
    }

    /// Every resource type (what `/ResourceTypes` lists).
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The schema whose id is `urn`, case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The resource type of `kind`.
    pub fn resource_type(&self, kind: ResourceKind) -> &ResourceType {
        // Built from ResourceKind::ALL, so every kind is present; the fallback keeps this total.
        self.resource_types.iter().find(|r| r.kind == kind).unwrap_or(&self.resource_types[0])
    }

    /// The core schema of `kind`.
    pub fn core(&self, kind: ResourceKind) -> &Schema {
        self.layout(kind).and_then(|(core, _)| core.and_then(|i| self.schemas.get(i))).unwrap_or(&self.common)
    }

    /// The attributes every resource has (`id`, `externalId`, `schemas`, `meta`).
    pub fn common_attributes(&self) -> &[Attribute] {
        &self.common.attributes
    }

    /// The extension schemas `kind` may carry.
    pub fn extensions(&self, kind: ResourceKind) -> impl Iterator<Item = &Schema> {
        let indices: &[usize] = self.layout(kind).map_or(&[], |(_, ext)| ext.as_slice());
        indices.iter().filter_map(|i| self.schemas.get(*i))
    }

    /// The extension of `kind` whose URN is `urn`, case-insensitively.
    pub fn extension(&self, kind: ResourceKind, urn: &str) -> Option<&Schema> {
        // Attribute names cannot start with "urn:", so most lookups stop here.
        if urn.len() < 4 || !urn.as_bytes()[..4].eq_ignore_ascii_case(b"urn:") {
            return None;
        }
        self.extensions(kind).find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level attribute of `kind` outside any extension: common or core, case-insensitively.
    pub fn top_level(&self, kind: ResourceKind, name: &str) -> Option<&Attribute> {
        self.common.attribute(name).or_else(|| self.core(kind).attribute(name))
    }

    /// What `path` names for `kind`, or `None` when it names nothing this resource type has.
    ///
    /// Unqualified names are looked up among the common and core attributes (RFC 7644 §3.10 lets
    /// clients omit the core URN only); extension attributes need their URN.
    pub fn resolve(&self, kind: ResourceKind, path: &AttrPath) -> Option<PathTarget<'_>> {
        let (extension, attribute) = match &path.urn {
            None => (None, self.top_level(kind, &path.name)?),
            Some(urn) => {
                if path.sub.is_none() {
                    let whole = format!("{urn}:{}", path.name);
                    if let Some(ext) = self.extension(kind, &whole) {
                        return Some(PathTarget::Extension(ext));
                    }
                }
                if urn.eq_ignore_ascii_case(kind.schema_urn()) {
                    (None, self.top_level(kind, &path.name)?)
                } else {
                    let ext = self.extension(kind, urn)?;
                    (Some(ext), ext.attribute(&path.name)?)
                }
            }
        };
        let sub_attribute = match &path.sub {
            None => None,
            Some(sub) => Some(attribute.sub_attribute(sub)?),
        };
        Some(PathTarget::Attribute(AttrRef { extension, attribute, sub_attribute }))
    }

    /// The attribute `path` names for `kind` (parsing the path first); `None` for anything else,
    /// including a path that names a whole extension.
    pub fn attribute(&self, kind: ResourceKind, path: &str) -> Option<AttrRef<'_>> {
        let parsed = AttrPath::parse(path).ok()?;
        match self.resolve(kind, &parsed)? {
            PathTarget::Attribute(a) => Some(a),
            PathTarget::Extension(_) => None,
        }
    }
}

impl Default for Schemas {
    fn default() -> Self {
        Self::standard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{AttributeType, Mutability, Returned};

    #[test]
    fn standard_registry_parses_every_embedded_schema() {
        let s = Schemas::standard();
        assert_eq!(s.all().len(), 9);
        for kind in ResourceKind::ALL {
            assert_eq!(s.core(kind).id, kind.schema_urn());
        }
    }

    #[test]
    fn attribute_lookup_is_case_insensitive_and_reports_schema_case() {
        let s = Schemas::standard();
        let a = s.attribute(ResourceKind::User, "NAME.GIVENNAME").unwrap();
        assert_eq!(a.canonical_path(), "name.givenName");
        let a = s.attribute(ResourceKind::User, "urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(a.canonical_path(), "userName");
    }

    #[test]
    fn extension_attributes_need_their_urn() {
        let s = Schemas::standard();
        assert!(s.attribute(ResourceKind::User, "employeeNumber").is_none());
        let a = s
            .attribute(ResourceKind::User, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
        assert_eq!(a.canonical_path(), "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert!(
            s.attribute(ResourceKind::Group, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
                .is_none()
        );
    }

    #[test]
    fn a_bare_extension_urn_resolves_to_the_whole_extension() {
        let s = Schemas::standard();
        let p = AttrPath::parse(urn::ENTERPRISE_USER).unwrap();
        assert!(
            matches!(s.resolve(ResourceKind::User, &p), Some(PathTarget::Extension(e)) if e.id == urn::ENTERPRISE_USER)
        );
    }

    #[test]
    fn common_attributes_carry_rfc_characteristics() {
        let s = Schemas::standard();
        let id = s.attribute(ResourceKind::Group, "id").unwrap().attribute;
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert!(id.case_exact);
        let pw = s.attribute(ResourceKind::User, "password").unwrap().attribute;
        assert_eq!(pw.returned, Returned::Never);
        assert_eq!(pw.mutability, Mutability::WriteOnly);
        let modified = s.attribute(ResourceKind::Container, "meta.lastModified").unwrap().leaf();
        assert_eq!(modified.kind, AttributeType::DateTime);
    }

    #[test]
    fn pam_attributes_follow_the_documented_shape() {
        let s = Schemas::standard();
        let container = s.attribute(ResourceKind::ContainerPermission, "container").unwrap().attribute;
        assert!(container.required);
        assert_eq!(container.mutability, Mutability::Immutable);
        assert!(container.sub_attribute("name").is_some());
        let rights = s.attribute(ResourceKind::PrivilegedDataPermission, "rights").unwrap().attribute;
        assert!(rights.multi_valued);
        let pd = s.attribute(ResourceKind::Container, "privilegedData.type").unwrap();
        assert!(pd.attribute.multi_valued);
        // A PATCH moves secrets in and out by `value`; their name and template only follow.
        assert_eq!(pd.attribute.mutability, Mutability::ReadWrite);
        assert_eq!(pd.sub_attribute.unwrap().mutability, Mutability::ReadOnly);
        let value = s.attribute(ResourceKind::Container, "privilegedData.value").unwrap();
        assert_eq!(value.sub_attribute.unwrap().mutability, Mutability::ReadWrite);
        let linked =
            s.attribute(ResourceKind::Group, "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject:nativeIdentifier");
        assert!(linked.is_some());
    }

    #[test]
    fn privileged_data_schema_has_no_secret_field_values() {
        let s = Schemas::standard();
        let pd = s.core(ResourceKind::PrivilegedData);
        for name in ["password", "items", "fields", "secret", "value", "itemValue"] {
            assert!(pd.attribute(name).is_none(), "{name} must not be part of PrivilegedData");
        }
    }
}
