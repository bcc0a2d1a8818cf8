//! End-user sessions at idbridge.
use std::net::IpAddr;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    Iterable, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use serde_json::json;

use super::Notification;
use super::User;
use super::audit::{Actor, AuditEvent, record};
use super::logout::{Ending, after_session_end};
use super::tables::{consent, session, user};
use super::{RowLock, Store, StoreError, UpstreamSession, enqueue_notification, locked};
use crate::config::Config;
use crate::crypto;
use crate::vocabulary::audit::AuditKind;

/// A live session and whose it is.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: User,
    pub sid: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// The pending authorization this session's login was made for: to that authorization, and
    /// no other, the login is the fresh one that `prompt=login` or `max_age` asked for.
    pub pending_id: Option<String>,
    /// The provider's session behind this one, if a provider's answer started it.
    pub upstream: Option<UpstreamSession>,
}

/// How a request names a session: by the secret token of its cookie, or by its public `sid`.
#[derive(Debug, Clone, Copy)]
enum SessionKey<'a> {
    Cookie(&'a str),
    Sid(&'a str),
}

/// When and for which browser a session starts.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub now: i64,
    /// Lifetime in seconds.
    pub ttl: i64,
    pub client_addr: IpAddr,
    pub user_agent: &'a str,
    /// The pending authorization the login is made for, if any (see [`SessionInfo::pending_id`]).
    pub pending_id: Option<&'a str>,
    /// The cookie token of the session the browser had before this login, if any: that session
    /// ends as this one starts, so an id planted or seen before the login is worthless after it.
    pub replaces: Option<&'a str>,
    /// The provider's session behind this one, if a provider's answer starts it.
    pub upstream: Option<&'a UpstreamSession>,
}

/// Inserts a session for the user of `login`, whose `UserLoginNotification` goes to the outbox
/// and whose audit event to the trail through the same connection (the caller's transaction),
/// and returns the token for the cookie (stored only as its SHA-256). A user an operator
/// disabled gets no session: [`StoreError::UserDisabled`], and the caller's transaction rolls
/// back whatever the login wrote before.
pub(super) async fn insert_session<C: ConnectionTrait>(
    db: &C,
    login: &Notification,
    new: NewSession<'_>,
    config: &Config,
) -> Result<String, StoreError> {
    // Locked shared, so that a disable committing meanwhile either waits for this session (and
    // then ends it) or is seen here.
    let user_row = locked(
        user::Entity::find_by_id(login.user.id.clone()),
        db,
        RowLock::Shared,
    );
    let disabled: Option<Option<i64>> = user_row
        .select_only()
        .column(user::Column::DisabledAt)
        .into_tuple()
        .one(db)
        .await?;
    if disabled.flatten().is_some() {
        return Err(StoreError::UserDisabled);
    }
    let token = crypto::random_token();
    enqueue_notification(db, config, login, new.now).await?;
    let replaced = match new.replaces {
        Some(previous) => {
            let id_hash = crypto::sha256_hex(previous);
            let row = session::Entity::find_by_id(id_hash.clone()).one(db).await?;
            if row.is_some() {
                session::Entity::delete_by_id(id_hash).exec(db).await?;
            }
            row
        }
        None => None,
    };
    // Products watch a session by its sid (the session tracker, logout): the same person signing
    // in again in the same browser stays the same session to them.
    let sid = match replaced {
        Some(row) if row.user_id == login.user.id && row.expires_at > new.now => row.sid,
        Some(row) => {
            after_session_end(db, &row.into(), Ending::SignedOut, config, new.now).await?;
            crypto::random_token()
        }
        None => crypto::random_token(),
    };
    session::Model {
        id_hash: crypto::sha256_hex(&token),
        sid,
        user_id: login.user.id.clone(),
        auth_time: new.now,
        expires_at: new.now + new.ttl,
        client_addr: new.client_addr.to_string(),
        user_agent: new.user_agent.chars().take(256).collect(),
        pending_id: new.pending_id.map(str::to_string),
        upstream_connection: new.upstream.map(|u| u.connection_id.clone()),
        upstream_subject: new.upstream.map(|u| u.subject.clone()),
        upstream_session: new.upstream.and_then(|u| u.session_index.clone()),
        upstream_hint: new.upstream.and_then(|u| u.logout_hint.clone()),
    }
    .into_active_model()
    .insert(db)
    .await?;
    let audit = AuditEvent {
        kind: AuditKind::LoginSucceeded,
        actor: Actor::Person,
        user_id: Some(login.user.id.clone()),
        client_addr: Some(new.client_addr),
        details: json!({ "connection": login.connection }),
    };
    record(db, &audit, new.now).await?;
    Ok(token)
}

/// The provider's session as a session row keeps it, if it has one.
fn upstream_of(
    connection_id: Option<String>,
    subject: Option<String>,
    session_index: Option<String>,
    logout_hint: Option<String>,
) -> Option<UpstreamSession> {
    Some(UpstreamSession {
        connection_id: connection_id?,
        subject: subject?,
        session_index,
        logout_hint,
    })
}

impl Store {
    /// Starts a session for the user of `login` and returns the token for the cookie. The login
    /// notification is written in the same transaction: a session never starts unannounced, and
    /// nothing is announced for a session that failed to start.
    pub async fn create_session(
        &self,
        login: &Notification,
        new: NewSession<'_>,
        config: &Config,
    ) -> Result<String, StoreError> {
        let txn = self.writer.begin().await?;
        let token = insert_session(&txn, login, new, config).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// The unexpired session a cookie token names, with its user, in one query.
    pub async fn find_session(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<SessionInfo>, StoreError> {
        Ok(self
            .session_query(SessionKey::Cookie(token), None, now)
            .await?
            .map(|(session, _)| session))
    }

    /// The unexpired session with this public `sid` (the ID token's claim), for the session
    /// tracker of a product that cannot send idbridge's cookie.
    pub async fn find_session_by_sid(
        &self,
        sid: &str,
        now: i64,
    ) -> Result<Option<SessionInfo>, StoreError> {
        Ok(self
            .session_query(SessionKey::Sid(sid), None, now)
            .await?
            .map(|(session, _)| session))
    }

    /// The same, with the scope the user has consented to give `client_id`, if any: what an
    /// authorization request needs, in one query.
    pub async fn find_session_and_consent(
        &self,
        token: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<(SessionInfo, Option<String>)>, StoreError> {
        self.session_query(SessionKey::Cookie(token), Some(client_id), now)
            .await
    }

    async fn session_query(
        &self,
        key: SessionKey<'_>,
        consent_of: Option<&str>,
        now: i64,
    ) -> Result<Option<(SessionInfo, Option<String>)>, StoreError> {
        use session::Column as S;
        let mut query = Query::select();
        query
            .columns(user::Column::iter().map(|column| (user::Entity, column)))
            .columns(
                [
                    S::Sid,
                    S::AuthTime,
                    S::ExpiresAt,
                    S::PendingId,
                    S::UpstreamConnection,
                    S::UpstreamSubject,
                    S::UpstreamSession,
                    S::UpstreamHint,
                ]
                .map(|column| (session::Entity, column)),
            )
            .from(session::Entity)
            .inner_join(
                user::Entity,
                Expr::col((user::Entity, user::Column::Id)).equals((session::Entity, S::UserId)),
            )
            .and_where(match key {
                SessionKey::Cookie(token) => {
                    Expr::col((session::Entity, S::IdHash)).eq(crypto::sha256_hex(token))
                }
                SessionKey::Sid(sid) => Expr::col((session::Entity, S::Sid)).eq(sid),
            })
            .and_where(Expr::col((session::Entity, S::ExpiresAt)).gt(now));
        if let Some(client_id) = consent_of {
            query
                .expr_as(
                    Expr::col((consent::Entity, consent::Column::Scope)),
                    Alias::new("consented_scope"),
                )
                .left_join(
                    consent::Entity,
                    Expr::col((consent::Entity, consent::Column::UserId))
                        .equals((session::Entity, S::UserId))
                        .and(Expr::col((consent::Entity, consent::Column::ClientId)).eq(client_id)),
                );
        }
        let Some(row) = self.db.query_one(&query).await? else {
            return Ok(None);
        };
        let consented = match consent_of {
            Some(_) => row.try_get("", "consented_scope")?,
            None => None,
        };
        let session = SessionInfo {
            user: User::from_query_result(&row, "")?,
            sid: row.try_get("", "sid")?,
            auth_time: row.try_get("", "auth_time")?,
            expires_at: row.try_get("", "expires_at")?,
            pending_id: row.try_get("", "pending_id")?,
            upstream: upstream_of(
                row.try_get("", "upstream_connection")?,
                row.try_get("", "upstream_subject")?,
                row.try_get("", "upstream_session")?,
                row.try_get("", "upstream_hint")?,
            ),
        };
        Ok(Some((session, consented)))
    }

    /// A user's live sessions, newest first.
    pub async fn sessions_of(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<session::Model>, StoreError> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::AuthTime)
            .all(&self.db)
            .await?)
    }
}
