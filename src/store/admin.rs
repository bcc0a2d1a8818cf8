//! What operators change at run time (the admin API and `idbridge admin`): users found, changed,
//! disabled and deleted, their sessions, tokens and consents revoked, API credentials made and
//! revoked. Each change runs in one transaction with its audit event; a change to an object the
//! config file declares is refused ([`Change::ManagedByConfig`]), and a change made against a
//! version of the object that is no longer the stored one ([`Change::Stale`]).
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use super::audit::{Initiator, record};
use super::changes::{Kept, count_change};
use super::grants::revoke_grants_of;
use super::logout::{Ending, end_sessions_in};
use super::tables::{
    access_token, api_credential, authorization_code, refresh_token, session, user, user_entity,
};
use super::users::{entity_ids_of, entity_ids_of_each};
use super::{RowLock, Store, StoreError, User, UserSource, locked};
use crate::config::Config;
use crate::crypto;
use crate::vocabulary::audit::AuditKind;

/// Who manages an object: the config file (the API shows it and refuses to change it) or the API.
pub const MANAGED_BY_CONFIG: &str = "config";
pub const MANAGED_BY_API: &str = "api";

/// The outcome of a change an operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Done(T),
    NotFound,
    /// The config file declares the object: only an edit of the file changes it.
    ManagedByConfig,
    /// The caller's version (its `If-Match`) is not the stored one.
    Stale,
    /// An object with that name exists already.
    Exists,
    /// The change breaks a rule of the config file; the problems name the fields.
    Invalid(Vec<crate::config::Problem>),
    /// Other objects depend on the one to change; what says which.
    InUse(String),
}

/// A user as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedUser {
    pub user: User,
    pub entity_ids: Vec<String>,
}

impl ManagedUser {
    /// A digest of every field an operator sees: the version an `If-Match` names.
    pub fn version(&self) -> String {
        let user = &self.user;
        crypto::sha256_hex(
            &json!([
                user.id,
                user.email,
                user.name,
                user.source.column(),
                user.updated_at,
                user.disabled_at,
                self.entity_ids,
            ])
            .to_string(),
        )[..32]
            .to_string()
    }
}

/// Which users a listing shows, `limit` at a time in the order of their ids.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Part of the email address or the name, compared case-insensitively.
    pub text: Option<String>,
    pub entity_id: Option<String>,
    /// A [`UserSource`] column value: `config`, `session_url` or a connection id.
    pub source: Option<String>,
    pub disabled: Option<bool>,
    /// Only users whose id sorts after this one (the cursor of the page before).
    pub after: Option<String>,
}

/// What an operator changes of a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub name: Option<String>,
    pub disabled: Option<bool>,
}

/// An API credential as an operator sees it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedCredential {
    pub username: String,
    pub scopes: Vec<String>,
    pub managed_by: String,
    pub created_at: Option<i64>,
}

impl From<api_credential::Model> for ManagedCredential {
    fn from(row: api_credential::Model) -> Self {
        ManagedCredential {
            username: row.username,
            scopes: row.scopes.split_whitespace().map(String::from).collect(),
            managed_by: row.managed_by,
            created_at: row.created_at,
        }
    }
}

/// A live session, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedSession {
    pub sid: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub client_addr: String,
    pub user_agent: String,
    pub upstream_connection: Option<String>,
}

/// The JSON of a user's fields in an audit event (never the password hash).
fn audited(user: &ManagedUser) -> serde_json::Value {
    json!({
        "email": user.user.email,
        "name": user.user.name,
        "disabled": user.user.disabled_at.is_some(),
    })
}

/// The row of `user_id` (locked for the rest of the transaction when `lock`), and the user as an
/// operator sees it.
async fn managed_user<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    lock: bool,
) -> Result<Option<(user::Model, ManagedUser)>, StoreError> {
    let select = user::Entity::find_by_id(user_id.to_string());
    let select = if lock {
        locked(select, db, RowLock::Exclusive)
    } else {
        select
    };
    let Some(row) = select.one(db).await? else {
        return Ok(None);
    };
    let managed = ManagedUser {
        user: row.clone().into(),
        entity_ids: entity_ids_of(db, user_id).await?,
    };
    Ok(Some((row, managed)))
}

/// Why a user may not be changed.
enum Refusal {
    NotFound,
    ManagedByConfig,
    Stale,
}

impl<T> From<Refusal> for Change<T> {
    fn from(refusal: Refusal) -> Change<T> {
        match refusal {
            Refusal::NotFound => Change::NotFound,
            Refusal::ManagedByConfig => Change::ManagedByConfig,
            Refusal::Stale => Change::Stale,
        }
    }
}

/// The user `user_id` (its row, locked for the rest of the transaction, and as an operator sees
/// it), if an operator may change them now: made at run time, and at `version` when one is given.
async fn changeable_user<C: ConnectionTrait>(
    txn: &C,
    user_id: &str,
    version: Option<&str>,
) -> Result<Result<(user::Model, ManagedUser), Refusal>, StoreError> {
    let Some((row, user)) = managed_user(txn, user_id, true).await? else {
        return Ok(Err(Refusal::NotFound));
    };
    if user.user.source == UserSource::Config {
        return Ok(Err(Refusal::ManagedByConfig));
    }
    if version.is_some_and(|v| v != user.version()) {
        return Ok(Err(Refusal::Stale));
    }
    Ok(Ok((row, user)))
}

/// Ends every session of `user_id` (its clients are told, as at a sign-out) and revokes every
/// code and token issued to it, through the caller's transaction.
async fn revoke_everything_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    config: &Config,
    now: i64,
) -> Result<usize, StoreError> {
    let ended = end_sessions_of(db, user_id, config, now).await?;
    revoke_tokens_of(db, user_id, now).await?;
    Ok(ended)
}

/// Ends every session of `user_id` as a sign-out does (its clients are told), through the
/// caller's transaction; how many ended.
async fn end_sessions_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    config: &Config,
    now: i64,
) -> Result<usize, StoreError> {
    let which = Condition::all().add(session::Column::UserId.eq(user_id));
    let (ended, _) = end_sessions_in(db, which, Ending::SignedOut, None, config, now).await?;
    Ok(ended)
}

/// Revokes every code and token issued to `user_id`, through `db`.
///
/// A token exchange that was under way as the user's access was revoked may have committed its
/// tokens after the transaction's statements read the table and before it committed; it reads
/// the user after storing them, and refuses a disabled one, only once the revocation is
/// visible. So the revocation is made once more after its transaction commits
/// ([`Store::revoke_tokens_again`]), which catches what was stored in between (the same
/// ordering argument as [`Store::revoke_family`]'s).
async fn revoke_tokens_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    revoke_grants_of(db, user_id, None, now).await
}

impl Store {
    /// Up to `limit` users that `query` selects, in the order of their ids.
    pub async fn find_users(
        &self,
        query: &UserQuery,
        limit: u64,
    ) -> Result<Vec<ManagedUser>, StoreError> {
        use user::Column as U;
        let mut select = user::Entity::find();
        if let Some(text) = &query.text {
            // SQLite's lower() folds ASCII letters only; PostgreSQL's (UTF-8) all of them.
            let folded = match self.db.get_database_backend() {
                DatabaseBackend::Sqlite => text.to_ascii_lowercase(),
                _ => text.to_lowercase(),
            };
            let pattern = format!("%{}%", like_escaped(&folded));
            let lower = |column| Expr::expr(Func::lower(Expr::col(column)));
            select = select.filter(
                Condition::any()
                    .add(
                        lower(U::Email)
                            .like(sea_orm::sea_query::LikeExpr::new(&pattern).escape('\\')),
                    )
                    .add(
                        lower(U::Name)
                            .like(sea_orm::sea_query::LikeExpr::new(&pattern).escape('\\')),
                    ),
            );
        }
        if let Some(entity_id) = &query.entity_id {
            select = select.filter(
                U::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(user_entity::Column::UserId)
                        .from(user_entity::Entity)
                        .and_where(Expr::col(user_entity::Column::EntityId).eq(entity_id))
                        .to_owned(),
                ),
            );
        }
        if let Some(source) = &query.source {
            select = select.filter(U::Source.eq(source));
        }
        match query.disabled {
            Some(true) => select = select.filter(U::DisabledAt.is_not_null()),
            Some(false) => select = select.filter(U::DisabledAt.is_null()),
            None => {}
        }
        if let Some(after) = &query.after {
            select = select.filter(U::Id.gt(after));
        }
        let rows = select
            .order_by_asc(U::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut entity_ids =
            entity_ids_of_each(&self.db, rows.iter().map(|row| row.id.as_str())).await?;
        Ok(rows
            .into_iter()
            .map(|row| ManagedUser {
                entity_ids: entity_ids.remove(&row.id).unwrap_or_default(),
                user: row.into(),
            })
            .collect())
    }

    pub async fn managed_user(&self, user_id: &str) -> Result<Option<ManagedUser>, StoreError> {
        let found = managed_user(&self.db, user_id, false).await?;
        Ok(found.map(|(_, user)| user))
    }

    /// Changes a user made at run time, if `version` (when given) is still theirs. Disabling ends
    /// their sessions and revokes their tokens in the same transaction.
    pub async fn change_user(
        &self,
        user_id: &str,
        change: &UserChange,
        version: Option<&str>,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<Change<ManagedUser>, StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        let (mut row, before) = match changeable_user(&txn, user_id, version).await? {
            Ok(user) => user,
            Err(refusal) => return Ok(refusal.into()),
        };
        let old = row.clone();
        if let Some(email) = &change.email {
            row.email.clone_from(email);
        }
        if let Some(name) = &change.name {
            row.name.clone_from(name);
        }
        match change.disabled {
            Some(true) if row.disabled_at.is_none() => row.disabled_at = Some(now),
            Some(false) => row.disabled_at = None,
            _ => {}
        }
        if row != old {
            row.updated_at = now;
            row.clone()
                .into_active_model()
                .reset_all()
                .update(&txn)
                .await?;
        }
        if change.disabled == Some(true) {
            revoke_everything_of(&txn, user_id, config, now).await?;
        }
        // The change touches no attachment.
        let after = ManagedUser {
            user: row.into(),
            entity_ids: before.entity_ids.clone(),
        };
        let event = by.event(
            AuditKind::AdminChange,
            Some(user_id),
            json!({ "resource": "user", "id": user_id, "action": "update",
                    "before": audited(&before), "after": audited(&after) }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        if change.disabled == Some(true) {
            self.revoke_tokens_again(user_id, now).await?;
        }
        Ok(Change::Done(after))
    }

    /// Deletes a user made at run time, with their sessions (their clients are told), tokens,
    /// consents, product confirmations and upstream identities.
    pub async fn delete_user(
        &self,
        user_id: &str,
        version: Option<&str>,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        let (_, before) = match changeable_user(&txn, user_id, version).await? {
            Ok(user) => user,
            Err(refusal) => return Ok(refusal.into()),
        };
        // Their sessions end as at a sign-out (their clients are told); their tokens are deleted,
        // not revoked first.
        end_sessions_of(&txn, user_id, config, now).await?;
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        access_token::Entity::delete_many()
            .filter(access_token::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        // Consents, confirmations, identities, profiles and attachments go by their foreign keys.
        user::Entity::delete_by_id(user_id.to_string())
            .exec(&txn)
            .await?;
        let event = by.event(
            AuditKind::AdminChange,
            Some(user_id),
            json!({ "resource": "user", "id": user_id, "action": "delete",
                    "before": audited(&before) }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        Ok(Change::Done(()))
    }

    /// Ends every session of a user and revokes every token issued to them; how many sessions
    /// ended. Allowed for every user, those of the config file too: it changes no declared field.
    pub async fn revoke_user_access(
        &self,
        user_id: &str,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<Change<usize>, StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        if managed_user(&txn, user_id, true).await?.is_none() {
            return Ok(Change::NotFound);
        }
        let ended = revoke_everything_of(&txn, user_id, config, now).await?;
        let event = by.event(
            AuditKind::AccessRevoked,
            Some(user_id),
            json!({ "resource": "user", "id": user_id, "action": "revoke_access",
                    "sessions_ended": ended }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        self.revoke_tokens_again(user_id, now).await?;
        Ok(Change::Done(ended))
    }

    /// The second pass of a revocation, after its transaction committed (see
    /// [`revoke_tokens_of`]).
    async fn revoke_tokens_again(&self, user_id: &str, now: i64) -> Result<(), StoreError> {
        revoke_tokens_of(&self.writer, user_id, now).await
    }

    /// A user's live sessions, newest first.
    pub async fn managed_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<ManagedSession>, StoreError> {
        Ok(self
            .sessions_of(user_id, now)
            .await?
            .into_iter()
            .map(|row| ManagedSession {
                sid: row.sid,
                auth_time: row.auth_time,
                expires_at: row.expires_at,
                client_addr: row.client_addr,
                user_agent: row.user_agent,
                upstream_connection: row.upstream_connection,
            })
            .collect())
    }

    /// Ends one session of a user, named by its `sid`, as a sign-out would.
    pub async fn end_managed_session(
        &self,
        user_id: &str,
        sid: &str,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        let which = Condition::all()
            .add(session::Column::UserId.eq(user_id))
            .add(session::Column::Sid.eq(sid));
        let (ended, _) =
            end_sessions_in(&txn, which, Ending::SignedOut, Some(by), config, now).await?;
        if ended == 0 {
            return Ok(Change::NotFound);
        }
        txn.commit().await?;
        Ok(Change::Done(()))
    }

    /// Withdraws a user's consent to a client, and revokes the client's tokens for the user.
    pub async fn withdraw_consent(
        &self,
        user_id: &str,
        client_id: &str,
        by: &Initiator,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        let removed = super::tables::consent::Entity::delete_by_id((
            user_id.to_string(),
            client_id.to_string(),
        ))
        .exec(&txn)
        .await?
        .rows_affected;
        if removed == 0 {
            return Ok(Change::NotFound);
        }
        revoke_grants_of(&txn, user_id, Some(client_id), now).await?;
        let event = by.event(
            AuditKind::ConsentRevoked,
            Some(user_id),
            json!({ "resource": "consent", "id": client_id, "action": "revoke" }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        Ok(Change::Done(()))
    }

    /// Every API credential, in the order of their usernames.
    pub async fn managed_credentials(&self) -> Result<Vec<ManagedCredential>, StoreError> {
        Ok(api_credential::Entity::find()
            .order_by_asc(api_credential::Column::Username)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ManagedCredential::from)
            .collect())
    }

    /// Stores a new API credential (`password_hash` is the argon2id hash of its secret).
    pub async fn create_credential(
        &self,
        username: &str,
        password_hash: String,
        scopes: &[String],
        by: &Initiator,
        now: i64,
    ) -> Result<Change<ManagedCredential>, StoreError> {
        let txn = self.writer.begin().await?;
        let exists = api_credential::Entity::find_by_id(username.to_string())
            .one(&txn)
            .await?;
        if exists.is_some() {
            return Ok(Change::Exists);
        }
        let row = api_credential::Model {
            username: username.to_string(),
            password_hash,
            scopes: scopes.join(" "),
            managed_by: MANAGED_BY_API.into(),
            created_at: Some(now),
        };
        let inserted = api_credential::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await;
        // Another request made the same name since the check above.
        if let Err(error) = &inserted
            && matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            )
        {
            return Ok(Change::Exists);
        }
        inserted?;
        count_change(&txn, Kept::ApiCredentials).await?;
        let event = by.event(
            AuditKind::AdminChange,
            None,
            json!({ "resource": "api_credential", "id": username, "action": "create",
                    "after": { "scopes": scopes } }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        Ok(Change::Done(row.into()))
    }

    /// Revokes (deletes) an API credential made through the API.
    pub async fn delete_credential(
        &self,
        username: &str,
        by: &Initiator,
        now: i64,
    ) -> Result<Change<()>, StoreError> {
        let txn = self.writer.begin().await?;
        let select = locked(
            api_credential::Entity::find_by_id(username.to_string()),
            &txn,
            RowLock::Exclusive,
        );
        let Some(row) = select.one(&txn).await? else {
            return Ok(Change::NotFound);
        };
        if row.managed_by == MANAGED_BY_CONFIG {
            return Ok(Change::ManagedByConfig);
        }
        api_credential::Entity::delete_by_id(username.to_string())
            .exec(&txn)
            .await?;
        count_change(&txn, Kept::ApiCredentials).await?;
        let event = by.event(
            AuditKind::AdminChange,
            None,
            json!({ "resource": "api_credential", "id": username, "action": "delete",
                    "before": { "scopes": row.scopes.split_whitespace().collect::<Vec<_>>() } }),
        );
        record(&txn, &event, now).await?;
        txn.commit().await?;
        Ok(Change::Done(()))
    }
}

/// `text` with the LIKE wildcards and the escape character taken literally.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
