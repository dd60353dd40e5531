//! Generated protobuf and gRPC code for the wires between the connector's
//! services: the adapter's `Directory` and `Admin` gRPC services, the provisioning job and
//! its result, and the audit event.
//!
//! Modules mirror the proto packages. These types stay at the edges: services
//! convert them to validated domain types on receipt (`TryFrom`) and never
//! pass them further in. The conversions of the provisioning and directory
//! messages live in `adapter-api`, those of the audit events in `audit-events`.

#![allow(missing_debug_implementations, clippy::all)]

pub mod common {
    pub mod v1 {
        tonic::include_proto!("scimconnector.common.v1");
    }
}

pub mod directory {
    pub mod v1 {
        tonic::include_proto!("scimconnector.directory.v1");
    }
}

pub mod provisioning {
    pub mod v1 {
        tonic::include_proto!("scimconnector.provisioning.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("scimconnector.audit.v1");
    }
}

pub mod admin {
    pub mod v1 {
        tonic::include_proto!("scimconnector.admin.v1");

        /// Without the password.
        impl std::fmt::Debug for VerifyConsoleAccountRequest {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("VerifyConsoleAccountRequest")
                    .field("instance", &self.instance)
                    .field("username", &self.username)
                    .field("domain", &self.domain)
                    .finish_non_exhaustive()
            }
        }
    }
}

pub use prost::Message;

#[cfg(test)]
mod tests {
    #[test]
    fn a_console_account_check_never_shows_its_password() {
        let request = crate::admin::v1::VerifyConsoleAccountRequest {
            instance: "primary".to_owned(),
            username: "alice".to_owned(),
            password: "s3cret-Passw0rd".to_owned(),
            domain: "CORP".to_owned(),
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("alice") && shown.contains("CORP"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
