//! What the gRPC service and the workers share: the instances, the connections, the schemas, the
//! events stream; and the resolution of a request's caller (its connection and instance).

use crate::bounds::ExpensiveWork;
use crate::instance::Instance;
use crate::mapping::View;
use crate::read_model::state::State;
use crate::settings::AdapterSettings;
use connections::scope::{self, Action};
use connections::{Connection, ConnectionId, ConnectionStore};
use job_queue::EventBus;
use scim::{ResourceKind, Schemas};
use service_error::{ErrorKind, ServiceError};
use std::collections::HashMap;
use std::sync::Arc;

/// The adapter's shared state.
#[derive(Debug)]
pub struct Core {
    /// By lower-cased name.
    pub instances: HashMap<String, Arc<Instance>>,
    pub connections: ConnectionStore,
    pub schemas: Arc<Schemas>,
    pub events: Arc<dyn EventBus>,
    /// Expensive work, bounded per connection.
    pub expensive: ExpensiveWork,
    pub settings: AdapterSettings,
    /// With several replicas: how far this one has followed the others' changes, which reads
    /// wait for (see [`crate::replication`]).
    pub freshness: Option<Arc<crate::replication::Freshness>>,
    /// What each connection is shown of a version (see [`crate::meta::VersionTags`]).
    pub version_tags: Arc<crate::meta::VersionTags>,
}

/// Who is asking, resolved: the connection and the instance it is bound to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Shared with the connection store's cache: resolving a caller copies nothing.
    pub connection: Arc<Connection>,
    pub instance: Arc<Instance>,
    pub version_tags: Arc<crate::meta::VersionTags>,
}

impl Core {
    /// Whether this adapter can serve: no instance still on its first attempt to load, and one
    /// loaded at least (or none configured). An instance whose load failed (unreachable, or
    /// refusing the account) does not hold the others back: its requests answer `503` saying
    /// why while its loads are tried again, and the adapter stays ready for the other
    /// instances, so one unreachable Secret Server does not make every gateway unready. One
    /// that cannot load any instance is not ready (another replica may).
    pub fn ready(&self) -> bool {
        use crate::instance::FirstLoad;
        let loads: Vec<FirstLoad> = self.instances.values().map(|i| i.first_load()).collect();
        !loads.contains(&FirstLoad::UnderWay) && (loads.is_empty() || loads.contains(&FirstLoad::Done))
    }

    /// The instance called `name`, case-insensitively.
    pub fn instance(&self, name: &str) -> Option<&Arc<Instance>> {
        self.instances.get(&name.to_ascii_lowercase())
    }

    /// Resolves a caller from its connection id.
    ///
    /// # Errors
    /// `PermissionDenied` for an unknown or disabled connection; `Internal` for a connection bound
    /// to an instance this adapter does not serve (a configuration mistake, logged);
    /// `Unavailable` when the connection store cannot be read.
    pub async fn caller(&self, connection_id: &str) -> Result<Caller, ServiceError> {
        let denied = || ServiceError::new(ErrorKind::PermissionDenied, "the connection is unknown or disabled");
        let id: ConnectionId = connection_id.parse().map_err(|_| denied())?;
        let connection = self
            .connections
            .get_shared(&id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read connections");
                ServiceError::unavailable("the connection store is unavailable").with_retry_after(5)
            })?
            .filter(|c| c.enabled)
            .ok_or_else(denied)?;
        let instance = self.instance(&connection.secret_server).cloned().ok_or_else(|| {
            tracing::error!(connection = %id, instance = %connection.secret_server,
                "connection bound to a Secret Server instance this adapter does not serve");
            ServiceError::internal("the connection's Secret Server instance is not configured")
        })?;
        Ok(Caller { connection, instance, version_tags: self.version_tags.clone() })
    }
}

impl Caller {
    /// Checks the connection's scope for `action` on `kind`, with the one scope decision the
    /// gateway makes first ([`connections::scope`]); this is defence in depth.
    ///
    /// # Errors
    /// `NotFound` for a type the connection cannot read, `PermissionDenied` naming the action
    /// for a readable type whose action is not allowed.
    pub fn check(&self, kind: ResourceKind, action: Action) -> Result<(), ServiceError> {
        scope::require(&self.connection, kind, action).map_err(ServiceError::from)
    }

    /// The read model as this caller sees it.
    pub fn view<'a>(&'a self, state: &'a State) -> View<'a> {
        View {
            state,
            rights: &self.connection.rights,
            deleted_users: self.connection.policies.deleted_users,
            scope: &self.connection.scope,
            connection: &self.connection.id,
            version_tags: &self.version_tags,
        }
    }

    /// `Unavailable` until the instance's first load has finished.
    ///
    /// # Errors
    /// As described.
    pub fn require_loaded(&self) -> Result<(), ServiceError> {
        use crate::instance::FirstLoad;
        let name = &self.instance.name;
        let detail = match self.instance.first_load() {
            FirstLoad::Done => return Ok(()),
            FirstLoad::UnderWay => format!("the read model of Secret Server instance '{name}' is still loading"),
            // Why stays in the adapter's log and `/readyz`: a load error may name Secret Server's
            // address or quote its answers, which are not the client's business.
            FirstLoad::Failed(_) => {
                format!("Secret Server instance '{name}' could not be loaded yet; it is tried again")
            }
        };
        Err(ServiceError::unavailable(detail).with_retry_after(5))
    }
}
