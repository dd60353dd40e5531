//! PATCH paths (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`.

use crate::error::{ScimError, ScimType};
use crate::filter::{Filter, FilterLimits};
use crate::path::AttrPath;
use std::fmt;

/// The target of a PATCH operation: an attribute (possibly URN-qualified, possibly with a
/// sub-attribute), or the elements of a multi-valued attribute selected by a value filter, possibly
/// narrowed to one of their sub-attributes (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`; when there is no filter the sub-attribute is `attr.sub`.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a path with the default filter limits.
    ///
    /// # Errors
    /// `invalidPath`, naming the position of the problem.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let (attr, filter, sub) = crate::filter::parse_patch_path(text, FilterLimits::DEFAULT).map_err(|e| {
            if e.scim_type == Some(ScimType::InvalidPath) {
                e
            } else {
                ScimError::invalid_path(format!("invalid path '{}': {}", shorten(text), e.detail))
            }
        })?;
        Ok(Self { attr, filter, sub })
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text.to_owned()
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PatchPath {
    type Err = ScimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PatchPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_paths_parse_and_print_back() {
        for text in [
            "members",
            "name.familyName",
            r#"addresses[type eq "work"]"#,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            r#"emails[type eq "work" and value ew "example.com"]"#,
            r#"addresses[type eq "work"].streetAddress"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ] {
            let p = PatchPath::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
        }
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for text in [
            "",
            "emails[",
            "emails[type eq]",
            "emails.type[value eq \"x\"]",
            "emails]",
            "a b",
            "emails[type eq \"w\"].x.y",
        ] {
            let e = PatchPath::parse(text).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{text}");
        }
    }
}
