//! Logins at upstream identity providers: the ones on their way, and the users they bring.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};

use super::Notification;
use super::sessions::insert_session;
use super::tables::{saml_assertion, upstream_identity, upstream_login, user, user_entity};
use super::users::update_identity;
use super::{NewSession, Store, StoreError, enqueue_notification};
use crate::config::Config;
use crate::vocabulary::events::EventType;

/// What an upstream identity provider says about a person, already verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamProfile {
    pub connection_id: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    /// The entity the connection's users are attached to.
    pub entity_id: String,
}

impl Store {
    pub async fn create_upstream_login(
        &self,
        login: upstream_login::Model,
    ) -> Result<(), StoreError> {
        login.into_active_model().insert(&self.writer).await?;
        Ok(())
    }

    /// Takes the unexpired login a callback's `state` (or `RelayState`) names, once across all
    /// processes: a replayed callback finds nothing. `answered`: one a SAML IdP has answered,
    /// waiting for its browser; otherwise one still waiting for the provider.
    pub async fn take_upstream_login(
        &self,
        connection_id: &str,
        state_hash: &str,
        answered: bool,
        now: i64,
    ) -> Result<Option<upstream_login::Model>, StoreError> {
        use upstream_login::Column as L;
        let taken = upstream_login::Entity::delete_many()
            .filter(L::StateHash.eq(state_hash))
            .filter(L::ConnectionId.eq(connection_id))
            .filter(L::ExpiresAt.gt(now))
            .filter(if answered {
                L::UserId.is_not_null()
            } else {
                L::UserId.is_null()
            })
            .exec_with_returning(&self.writer)
            .await?;
        Ok(taken.into_iter().next())
    }

    /// Accepts a verified SAML assertion in one transaction: spends its ID, keeps its user as
    /// [`upsert_user`] does, and stores `resume`, the login its browser resumes, for that user.
    /// `false` when the ID was spent before. Should any write fail, nothing is stored: the ID is
    /// not spent, and no user or notification is left behind.
    pub async fn accept_saml_assertion(
        &self,
        assertion: saml_assertion::Model,
        profile: &UpstreamProfile,
        new_user_id: &str,
        mut resume: upstream_login::Model,
        config: &Config,
        now: i64,
    ) -> Result<bool, StoreError> {
        let txn = self.writer.begin().await?;
        let spent = saml_assertion::Entity::insert(assertion.into_active_model())
            .on_conflict_do_nothing()
            .exec(&txn)
            .await?;
        if !matches!(spent, sea_orm::TryInsertResult::Inserted(_)) {
            return Ok(false);
        }
        let user = upsert_user(&txn, profile, new_user_id, config, now).await?;
        resume.user_id = Some(user.id.clone());
        resume.into_active_model().insert(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The user behind an upstream subject, as [`upsert_user`] keeps it, in a transaction of its
    /// own.
    pub async fn upsert_upstream_user(
        &self,
        profile: &UpstreamProfile,
        new_user_id: &str,
        config: &Config,
        now: i64,
    ) -> Result<user::Model, StoreError> {
        let txn = self.writer.begin().await?;
        let user = upsert_user(&txn, profile, new_user_id, config, now).await?;
        txn.commit().await?;
        Ok(user)
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
    ) -> Result<(user::Model, String), StoreError> {
        let txn = self.writer.begin().await?;
        let user = upsert_user(&txn, profile, new_user_id, config, browser.now).await?;
        let login = Notification::user_login(&user, &profile.connection_id);
        let session_token = insert_session(&txn, &login, browser, config).await?;
        txn.commit().await?;
        Ok((user, session_token))
    }
}

/// The user behind an upstream subject, created on first login and kept up to date after:
/// email and name as the upstream says now, attached to the connection's entity. A created
/// user is announced as `ProfileCreatedNotification`, a changed email or name as
/// `ProfileUpdatedNotification`, through the same connection (the caller's transaction).
async fn upsert_user<C: ConnectionTrait>(
    txn: &C,
    profile: &UpstreamProfile,
    new_user_id: &str,
    config: &Config,
    now: i64,
) -> Result<user::Model, StoreError> {
    let known = upstream_identity::Entity::find_by_id((
        profile.connection_id.clone(),
        profile.subject.clone(),
    ))
    .one(txn)
    .await?;
    let user = match known {
        Some(identity) => {
            let current = user::Entity::find_by_id(identity.user_id)
                .one(txn)
                .await?
                .ok_or_else(|| StoreError::Corrupt("upstream identity without user".into()))?;
            let (user, changed) = update_identity(
                txn,
                current,
                profile.email.clone(),
                profile.name.clone(),
                now,
            )
            .await?;
            if changed {
                let notification = Notification::new(EventType::ProfileUpdated, &user);
                enqueue_notification(txn, config, &notification, now).await?;
            }
            user
        }
        None => {
            let created = user::Model {
                id: new_user_id.to_string(),
                email: profile.email.clone(),
                name: profile.name.clone(),
                password_hash: None,
                source: profile.connection_id.clone(),
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(txn)
            .await?;
            let notification = Notification::new(EventType::ProfileCreated, &created);
            enqueue_notification(txn, config, &notification, now).await?;
            // A concurrent first login of the same subject fails here on the primary key and
            // rolls back, instead of making a second user.
            upstream_identity::Model {
                connection_id: profile.connection_id.clone(),
                subject: profile.subject.clone(),
                user_id: created.id.clone(),
                created_at: now,
            }
            .into_active_model()
            .insert(txn)
            .await?;
            created
        }
    };
    // Attached to the connection's entity, and to nothing else: a changed `entity` in the
    // config moves the connection's users at their next login.
    user_entity::Entity::delete_many()
        .filter(user_entity::Column::UserId.eq(&user.id))
        .filter(user_entity::Column::EntityId.ne(&profile.entity_id))
        .exec(txn)
        .await?;
    user_entity::Entity::insert(
        user_entity::Model {
            user_id: user.id.clone(),
            entity_id: profile.entity_id.clone(),
        }
        .into_active_model(),
    )
    .on_conflict_do_nothing_on([user_entity::Column::UserId, user_entity::Column::EntityId])
    .exec(txn)
    .await?;
    Ok(user)
}
