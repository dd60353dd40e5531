//! The secret templates the emulator knows (a fixed table, like the ones a
//! fresh Secret Server ships with). Only their names and field lists matter:
//! secrets hold metadata, and the one endpoint that shows field values
//! (`GET /secrets/{id}`) shows synthetic ones.

/// One field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateField {
    pub field_id: i64,
    pub name: &'static str,
    pub slug: &'static str,
    pub is_password: bool,
}

/// A secret template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub id: i64,
    pub name: &'static str,
    pub fields: &'static [TemplateField],
}

const fn field(field_id: i64, name: &'static str, slug: &'static str, is_password: bool) -> TemplateField {
    TemplateField { field_id, name, slug, is_password }
}

/// Every template, by id.
pub const TEMPLATES: &[Template] = &[
    Template {
        id: 2,
        name: "Password",
        fields: &[
            field(7, "Resource", "resource", false),
            field(8, "Username", "username", false),
            field(9, "Password", "password", true),
            field(10, "Notes", "notes", false),
        ],
    },
    Template {
        id: 9,
        name: "Web Password",
        fields: &[
            field(38, "URL", "url", false),
            field(39, "Username", "username", false),
            field(40, "Password", "password", true),
            field(41, "Notes", "notes", false),
        ],
    },
    Template {
        id: 6000,
        name: "Active Directory Account",
        fields: &[
            field(100, "Domain", "domain", false),
            field(101, "Username", "username", false),
            field(102, "Password", "password", true),
            field(103, "Notes", "notes", false),
        ],
    },
    Template {
        id: 6001,
        name: "Windows Account",
        fields: &[
            field(108, "Machine", "machine", false),
            field(109, "Username", "username", false),
            field(110, "Password", "password", true),
            field(111, "Notes", "notes", false),
        ],
    },
    Template {
        id: 6003,
        name: "SQL Server Account",
        fields: &[
            field(120, "Server", "server", false),
            field(121, "Username", "username", false),
            field(122, "Password", "password", true),
            field(123, "Database", "database", false),
            field(124, "Notes", "notes", false),
        ],
    },
    Template {
        id: 6007,
        name: "Unix Account (SSH)",
        fields: &[
            field(150, "Machine", "machine", false),
            field(151, "Username", "username", false),
            field(152, "Password", "password", true),
            field(153, "Private Key", "private-key", true),
            field(154, "Notes", "notes", false),
        ],
    },
];

/// The template with this id.
pub fn by_id(id: i64) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.id == id)
}

/// The template with this name (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name.eq_ignore_ascii_case(name.trim()))
}
