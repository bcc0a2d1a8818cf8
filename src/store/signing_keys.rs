//! Stored signing keys.
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use super::tables::signing_key;
use super::{Store, StoreError};

impl Store {
    /// Keys not yet retired.
    pub async fn active_signing_keys(&self) -> Result<Vec<signing_key::Model>, StoreError> {
        Ok(signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .all(&self.db)
            .await?)
    }

    pub async fn insert_signing_key(&self, key: signing_key::Model) -> Result<(), StoreError> {
        key.into_active_model().insert(&self.writer).await?;
        Ok(())
    }

    /// Replaces a key's clear private key with its encrypted form.
    pub async fn store_encrypted_private_key(
        &self,
        kid: &str,
        encrypted: String,
    ) -> Result<(), StoreError> {
        signing_key::Entity::update(signing_key::ActiveModel {
            kid: Set(kid.to_string()),
            private_key: Set(encrypted),
            encrypted: Set(true),
            ..Default::default()
        })
        .exec(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes a key out of JWKS for good.
    pub async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
        signing_key::Entity::update(signing_key::ActiveModel {
            kid: Set(kid.to_string()),
            retired_at: Set(Some(now)),
            ..Default::default()
        })
        .exec(&self.writer)
        .await?;
        Ok(())
    }
}
