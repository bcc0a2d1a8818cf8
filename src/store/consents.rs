//! The scopes each user allowed each client, remembered so that consent is asked once.
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;

use super::audit::{Initiator, record};
use super::tables::consent;
use super::{Store, StoreError};
use crate::vocabulary::audit::AuditKind;

impl Store {
    /// Remembers the scopes a user allowed a client (replacing what was remembered before), with
    /// its audit event.
    pub async fn grant_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        by: &Initiator,
        now: i64,
    ) -> Result<(), StoreError> {
        let txn = self.writer.begin().await?;
        consent::Entity::insert(
            consent::Model {
                user_id: user_id.to_string(),
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                granted_at: now,
            }
            .into_active_model(),
        )
        .on_conflict(
            OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
                .update_columns([consent::Column::Scope, consent::Column::GrantedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let details = json!({ "client_id": client_id, "scope": scope });
        let event = by.event(AuditKind::ConsentGranted, Some(user_id), details);
        record(&txn, &event, now).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn consents_of(&self, user_id: &str) -> Result<Vec<consent::Model>, StoreError> {
        Ok(consent::Entity::find()
            .filter(consent::Column::UserId.eq(user_id))
            .order_by_asc(consent::Column::ClientId)
            .all(&self.db)
            .await?)
    }
}
