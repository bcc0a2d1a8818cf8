//! Removal of state that can no longer be used: passed throttle windows,
//! abandoned authorizations, upstream logins and logouts, codes and tokens past their lifetime, session
//! URLs that were never opened, and finished outbox rows past their retention.
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::tables::{
    access_token, authorization_code, login_throttle, outbox, pending_authorization, refresh_token,
    saml_assertion, session, session_client, session_url, upstream_login, upstream_logout,
};
use super::{OUTBOX_RETENTION, Store, StoreError};

/// A spent code is kept this long past its expiry, so that a late replay is still recognised as
/// one and revokes what the code issued.
const CODE_REPLAY_MEMORY: i64 = 86_400;

impl Store {
    /// Deletes what has expired (but sessions, which [`Store::end_expired_sessions`] ends);
    /// counters older than `throttle_window`; outbox rows past their retention that are finished
    /// or belong to none of the `live_targets` (webhooks by key, clients by their back-channel
    /// logout target). Returns the rows removed.
    pub async fn sweep(
        &self,
        now: i64,
        throttle_window: i64,
        live_targets: &[String],
    ) -> Result<u64, StoreError> {
        let db = &self.writer;
        let removed = [
            // The clients to tell of sessions that are gone (ended or expired).
            session_client::Entity::delete_many()
                .filter(
                    session_client::Column::Sid.not_in_subquery(
                        Query::select()
                            .column(session::Column::Sid)
                            .from(session::Entity)
                            .to_owned(),
                    ),
                )
                .exec(db)
                .await?,
            login_throttle::Entity::delete_many()
                .filter(login_throttle::Column::WindowStart.lte(now - throttle_window))
                .exec(db)
                .await?,
            pending_authorization::Entity::delete_many()
                .filter(pending_authorization::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            authorization_code::Entity::delete_many()
                .filter(authorization_code::Column::ExpiresAt.lte(now - CODE_REPLAY_MEMORY))
                .exec(db)
                .await?,
            access_token::Entity::delete_many()
                .filter(access_token::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            refresh_token::Entity::delete_many()
                .filter(refresh_token::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            upstream_login::Entity::delete_many()
                .filter(upstream_login::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            upstream_logout::Entity::delete_many()
                .filter(upstream_logout::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            saml_assertion::Entity::delete_many()
                .filter(saml_assertion::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            session_url::Entity::delete_many()
                .filter(session_url::Column::ExpiresAt.lte(now))
                .exec(db)
                .await?,
            outbox::Entity::delete_many()
                .filter(outbox::Column::CreatedAt.lte(now - OUTBOX_RETENTION))
                .filter(
                    Condition::any()
                        .add(outbox::Column::DeliveredAt.is_not_null())
                        .add(outbox::Column::GivenUpAt.is_not_null())
                        .add(outbox::Column::Webhook.is_not_in(live_targets.iter().cloned())),
                )
                .exec(db)
                .await?,
        ];
        Ok(removed.iter().map(|r| r.rows_affected).sum())
    }
}
