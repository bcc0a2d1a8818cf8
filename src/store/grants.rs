//! What the OpenID provider keeps of its grants: codes, access and refresh tokens (pending
//! authorizations and consents have files of their own). Every one-time thing is consumed by a
//! single conditional write whose row count decides, never by reading and then writing, so that
//! two processes racing for the same code or token cannot both win.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IntoActiveModel, Iterable,
    QueryFilter, QuerySelect,
};

use super::User;
use super::tables::{access_token, authorization_code, refresh_token, user};
use super::users::{entity_id, entity_ids, join_entity_ids};
use super::{Store, StoreError, batch};
use crate::vocabulary::scope::Scopes;

/// An access token's grant as userinfo needs it.
#[derive(Debug)]
pub struct UserinfoGrant {
    pub scope: Scopes,
    pub user: User,
    pub entity_ids: Vec<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

/// The code or refresh token (its stored key) a grant was just spent from.
#[derive(Debug, Clone)]
pub enum SpentGrant {
    Code(String),
    Refresh(String),
}

/// An authorization code to store: its key (`crypto::ordered_token_key`) and what it grants.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: String,
    /// The grant's family: every token issued from the code shares it.
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: Scopes,
    pub nonce: Option<String>,
    pub sid: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// An access token to store: its key and what it grants.
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub token_hash: String,
    /// `None` for a client acting for itself (client_credentials), as is `user_id`.
    pub family_id: Option<String>,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: Scopes,
    pub expires_at: i64,
}

/// A refresh token to store: its key and what it grants.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: Scopes,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub expires_at: i64,
}

/// The tokens issued from a spent code or refresh token, to store.
#[derive(Debug)]
pub struct GrantTokens {
    pub spent: SpentGrant,
    pub access: NewAccessToken,
    /// Issued when the grant includes `offline_access`.
    pub refresh: Option<NewRefreshToken>,
}

impl From<NewCode> for authorization_code::Model {
    fn from(new: NewCode) -> Self {
        authorization_code::Model {
            code_hash: new.code_hash,
            family_id: new.family_id,
            client_id: new.client_id,
            user_id: new.user_id,
            redirect_uri: new.redirect_uri,
            scope: new.scope.to_string(),
            nonce: new.nonce,
            sid: new.sid,
            code_challenge: new.code_challenge,
            auth_time: new.auth_time,
            expires_at: new.expires_at,
            consumed_at: None,
            revoked_at: None,
        }
    }
}

impl From<NewAccessToken> for access_token::Model {
    fn from(new: NewAccessToken) -> Self {
        access_token::Model {
            token_hash: new.token_hash,
            family_id: new.family_id,
            client_id: new.client_id,
            user_id: new.user_id,
            scope: new.scope.to_string(),
            expires_at: new.expires_at,
            revoked_at: None,
        }
    }
}

impl From<NewRefreshToken> for refresh_token::Model {
    fn from(new: NewRefreshToken) -> Self {
        refresh_token::Model {
            token_hash: new.token_hash,
            family_id: new.family_id,
            client_id: new.client_id,
            user_id: new.user_id,
            scope: new.scope.to_string(),
            auth_time: new.auth_time,
            sid: new.sid,
            expires_at: new.expires_at,
            consumed_at: None,
            revoked_at: None,
        }
    }
}

/// Who a grant's new tokens belong to, and whether the grant was revoked as they were issued.
#[derive(Debug)]
pub struct GrantHolder {
    pub user: User,
    /// The entities the user is attached to.
    pub entity_ids: Vec<String>,
    pub revoked: bool,
}

/// What presenting an authorization code found.
#[derive(Debug)]
pub enum CodeUse {
    /// First use: the code is now spent.
    Redeemed(Box<authorization_code::Model>),
    /// The code was already spent: whatever it issued must be revoked.
    Replayed { family_id: String },
    /// Unknown or expired.
    Invalid,
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum RefreshUse {
    /// First use: the token is now spent and a successor may be issued.
    Rotated(refresh_token::Model),
    /// A spent token came back: someone holds a copy, so its whole family is revoked.
    Reused { family_id: String },
    /// Unknown, expired or revoked.
    Invalid,
}

impl Store {
    pub async fn create_code(&self, code: NewCode) -> Result<(), StoreError> {
        let row = authorization_code::Model::from(code);
        self.codes.submit(row.into_active_model()).await
    }

    /// Spends a code presented by `client_id`, once across all processes (in a batch with the
    /// codes other requests spend at the same moment). A code issued to another client is
    /// neither spent nor treated as replayed: it is [`CodeUse::Invalid`] to this client and left
    /// for its own.
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<CodeUse, StoreError> {
        let spend = batch::CodeSpend {
            code_hash: code_hash.to_string(),
            client_id: client_id.to_string(),
            now,
        };
        if let Some(row) = self.code_spends.submit(spend).await? {
            return Ok(CodeUse::Redeemed(Box::new(row)));
        }
        // Not spendable: find out whether it is a replay, which must revoke what it issued.
        let row = authorization_code::Entity::find_by_id(code_hash.to_string())
            .one(&self.db)
            .await?;
        Ok(match row {
            Some(row) if row.client_id == client_id && row.consumed_at.is_some() => {
                CodeUse::Replayed {
                    family_id: row.family_id,
                }
            }
            _ => CodeUse::Invalid,
        })
    }

    pub async fn create_access_token(&self, token: NewAccessToken) -> Result<(), StoreError> {
        let row = access_token::Model::from(token);
        self.access_tokens.submit(row.into_active_model()).await
    }

    /// Stores the tokens of a grant just spent, then reads who holds them: the user, with the
    /// user's entities, and whether the grant has been revoked meanwhile (a replay racing the
    /// legitimate request may revoke the family between the spend and the insert of the new
    /// tokens, see [`Self::revoke_family`]). `None` when the user no longer exists. Batched with
    /// the grants other requests store at the same moment.
    pub async fn store_grant_tokens(
        &self,
        tokens: GrantTokens,
    ) -> Result<Option<GrantHolder>, StoreError> {
        self.grant_tokens.submit(tokens).await
    }

    /// Spends a refresh token presented by `client_id`, once across all processes. A token
    /// issued to another client is neither spent nor treated as reused: it is
    /// [`RefreshUse::Invalid`] to this client and stays good for its own.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<RefreshUse, StoreError> {
        use refresh_token::Column as R;
        let spent = refresh_token::Entity::update_many()
            .col_expr(R::ConsumedAt, Expr::value(now))
            .filter(R::TokenHash.eq(token_hash))
            .filter(R::ClientId.eq(client_id))
            .filter(R::ConsumedAt.is_null())
            .filter(R::RevokedAt.is_null())
            .filter(R::ExpiresAt.gt(now))
            .exec_with_returning(&self.writer)
            .await?;
        if let Some(row) = spent.into_iter().next() {
            return Ok(RefreshUse::Rotated(row));
        }
        let row = refresh_token::Entity::find_by_id(token_hash.to_string())
            .one(&self.db)
            .await?;
        Ok(match row {
            Some(row)
                if row.client_id == client_id
                    && row.consumed_at.is_some()
                    && row.revoked_at.is_none() =>
            {
                RefreshUse::Reused {
                    family_id: row.family_id,
                }
            }
            _ => RefreshUse::Invalid,
        })
    }

    /// Revokes every access and refresh token of a grant; whether anything was left to revoke.
    ///
    /// A request still issuing tokens for the grant checks, after storing them, whether what it
    /// spent was revoked ([`Self::store_grant_tokens`]). So the spent items (the code and the
    /// consumed refresh tokens) are marked first, each in its own committed statement, and only
    /// then is the rest revoked: either the issuer sees its marker, or its new tokens were
    /// committed before the later statements began and are revoked by them. One transaction
    /// would commit the markers last and reopen that window on PostgreSQL.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> Result<bool, StoreError> {
        use refresh_token::Column as R;
        let _forget = self.userinfo.forget_all_when_done();
        let mut revoked = 0;
        revoked += authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::RevokedAt, Expr::value(now))
            .filter(authorization_code::Column::FamilyId.eq(family_id))
            .filter(authorization_code::Column::RevokedAt.is_null())
            .exec(&self.writer)
            .await?
            .rows_affected;
        revoked += refresh_token::Entity::update_many()
            .col_expr(R::RevokedAt, Expr::value(now))
            .filter(R::FamilyId.eq(family_id))
            .filter(R::ConsumedAt.is_not_null())
            .filter(R::RevokedAt.is_null())
            .exec(&self.writer)
            .await?
            .rows_affected;
        revoked += refresh_token::Entity::update_many()
            .col_expr(R::RevokedAt, Expr::value(now))
            .filter(R::FamilyId.eq(family_id))
            .filter(R::RevokedAt.is_null())
            .exec(&self.writer)
            .await?
            .rows_affected;
        revoked += access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::value(now))
            .filter(access_token::Column::FamilyId.eq(family_id))
            .filter(access_token::Column::RevokedAt.is_null())
            .exec(&self.writer)
            .await?
            .rows_affected;
        Ok(revoked > 0)
    }

    /// A live access token.
    pub async fn find_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<access_token::Model>, StoreError> {
        Ok(access_token::Entity::find_by_id(token_hash.to_string())
            .filter(access_token::Column::ExpiresAt.gt(now))
            .filter(access_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// What userinfo needs for a live access token, in one query: its scope, its user and the
    /// user's entities. `None` also for a client_credentials token, which has no user. Answered
    /// from this process's memory when it read the same token within `server.userinfo_cache`.
    pub async fn userinfo_grant(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Arc<UserinfoGrant>>, StoreError> {
        use sea_orm::sea_query::Query;
        if let Some(grant) = self.userinfo.get(token_hash, now) {
            return Ok(Some(grant));
        }
        let fill = self.userinfo.start_fill();
        let mut query = Query::select();
        query
            .columns([
                (access_token::Entity, access_token::Column::Scope),
                (access_token::Entity, access_token::Column::ExpiresAt),
            ])
            .columns(user::Column::iter().map(|column| (user::Entity, column)))
            .from(access_token::Entity)
            .inner_join(
                user::Entity,
                Expr::col((user::Entity, user::Column::Id))
                    .equals((access_token::Entity, access_token::Column::UserId)),
            )
            .and_where(
                Expr::col((access_token::Entity, access_token::Column::TokenHash)).eq(token_hash),
            )
            .and_where(Expr::col((access_token::Entity, access_token::Column::ExpiresAt)).gt(now))
            .and_where(
                Expr::col((access_token::Entity, access_token::Column::RevokedAt)).is_null(),
            );
        join_entity_ids(&mut query);
        let rows = self.db.query_all(&query).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let grant = Arc::new(UserinfoGrant {
            scope: Scopes::parse(&first.try_get::<String>("", "scope")?),
            expires_at: first.try_get("", "expires_at")?,
            user: User::from_query_result(first, "")?,
            entity_ids: entity_ids(&rows),
        });
        self.userinfo.fill(fill, token_hash, Arc::clone(&grant));
        Ok(Some(grant))
    }

    /// A live refresh token.
    pub async fn find_refresh_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<refresh_token::Model>, StoreError> {
        Ok(refresh_token::Entity::find_by_id(token_hash.to_string())
            .filter(refresh_token::Column::ExpiresAt.gt(now))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .filter(refresh_token::Column::ConsumedAt.is_null())
            .one(&self.db)
            .await?)
    }

    /// Revokes one access token.
    pub async fn revoke_access_token(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::value(now))
            .filter(access_token::Column::TokenHash.eq(token_hash))
            .filter(access_token::Column::RevokedAt.is_null())
            .exec(&self.writer)
            .await?;
        Ok(())
    }
}

/// Revokes every code, access and refresh token issued to `user_id` (only those of
/// `client_id`, when one is given: a consent withdrawn), through `db` (a transaction).
pub(super) async fn revoke_grants_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    revoke_grants_where(db, Some(user_id), client_id, now).await
}

/// Revokes every code, refresh and access token issued to the client `client_id`, whoever
/// they were issued for: the client is going.
pub(super) async fn revoke_grants_to<C: ConnectionTrait>(
    db: &C,
    client_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    revoke_grants_where(db, None, Some(client_id), now).await
}

async fn revoke_grants_where<C: ConnectionTrait>(
    db: &C,
    user_id: Option<&str>,
    client_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    use authorization_code::Column as Code;
    use refresh_token::Column as Refresh;
    let mut codes = authorization_code::Entity::update_many()
        .col_expr(Code::RevokedAt, Expr::value(now))
        .filter(Code::RevokedAt.is_null());
    let mut refresh = refresh_token::Entity::update_many()
        .col_expr(Refresh::RevokedAt, Expr::value(now))
        .filter(Refresh::RevokedAt.is_null());
    let mut access = access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(now))
        .filter(access_token::Column::RevokedAt.is_null());
    if let Some(user_id) = user_id {
        codes = codes.filter(Code::UserId.eq(user_id));
        refresh = refresh.filter(Refresh::UserId.eq(user_id));
        access = access.filter(access_token::Column::UserId.eq(user_id));
    }
    if let Some(client_id) = client_id {
        codes = codes.filter(Code::ClientId.eq(client_id));
        refresh = refresh.filter(Refresh::ClientId.eq(client_id));
        access = access.filter(access_token::Column::ClientId.eq(client_id));
    }
    codes.exec(db).await?;
    refresh.exec(db).await?;
    access.exec(db).await?;
    Ok(())
}

/// The holder of each grant whose tokens were just stored, in the order given (see
/// [`Store::store_grant_tokens`]). Its own statements, after the inserts committed: the
/// ordering argument of [`Store::revoke_family`] needs the tokens visible before the check.
pub(super) async fn grant_holders<C: ConnectionTrait>(
    db: &C,
    grants: &[&GrantTokens],
) -> Result<Vec<Option<GrantHolder>>, DbErr> {
    use sea_orm::sea_query::Query;
    let user_ids: HashSet<&str> = grants
        .iter()
        .filter_map(|grant| grant.access.user_id.as_deref())
        .collect();
    let mut query = Query::select();
    query
        .columns(user::Column::iter().map(|column| (user::Entity, column)))
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).is_in(user_ids));
    join_entity_ids(&mut query);
    let mut users: HashMap<String, (User, Vec<String>)> = HashMap::new();
    for row in db.query_all(&query).await? {
        let id: String = row.try_get("", "id")?;
        let (_, entities) = match users.entry(id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert((User::from_query_result(&row, "")?, vec![])),
        };
        entities.extend(entity_id(&row));
    }
    let spent_keys = |code: bool| -> Vec<&str> {
        grants
            .iter()
            .filter_map(|grant| match &grant.spent {
                SpentGrant::Code(key) if code => Some(key.as_str()),
                SpentGrant::Refresh(key) if !code => Some(key.as_str()),
                _ => None,
            })
            .collect()
    };
    use authorization_code::Column as C;
    use refresh_token::Column as R;
    let live_codes =
        unrevoked::<authorization_code::Entity, _>(db, C::CodeHash, C::RevokedAt, spent_keys(true))
            .await?;
    let live_refresh_tokens =
        unrevoked::<refresh_token::Entity, _>(db, R::TokenHash, R::RevokedAt, spent_keys(false))
            .await?;
    Ok(grants
        .iter()
        .map(|grant| {
            let (user, entity_ids) = users.get(grant.access.user_id.as_deref()?)?.clone();
            let revoked = match &grant.spent {
                SpentGrant::Code(key) => !live_codes.contains(key),
                SpentGrant::Refresh(key) => !live_refresh_tokens.contains(key),
            };
            Some(GrantHolder {
                user,
                entity_ids,
                revoked,
            })
        })
        .collect())
}

/// Which of `keys` name a row of `E` not revoked.
async fn unrevoked<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    key: E::Column,
    revoked_at: E::Column,
    keys: Vec<&str>,
) -> Result<HashSet<String>, DbErr> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(E::find()
        .select_only()
        .column(key)
        .filter(key.is_in(keys))
        .filter(revoked_at.is_null())
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}
