//! Authorization requests kept while the person is away at login or consent, and how many rows
//! of that kind a request without credentials has made idbridge keep.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, IntoActiveModel, QueryFilter,
};

use super::tables::{pending_authorization, upstream_login};
use super::{Store, StoreError};

/// An authorization request kept until the person comes back from login or consent (the
/// `pending_authorizations` row), its values in their stored text form.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct PendingRow {
    pub id: String,
    /// SHA-256 of the flow cookie of the browser that started it.
    pub browser_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Space-separated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: String,
    /// Space-separated; `None` when the request gave none.
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl From<PendingRow> for pending_authorization::Model {
    fn from(new: PendingRow) -> Self {
        pending_authorization::Model {
            id: new.id,
            browser_hash: new.browser_hash,
            client_id: new.client_id,
            redirect_uri: new.redirect_uri,
            scope: new.scope,
            state: new.state,
            nonce: new.nonce,
            code_challenge: new.code_challenge,
            response_mode: new.response_mode,
            prompt: new.prompt,
            max_age: new.max_age,
            login_hint: new.login_hint,
            created_at: new.created_at,
            expires_at: new.expires_at,
        }
    }
}

impl Store {
    pub async fn create_pending(&self, pending: PendingRow) -> Result<(), StoreError> {
        pending_authorization::Model::from(pending)
            .into_active_model()
            .insert(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn find_pending(&self, id: &str, now: i64) -> Result<Option<PendingRow>, StoreError> {
        Ok(pending_authorization::Entity::find_by_id(id.to_string())
            .filter(pending_authorization::Column::ExpiresAt.gt(now))
            .into_model::<PendingRow>()
            .one(&self.db)
            .await?)
    }

    /// Removes a pending authorization; `true` for the one caller that removed it.
    pub async fn finish_pending(&self, id: &str) -> Result<bool, StoreError> {
        let result = pending_authorization::Entity::delete_by_id(id.to_string())
            .exec(&self.writer)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// How many unexpired rows wait for a person to come back: pending authorizations and upstream
    /// logins, the two things a request without credentials can make idbridge store.
    pub async fn count_live_pending(&self, now: i64) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        let authorizations = pending_authorization::Entity::find()
            .filter(pending_authorization::Column::ExpiresAt.gt(now))
            .count(&self.db)
            .await?;
        let upstream = upstream_login::Entity::find()
            .filter(upstream_login::Column::ExpiresAt.gt(now))
            .count(&self.db)
            .await?;
        Ok(authorizations + upstream)
    }
}
