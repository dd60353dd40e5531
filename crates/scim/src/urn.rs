//! The media type and the schema URNs the protocol speaks (RFC 7643 §8.7, RFC 7644 §3, the PAM draft).

/// The SCIM media type (RFC 7644 §8.1). Servers also accept `application/json`.
pub const MEDIA_TYPE: &str = "application/scim+json";

/// `ListResponse` messages (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// `PatchOp` request bodies (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Bulk request bodies (RFC 7644 §3.7).
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Bulk response bodies (RFC 7644 §3.7).
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// `POST /.search` bodies (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Error bodies (RFC 7644 §3.12).
pub const ERROR: &str = crate::error::ERROR_SCHEMA;

/// The core User schema (RFC 7643 §4.1).
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// PAM extension (draft-grizzle-scim-pam-ext, as SailPoint's PAM connector spells it): a folder.
pub const CONTAINER: &str = "urn:ietf:params:scim:schemas:pam:1.0:Container";
/// PAM: a folder permission.
pub const CONTAINER_PERMISSION: &str = "urn:ietf:params:scim:schemas:pam:1.0:ContainerPermission";
/// PAM: a secret's metadata (never its field values).
pub const PRIVILEGED_DATA: &str = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedData";
/// PAM: a secret permission.
pub const PRIVILEGED_DATA_PERMISSION: &str = "urn:ietf:params:scim:schemas:pam:1.0:PrivilegedDataPermission";
/// PAM: the extension on User and Group carrying SailPoint's correlation keys `source` and `nativeIdentifier`.
pub const LINKED_OBJECT: &str = "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject";

/// A Secret Server role, read-only (`/Roles`): the PAM draft defines no role schema, so the URN is
/// the connector's own.
pub const ROLE: &str = "urn:ietf:params:scim:schemas:extension:secretserver:2.0:Role";

/// The schema of `/ServiceProviderConfig` (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// The schema of `/ResourceTypes` entries (RFC 7643 §6).
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The schema of `/Schemas` entries (RFC 7643 §7).
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
