//! The HTTP Basic credentials of the server-to-server APIs (declared in the config).
use sea_orm::EntityTrait;

use super::tables::api_credential;
use super::{Store, StoreError};

impl Store {
    /// The credential with exactly this username.
    pub async fn find_api_credential(
        &self,
        username: &str,
    ) -> Result<Option<api_credential::Model>, StoreError> {
        Ok(api_credential::Entity::find_by_id(username.to_string())
            .one(&self.db)
            .await?)
    }
}
