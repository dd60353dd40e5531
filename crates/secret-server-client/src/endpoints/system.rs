//! The health probe and the API account itself.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::QueryPairs;
use crate::route::{ApiPath, Route};
use secret_server_api::{CurrentUser, HealthCheck};

impl SecretServerClient {
    /// `GET /healthcheck`, without a token: is Secret Server up?
    ///
    /// # Errors
    /// The classified [`ClientError`] when it does not answer.
    pub async fn healthcheck(&self) -> Result<HealthCheck, ClientError> {
        self.send(Call::get(ApiPath::fixed(Route::Healthcheck), QueryPairs::new()).unauthenticated()).await
    }

    /// `GET /users/current`: the API account and its role permissions. Also
    /// the cheapest way to check the credentials.
    ///
    /// # Errors
    /// [`ClientError::AuthenticationFailed`] when the credentials are refused.
    pub async fn current_user(&self) -> Result<CurrentUser, ClientError> {
        self.send(Call::get(ApiPath::fixed(Route::CurrentUser), QueryPairs::new())).await
    }
}
