//! Keys the server makes for itself and shares across processes through the database.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{EntityTrait, Set};

use super::tables::server_secret;
use super::{Store, StoreError};
use crate::crypto;

impl Store {
    /// The 32-byte secret called `name`, made on first use. Two processes starting at once agree
    /// on one value: the insert does nothing if the other process wrote first.
    pub async fn server_secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        server_secret::Entity::insert(server_secret::ActiveModel {
            name: Set(name.to_string()),
            value: Set(STANDARD.encode(crypto::random_bytes())),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&self.writer)
        .await?;
        let stored = server_secret::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("server secret {name} vanished")))?;
        STANDARD
            .decode(&stored.value)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("server secret {name} is not 32 bytes")))
    }
}
