//! Authorization requests kept while the person is away at login or consent, and how many rows
//! of that kind a request without credentials has made idbridge keep.
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

use super::tables::{pending_authorization, upstream_login};
use super::{Store, StoreError};
use crate::vocabulary::prompt::Prompt;
use crate::vocabulary::response_mode::ResponseMode;
use crate::vocabulary::scope::Scopes;

/// A checked authorization request, typed, as it waits in the database for the person to come
/// back from login or consent (Dex's `AuthRequest`). The stored text of its scope, prompt and
/// response mode is the form the wire uses, so rows of every version read.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// Random, with a letter first: upstream SAML uses it as the AuthnRequest ID, an `xs:ID`.
    pub id: String,
    /// SHA-256 of the flow cookie of the browser that started it: the id alone grants nothing.
    pub browser_hash: String,
    pub client_id: String,
    /// Matched exactly against a registered one.
    pub redirect_uri: String,
    pub scope: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl From<&PendingAuthorization> for pending_authorization::Model {
    fn from(pending: &PendingAuthorization) -> Self {
        pending_authorization::Model {
            id: pending.id.clone(),
            browser_hash: pending.browser_hash.clone(),
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            scope: pending.scope.to_string(),
            state: pending.state.clone(),
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            response_mode: pending.response_mode.as_str().to_string(),
            prompt: (!pending.prompt.is_empty()).then(|| pending.prompt.to_string()),
            max_age: pending.max_age,
            login_hint: pending.login_hint.clone(),
            created_at: pending.created_at,
            expires_at: pending.expires_at,
        }
    }
}

/// A stored row, which was checked when it was stored.
impl From<pending_authorization::Model> for PendingAuthorization {
    fn from(row: pending_authorization::Model) -> Self {
        PendingAuthorization {
            scope: Scopes::parse(&row.scope),
            response_mode: ResponseMode::stored(&row.response_mode),
            prompt: Prompt::stored(row.prompt.as_deref()),
            id: row.id,
            browser_hash: row.browser_hash,
            client_id: row.client_id,
            redirect_uri: row.redirect_uri,
            state: row.state,
            nonce: row.nonce,
            code_challenge: row.code_challenge,
            max_age: row.max_age,
            login_hint: row.login_hint,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

impl Store {
    pub async fn create_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        pending_authorization::Model::from(pending)
            .into_active_model()
            .insert(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn find_pending(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        Ok(pending_authorization::Entity::find_by_id(id.to_string())
            .filter(pending_authorization::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .map(PendingAuthorization::from))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A row stored before these types existed reads, and is written back the same.
    #[test]
    fn stored_text_round_trips() {
        let row = pending_authorization::Model {
            id: "a1".into(),
            browser_hash: "h".into(),
            client_id: "c".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: "openid profile offline_access".into(),
            state: Some("s".into()),
            nonce: None,
            code_challenge: None,
            response_mode: "form_post".into(),
            prompt: Some("login consent".into()),
            max_age: Some(0),
            login_hint: None,
            created_at: 1,
            expires_at: 2,
        };
        let pending = PendingAuthorization::from(row.clone());
        assert_eq!(pending.response_mode, ResponseMode::FormPost);
        assert!(pending.prompt.login && pending.prompt.consent && !pending.prompt.none);
        assert_eq!(pending_authorization::Model::from(&pending), row);
        let plain = PendingAuthorization {
            response_mode: ResponseMode::Query,
            prompt: Prompt::default(),
            ..PendingAuthorization::from(row)
        };
        let written = pending_authorization::Model::from(&plain);
        assert_eq!(
            (written.response_mode.as_str(), written.prompt),
            ("query", None)
        );
    }
}
