//! Schemas as data (RFC 7643 §2, §7): attribute characteristics, the standard schemas, and the
//! discovery documents built from them.
//!
//! The schema definitions live in `data/*.json`, written in the RFC 7643 §7 representation. A
//! characteristic left out of a definition takes the RFC 7643 §2.2 default (`required` false,
//! `caseExact` false, `mutability` readWrite, `returned` default, `uniqueness` none). One private
//! key is added: `x-strictCanonicalValues`, for the few attributes whose `canonicalValues` are a
//! closed set that validation enforces (Group `members.type`); for every other attribute the RFC
//! calls canonical values suggestions, and values outside them are kept. A second private key,
//! `x-ignoredSubAttributes`, names sub-attributes that are not in the schema but that clients send
//! anyway and that are dropped on input instead of refused: Group `members.display` and Container
//! `parent.display`. RFC 7643 §8.7.1 gives `members` only `value`, `$ref` and `type`, yet its own
//! examples (§8.4, RFC 7644 §3.5.2) and Okta send a member's `display`; the server never returns it
//! (a client that compares what it wrote with what it reads back sees exactly its own value).
//! Neither key is ever served.

mod documents;
mod registry;

pub use registry::{AttrRef, PathTarget, ResourceType, SchemaExtension, Schemas};

use serde::{Deserialize, Serialize};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttributeType {
    /// The wire spelling, e.g. `"dateTime"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Boolean => "boolean",
            AttributeType::Decimal => "decimal",
            AttributeType::Integer => "integer",
            AttributeType::DateTime => "dateTime",
            AttributeType::Binary => "binary",
            AttributeType::Reference => "reference",
            AttributeType::Complex => "complex",
        }
    }
}

/// Whether and how an attribute can be changed (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// How unique an attribute's value is (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition with its characteristics (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<Attribute>,
    /// Whether `canonical_values` is a closed set that validation enforces (see the module docs).
    #[serde(rename = "x-strictCanonicalValues", default, skip_serializing)]
    pub strict_canonical_values: bool,
    /// Sub-attribute names a client may send that are dropped, not refused (see the module docs).
    #[serde(rename = "x-ignoredSubAttributes", default, skip_serializing)]
    pub ignored_sub_attributes: Vec<String>,
}

impl Attribute {
    /// The sub-attribute called `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether `name` is a sub-attribute clients send that is dropped on input (see the module docs).
    pub fn ignores_sub_attribute(&self, name: &str) -> bool {
        self.ignored_sub_attributes.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Whether this is a complex attribute.
    pub fn is_complex(&self) -> bool {
        self.kind == AttributeType::Complex
    }

    /// The attribute a filter or sort means when it names this one: a complex attribute stands
    /// for its `value` sub-attribute (`container eq "12"` is `container.value eq "12"`).
    pub fn comparable(&self) -> Option<&Attribute> {
        if self.is_complex() { self.sub_attribute("value") } else { Some(self) }
    }
}

/// A schema: an id (URN), a name and its attributes (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The attribute called `name`, compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}
