//! Logins at upstream identity providers: the ones on their way, and the users they bring.
use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, TransactionTrait,
};

use super::Notification;
use super::User;
use super::sessions::insert_session;
use super::tables::{
    saml_assertion, upstream_identity, upstream_login, upstream_logout, user, user_entity,
};
use super::users::{Reported, entity_ids_of, new_user_row, update_identity, with_profile};
use super::{
    NewSession, Profile, Store, StoreError, UserSource, enqueue_notification,
    retried_after_conflict,
};
use crate::config::Config;
use crate::vocabulary::events::EventType;

/// What an upstream identity provider says about a person, already verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamProfile {
    pub connection_id: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    /// The entities the person is attached to, as the connection maps what the provider says.
    pub entity_ids: Vec<String>,
    /// The rest of their profile, as the provider says it now.
    pub profile: Profile,
    /// The provider's name for its session (OIDC `sid`, SAML `SessionIndex`), if it gave one.
    pub session_index: Option<String>,
    /// What asking the provider to end its session needs (see [`UpstreamSession::logout_hint`]).
    pub logout_hint: Option<String>,
}

impl UpstreamProfile {
    /// The provider's session this answer started.
    pub fn upstream_session(&self) -> UpstreamSession {
        UpstreamSession {
            connection_id: self.connection_id.clone(),
            subject: self.subject.clone(),
            session_index: self.session_index.clone(),
            logout_hint: self.logout_hint.clone(),
        }
    }
}

/// The provider's own session behind an idbridge session: what single logout names it by, in
/// either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSession {
    pub connection_id: String,
    /// Who the provider said the person is (OIDC `sub`, SAML NameID).
    pub subject: String,
    /// The provider's name for its session (OIDC `sid`, SAML `SessionIndex`), if it gave one.
    pub session_index: Option<String>,
    /// What asking the provider to log out needs, as its connector keeps it (OIDC: the ID token,
    /// sent back as `id_token_hint`; SAML: the NameID's format and qualifiers).
    pub logout_hint: Option<String>,
}

/// A logout sent to an upstream provider, kept until the provider sends the browser back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLogout {
    /// SHA-256 of the value that comes back with the answer (OIDC `state`, SAML RelayState).
    pub state_hash: String,
    pub connection_id: String,
    /// The SAML LogoutRequest ID, which the answer must name.
    pub request_id: Option<String>,
    /// Where the browser goes then: a registered `post_logout_redirect_uri` (with the client's
    /// `state`); none: idbridge's signed-out page.
    pub return_to: Option<String>,
    pub expires_at: i64,
}

/// A login on its way: sent to an upstream provider and kept until its answer comes back, or
/// answered where its browser's cookie does not come along (a cross-site POST) and kept for that
/// browser to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingLogin {
    /// SHA-256 of the value that comes back with the answer (OIDC `state`, SAML RelayState), or
    /// of the resume token the browser brings to an answered login.
    pub state_hash: String,
    pub connection_id: String,
    /// SHA-256 of the cookie that marks the browser that started the login; empty: any browser
    /// may resume it (an IdP-initiated answer).
    pub browser_hash: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    /// The SAML AuthnRequest ID, which the response must answer.
    pub request_id: Option<String>,
    /// A local path: where the browser goes once signed in.
    pub return_to: String,
    /// The pending authorization the login resumes.
    pub pending_id: Option<String>,
    pub expires_at: i64,
}

/// An id an answer carries that must be used once only (a SAML assertion ID), and until when it
/// could be presented, which is how long it is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeId {
    pub id: String,
    pub expires_at: i64,
}

/// A login as kept, taken back by its answer or resume token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLogin {
    pub sent: OutgoingLogin,
    /// Who the provider's answer signed in, waiting for the browser that started the login.
    pub user_id: Option<String>,
    /// The provider's session that answer started, for the session its browser resumes.
    pub upstream: Option<UpstreamSession>,
}

impl From<upstream_login::Model> for KeptLogin {
    fn from(row: upstream_login::Model) -> KeptLogin {
        KeptLogin {
            upstream: row.upstream_subject.map(|subject| UpstreamSession {
                connection_id: row.connection_id.clone(),
                subject,
                session_index: row.upstream_session,
                logout_hint: row.upstream_hint,
            }),
            user_id: row.user_id,
            sent: OutgoingLogin {
                state_hash: row.state_hash,
                connection_id: row.connection_id,
                browser_hash: row.browser_hash,
                nonce: row.nonce,
                pkce_verifier: row.pkce_verifier,
                request_id: row.request_id,
                return_to: row.return_to,
                pending_id: row.pending_id,
                expires_at: row.expires_at,
            },
        }
    }
}

/// What accepting a posted answer spends, each once across all processes.
#[derive(Debug, Clone, Default)]
pub struct Spent<'a> {
    /// The state hash of the login it answers, if any (an unsolicited answer answers none).
    pub login: Option<&'a str>,
    /// Its one-time id (a SAML assertion's ID), if it has one.
    pub one_time: Option<OneTimeId>,
}

/// The unexpired login of `connection_id` that `state_hash` names: one a provider has answered
/// (`answered`), or one still waiting for it.
fn kept_login(connection_id: &str, state_hash: &str, answered: bool, now: i64) -> Condition {
    use upstream_login::Column as L;
    Condition::all()
        .add(L::StateHash.eq(state_hash))
        .add(L::ConnectionId.eq(connection_id))
        .add(L::ExpiresAt.gt(now))
        .add(if answered {
            L::UserId.is_not_null()
        } else {
            L::UserId.is_null()
        })
}

/// The row that keeps `login`, answered for `answered`'s user and provider session if it is.
fn login_row(
    login: OutgoingLogin,
    answered: Option<(&User, &UpstreamProfile)>,
) -> upstream_login::Model {
    upstream_login::Model {
        state_hash: login.state_hash,
        connection_id: login.connection_id,
        browser_hash: login.browser_hash,
        nonce: login.nonce,
        pkce_verifier: login.pkce_verifier,
        request_id: login.request_id,
        user_id: answered.map(|(user, _)| user.id.clone()),
        return_to: login.return_to,
        pending_id: login.pending_id,
        expires_at: login.expires_at,
        upstream_subject: answered.map(|(_, profile)| profile.subject.clone()),
        upstream_session: answered.and_then(|(_, profile)| profile.session_index.clone()),
        upstream_hint: answered.and_then(|(_, profile)| profile.logout_hint.clone()),
    }
}

impl Store {
    pub async fn create_upstream_login(&self, login: OutgoingLogin) -> Result<(), StoreError> {
        login_row(login, None)
            .into_active_model()
            .insert(&self.writer)
            .await?;
        Ok(())
    }

    /// Takes the unexpired login a callback's `state` (or `RelayState`) names, once across all
    /// processes: a replayed callback finds nothing. `answered`: one a provider has answered,
    /// waiting for its browser ([`Store::accept_answer`]); otherwise one still waiting for the
    /// provider.
    pub async fn take_upstream_login(
        &self,
        connection_id: &str,
        state_hash: &str,
        answered: bool,
        now: i64,
    ) -> Result<Option<KeptLogin>, StoreError> {
        let taken = upstream_login::Entity::delete_many()
            .filter(kept_login(connection_id, state_hash, answered, now))
            .exec_with_returning(&self.writer)
            .await?;
        Ok(taken.into_iter().next().map(KeptLogin::from))
    }

    /// The unexpired login still waiting for the provider that a `RelayState` names, left in
    /// place: a posted answer takes it only once it has verified ([`Store::accept_answer`]), so
    /// that a forged answer cannot spend the person's login.
    pub async fn find_upstream_login(
        &self,
        connection_id: &str,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<KeptLogin>, StoreError> {
        Ok(upstream_login::Entity::find()
            .filter(kept_login(connection_id, state_hash, false, now))
            .one(&self.db)
            .await?
            .map(KeptLogin::from))
    }

    /// Accepts a verified answer that its browser is to resume, in one transaction: takes the
    /// login it answers (the state hash of one [`Store::find_upstream_login`] found), spends its
    /// one-time id (if it has one), keeps its user as [`upsert_user`] does,
    /// and stores `login` for that user. `false` when the login was taken or the id spent
    /// before. Should any write fail, nothing is stored: the login stays, the id is not spent,
    /// and no user or notification is left behind.
    pub async fn accept_answer(
        &self,
        spent: Spent<'_>,
        profile: &UpstreamProfile,
        new_user_id: &str,
        login: OutgoingLogin,
        config: &Config,
        now: i64,
    ) -> Result<bool, StoreError> {
        // A first login of the same person at the same moment (on PostgreSQL) may create the user
        // first.
        retried_after_conflict(|| async {
            let txn = self.writer.begin().await?;
            if let Some(state_hash) = spent.login {
                let taken = upstream_login::Entity::delete_many()
                    .filter(kept_login(&profile.connection_id, state_hash, false, now))
                    .exec(&txn)
                    .await?;
                if taken.rows_affected == 0 {
                    return Ok(false);
                }
            }
            if let Some(one_time) = &spent.one_time
                && !spend_one_time_id(&txn, &profile.connection_id, one_time.clone()).await?
            {
                return Ok(false);
            }
            let user = upsert_user(&txn, profile, new_user_id, config, now).await?;
            login_row(login.clone(), Some((&user, profile)))
                .into_active_model()
                .insert(&txn)
                .await?;
            txn.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Keeps a logout sent to an upstream provider until its answer comes back.
    pub async fn create_upstream_logout(&self, logout: SentLogout) -> Result<(), StoreError> {
        upstream_logout::Model {
            state_hash: logout.state_hash,
            connection_id: logout.connection_id,
            request_id: logout.request_id,
            return_to: logout.return_to,
            expires_at: logout.expires_at,
        }
        .into_active_model()
        .insert(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes, once, the unexpired logout of `connection_id` that an answer's `state` names.
    pub async fn take_upstream_logout(
        &self,
        connection_id: &str,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<SentLogout>, StoreError> {
        use upstream_logout::Column as L;
        let taken = upstream_logout::Entity::delete_many()
            .filter(L::StateHash.eq(state_hash))
            .filter(L::ConnectionId.eq(connection_id))
            .filter(L::ExpiresAt.gt(now))
            .exec_with_returning(&self.writer)
            .await?;
        Ok(taken.into_iter().next().map(|row| SentLogout {
            state_hash: row.state_hash,
            connection_id: row.connection_id,
            request_id: row.request_id,
            return_to: row.return_to,
            expires_at: row.expires_at,
        }))
    }

    /// Signs in someone an upstream provider has just vouched for, in one transaction: their
    /// user as [`upsert_user`] keeps it, with its profile notification, and a new session for
    /// `browser`, announced as a `UserLoginNotification` of the connection. Should any write fail,
    /// nothing is stored or announced. The user, and the session's token for the cookie.
    pub async fn sign_in_upstream(
        &self,
        profile: &UpstreamProfile,
        new_user_id: &str,
        browser: NewSession<'_>,
        config: &Config,
    ) -> Result<(User, String), StoreError> {
        let upstream = profile.upstream_session();
        let browser = NewSession {
            upstream: Some(&upstream),
            ..browser
        };
        // A first login of the same person at the same moment (on PostgreSQL) may create the user
        // first.
        retried_after_conflict(|| async {
            let txn = self.writer.begin().await?;
            let user = upsert_user(&txn, profile, new_user_id, config, browser.now).await?;
            let login = Notification::user_login(&user, &profile.connection_id);
            let session_token = insert_session(&txn, &login, browser, config).await?;
            txn.commit().await?;
            Ok((user, session_token))
        })
        .await
    }
}

impl Store {
    /// Spends the ID of an AuthnRequest from the service provider `sp`; `false` when it was
    /// spent before. Kept with the assertion IDs upstream IdPs present, under `idp:{sp}`, which no
    /// connection id can be (`idp` is reserved).
    pub async fn spend_saml_request_id(
        &self,
        sp: &str,
        request: OneTimeId,
    ) -> Result<bool, StoreError> {
        spend_one_time_id(&self.writer, &format!("idp:{sp}"), request).await
    }
}

/// Spends an id that a connection's provider may present once (a SAML assertion ID, a logout
/// token's `jti`), through `db` (the caller's transaction): one conditional insert, so that of
/// two processes presenting it at once only one succeeds. `false` when it was spent before.
pub(super) async fn spend_one_time_id<C: ConnectionTrait>(
    db: &C,
    connection_id: &str,
    one_time: OneTimeId,
) -> Result<bool, StoreError> {
    let spent = saml_assertion::Entity::insert(
        saml_assertion::Model {
            connection_id: connection_id.to_string(),
            assertion_id: one_time.id,
            expires_at: one_time.expires_at,
        }
        .into_active_model(),
    )
    .on_conflict_do_nothing()
    .exec(db)
    .await?;
    Ok(matches!(spent, sea_orm::TryInsertResult::Inserted(_)))
}

/// The user behind an upstream subject, created on first login and kept up to date after:
/// email, name and profile as the upstream says now, attached to the entities the connection
/// maps them to. A created user is announced as `ProfileCreatedNotification`, a changed one
/// (moved included) as `ProfileUpdatedNotification`, through the same connection (the caller's
/// transaction).
async fn upsert_user<C: ConnectionTrait>(
    txn: &C,
    profile: &UpstreamProfile,
    new_user_id: &str,
    config: &Config,
    now: i64,
) -> Result<User, StoreError> {
    let known = upstream_identity::Entity::find_by_id((
        profile.connection_id.clone(),
        profile.subject.clone(),
    ))
    .one(txn)
    .await?;
    let (user, event) = match known {
        Some(identity) => {
            let current = user::Entity::find_by_id(identity.user_id)
                .one(txn)
                .await?
                .ok_or_else(|| StoreError::Corrupt("upstream identity without user".into()))?;
            let reported = Reported {
                email: profile.email.clone(),
                name: profile.name.clone(),
                profile: Some(&profile.profile),
            };
            let (user, changed) = update_identity(txn, current, reported, now).await?;
            let moved = attach(txn, &user.id, &profile.entity_ids).await?;
            (
                user,
                (changed || moved).then_some(EventType::ProfileUpdated),
            )
        }
        None => {
            let source = UserSource::Connection(profile.connection_id.clone());
            let row = new_user_row(
                new_user_id,
                &profile.email,
                &profile.name,
                None,
                &source,
                now,
            );
            let created: User = with_profile(row, &profile.profile)
                .into_active_model()
                .insert(txn)
                .await?
                .into();
            // A concurrent first login of the same subject fails here on the primary key and
            // rolls back, instead of making a second user (and is tried again by the caller).
            upstream_identity::Model {
                connection_id: profile.connection_id.clone(),
                subject: profile.subject.clone(),
                user_id: created.id.clone(),
                created_at: now,
            }
            .into_active_model()
            .insert(txn)
            .await?;
            attach(txn, &created.id, &profile.entity_ids).await?;
            (created, Some(EventType::ProfileCreated))
        }
    };
    if let Some(event) = event {
        enqueue_notification(txn, config, &Notification::new(event, &user), now).await?;
    }
    Ok(user)
}

/// Attaches the user to `entity_ids` and to nothing else (a changed attribute at the provider,
/// or a changed rule in the config, moves them); whether anything changed.
async fn attach<C: ConnectionTrait>(
    txn: &C,
    user_id: &str,
    entity_ids: &[String],
) -> Result<bool, StoreError> {
    let current = entity_ids_of(txn, user_id).await?;
    let wanted: BTreeSet<&String> = entity_ids.iter().collect();
    if current.iter().collect::<BTreeSet<_>>() == wanted {
        return Ok(false);
    }
    user_entity::Entity::delete_many()
        .filter(user_entity::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    if wanted.is_empty() {
        return Ok(true);
    }
    user_entity::Entity::insert_many(wanted.into_iter().map(|entity_id| {
        user_entity::Model {
            user_id: user_id.to_string(),
            entity_id: entity_id.clone(),
        }
        .into_active_model()
    }))
    .exec(txn)
    .await?;
    Ok(true)
}
