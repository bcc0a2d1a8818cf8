//! The end of a session, for every party that holds something of it: the tokens issued in it are
//! revoked, and each client registered for back-channel logout that got a code in it is told
//! through the outbox, in the transaction that ends the session. Refresh tokens go too, though
//! they exist only for `offline_access` (which OpenID Connect lets outlive a sign-out): clients
//! of idbridge ask for it to keep their own sessions, and a person who signs out expects every
//! application to lose access.
use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
    TransactionTrait,
};
use serde_json::json;

use super::audit::{Initiator, record};
use super::outbox::enqueue;
use super::tables::{access_token, authorization_code, refresh_token, session, session_client};
use super::upstream::spend_one_time_id;
use super::{OneTimeId, Store, StoreError};
use crate::config::Config;
use crate::crypto;
use crate::vocabulary::audit::AuditKind;
use crate::vocabulary::logout::{BACKCHANNEL_EVENT, backchannel_target};

/// A session that has just ended: its public id and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EndedSession {
    pub sid: String,
    pub user_id: String,
}

impl From<session::Model> for EndedSession {
    fn from(row: session::Model) -> Self {
        EndedSession {
            sid: row.sid,
            user_id: row.user_id,
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Someone ended it: the person, another person signing in at the browser, the provider
    /// upstream. What was issued in it goes with it.
    SignedOut,
    /// Its lifetime passed. The clients hear of it as of a sign-out, but the tokens issued in it
    /// keep their own lifetimes: `offline_access` is asked for to outlive the session.
    Expired,
}

/// Sessions whose lifetime has passed are ended this many at a time, so that a backlog does not
/// hold the write lock for long.
const EXPIRED_BATCH: u64 = 500;

/// Revokes what `ended` leaves behind (unless it `Expired`) and writes its back-channel logout
/// rows, through `db`: the caller's transaction, which deleted the session rows. Returns the
/// clients that got a code in it and hear of sign-outs (for the front channel, which the browser
/// carries).
pub(super) async fn after_session_end<C: ConnectionTrait>(
    db: &C,
    ended: &EndedSession,
    ending: Ending,
    config: &Config,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    if ending == Ending::SignedOut {
        revoke_issued_in(db, ended, now).await?;
    }
    let told = session_client::Entity::find()
        .filter(session_client::Column::Sid.eq(&ended.sid))
        .all(db)
        .await?;
    for row in &told {
        let Some(client) = config
            .clients
            .iter()
            .find(|c| c.client_id == row.client_id && c.backchannel_logout.is_some())
        else {
            continue;
        };
        enqueue(
            db,
            crypto::random_token(),
            backchannel_target(&client.client_id),
            BACKCHANNEL_EVENT,
            json!({ "sub": ended.user_id, "sid": ended.sid }).to_string(),
            now,
        )
        .await?;
    }
    session_client::Entity::delete_many()
        .filter(session_client::Column::Sid.eq(&ended.sid))
        .exec(db)
        .await?;
    Ok(told.into_iter().map(|row| row.client_id).collect())
}

/// Revokes the codes, access and refresh tokens of the grant families issued in `ended`.
async fn revoke_issued_in<C: ConnectionTrait>(
    db: &C,
    ended: &EndedSession,
    now: i64,
) -> Result<(), StoreError> {
    use refresh_token::Column as R;
    // The codes of a session name its families (a code is kept a day past its expiry, see the
    // sweep), and rotated refresh tokens carry its sid after that.
    let from_codes = authorization_code::Entity::find()
        .filter(authorization_code::Column::Sid.eq(&ended.sid))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.family_id);
    let from_refresh = refresh_token::Entity::find()
        .filter(R::Sid.eq(&ended.sid))
        .filter(R::RevokedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.family_id);
    let families: BTreeSet<String> = from_codes.chain(from_refresh).collect();
    if !families.is_empty() {
        authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::RevokedAt, Expr::value(now))
            .filter(authorization_code::Column::FamilyId.is_in(&families))
            .filter(authorization_code::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
        refresh_token::Entity::update_many()
            .col_expr(R::RevokedAt, Expr::value(now))
            .filter(R::FamilyId.is_in(&families))
            .filter(R::RevokedAt.is_null())
            .exec(db)
            .await?;
        access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::value(now))
            .filter(access_token::Column::FamilyId.is_in(&families))
            .filter(access_token::Column::RevokedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Remembers that `client_id` got a code in the session `sid`, to tell it when the session
    /// ends. Only for clients registered for back- or front-channel logout: others cost no write.
    pub async fn remember_session_client(
        &self,
        sid: &str,
        client_id: &str,
    ) -> Result<(), StoreError> {
        session_client::Entity::insert(
            session_client::Model {
                sid: sid.to_string(),
                client_id: client_id.to_string(),
            }
            .into_active_model(),
        )
        .on_conflict(
            OnConflict::columns([
                session_client::Column::Sid,
                session_client::Column::ClientId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.writer)
        .await?;
        Ok(())
    }

    /// Ends the session a cookie token names, if there is one (see [`after_session_end`]), as
    /// its person signs out (audited); the clients that got a code in it and hear of sign-outs.
    pub async fn end_session(
        &self,
        token: &str,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.end_sessions_where(
            session::Column::IdHash.eq(crypto::sha256_hex(token)),
            Ending::SignedOut,
            Some(by),
            config,
            now,
        )
        .await
        .map(|(_, told)| told)
    }

    /// Ends one of a user's sessions, named by its id (the hash of its cookie token), as the
    /// account page lists them, with its audit event.
    pub async fn end_session_of(
        &self,
        user_id: &str,
        id_hash: &str,
        by: &Initiator,
        config: &Config,
        now: i64,
    ) -> Result<(), StoreError> {
        let which = sea_orm::Condition::all()
            .add(session::Column::UserId.eq(user_id))
            .add(session::Column::IdHash.eq(id_hash));
        self.end_sessions_where(which, Ending::SignedOut, Some(by), config, now)
            .await
            .map(drop)
    }

    /// Ends the session `sid` when `client_id` was told of it (a SAML service provider that got
    /// an assertion in it asks, naming the session by the SessionIndex it was given): whether a
    /// session ended, and the other parties that hear of it.
    pub async fn end_session_told_to(
        &self,
        sid: &str,
        client_id: &str,
        config: &Config,
        now: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let told = session_client::Entity::find_by_id((sid.to_string(), client_id.to_string()))
            .one(&self.db)
            .await?;
        if told.is_none() {
            return Ok(None);
        }
        let (ended, heard) = self
            .end_sessions_where(
                session::Column::Sid.eq(sid),
                Ending::SignedOut,
                None,
                config,
                now,
            )
            .await?;
        Ok((ended > 0).then(|| heard.into_iter().filter(|id| id != client_id).collect()))
    }

    /// Ends the sessions a provider's own session stood behind, when the provider says it has
    /// ended (upstream single logout): those of `connection_id` for `subject`, or for its
    /// `session_index` (OIDC `sid`, SAML `SessionIndex`), or for both where both are given. The
    /// number of sessions ended.
    pub async fn end_upstream_sessions(
        &self,
        connection_id: &str,
        subject: Option<&str>,
        session_index: Option<&str>,
        config: &Config,
        now: i64,
    ) -> Result<usize, StoreError> {
        let Some(which) = upstream_sessions(connection_id, subject, session_index) else {
            return Ok(0);
        };
        self.end_sessions_where(which, Ending::SignedOut, None, config, now)
            .await
            .map(|(ended, _)| ended)
    }

    /// Ends the sessions whose lifetime has passed, up to a batch of them (the sweep calls again
    /// while there are more): the clients that got a code in one hear of it; the tokens issued
    /// in it keep their own lifetimes ([`Ending::Expired`]). How many ended.
    pub async fn end_expired_sessions(
        &self,
        config: &Config,
        now: i64,
    ) -> Result<usize, StoreError> {
        self.end_sessions_where(
            session::Column::ExpiresAt.lte(now),
            Ending::Expired,
            None,
            config,
            now,
        )
        .await
        .map(|(ended, _)| ended)
    }

    /// [`Store::end_upstream_sessions`] for a provider's word that counts once (a logout
    /// token's `jti`): `one_time` is spent, across all processes, in the transaction that ends
    /// the sessions, so a write that fails leaves it for the provider's retry. `None`: it was
    /// spent before, and nothing changed.
    pub async fn end_upstream_sessions_once(
        &self,
        one_time: OneTimeId,
        connection_id: &str,
        subject: Option<&str>,
        session_index: Option<&str>,
        config: &Config,
        now: i64,
    ) -> Result<Option<usize>, StoreError> {
        let Some(which) = upstream_sessions(connection_id, subject, session_index) else {
            return Ok(Some(0));
        };
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        if !spend_one_time_id(&txn, connection_id, one_time).await? {
            return Ok(None);
        }
        let (ended, _) = end_sessions_in(&txn, which, Ending::SignedOut, None, config, now).await?;
        txn.commit().await?;
        Ok(Some(ended))
    }

    /// Ends the sessions `which` selects (expired ones a batch at a time), each as
    /// [`after_session_end`] says, each with a `session.ended` audit event when someone (`by`)
    /// ended it; how many ended, and the clients that got a code in them and hear of sign-outs.
    /// The rows are taken by the delete that ends them, so that two processes ending the same
    /// session do not both tell its clients.
    async fn end_sessions_where(
        &self,
        which: impl Into<sea_orm::Condition>,
        ending: Ending,
        by: Option<&Initiator>,
        config: &Config,
        now: i64,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        let ended = end_sessions_in(&txn, which.into(), ending, by, config, now).await?;
        txn.commit().await?;
        Ok(ended)
    }
}

/// The sessions of `connection_id` that a provider names by `subject`, `session_index` or both;
/// `None` when it names neither.
fn upstream_sessions(
    connection_id: &str,
    subject: Option<&str>,
    session_index: Option<&str>,
) -> Option<sea_orm::Condition> {
    if subject.is_none() && session_index.is_none() {
        return None;
    }
    let mut which =
        sea_orm::Condition::all().add(session::Column::UpstreamConnection.eq(connection_id));
    if let Some(subject) = subject {
        which = which.add(session::Column::UpstreamSubject.eq(subject));
    }
    if let Some(index) = session_index {
        which = which.add(session::Column::UpstreamSession.eq(index));
    }
    Some(which)
}

/// [`Store::end_sessions_where`] within the caller's transaction `txn`.
pub(super) async fn end_sessions_in<C: ConnectionTrait>(
    txn: &C,
    which: sea_orm::Condition,
    ending: Ending,
    by: Option<&Initiator>,
    config: &Config,
    now: i64,
) -> Result<(usize, Vec<String>), StoreError> {
    let which: sea_orm::Condition = match ending {
        Ending::SignedOut => which,
        Ending::Expired => {
            let batch: Vec<String> = session::Entity::find()
                .select_only()
                .column(session::Column::IdHash)
                .filter(which)
                .limit(EXPIRED_BATCH)
                .into_tuple()
                .all(txn)
                .await?;
            sea_orm::Condition::all().add(session::Column::IdHash.is_in(batch))
        }
    };
    let rows = session::Entity::delete_many()
        .filter(which)
        .exec_with_returning(txn)
        .await?;
    let ended = rows.len();
    let mut told = Vec::new();
    for row in rows {
        if let Some(by) = by {
            let event = by.event(
                AuditKind::SessionEnded,
                Some(&row.user_id),
                json!({ "sid": row.sid }),
            );
            record(txn, &event, now).await?;
        }
        told.extend(after_session_end(txn, &row.into(), ending, config, now).await?);
    }
    Ok((ended, told))
}
