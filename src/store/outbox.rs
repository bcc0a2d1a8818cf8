//! The notification outbox (SPEC section 8). Rows are written with the change they announce, in
//! its transaction ([`enqueue_notification`]); delivery workers, one per process, claim due rows
//! by a conditional write whose row count decides, so that two processes never send the same row
//! at the same time.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::Notification;
use super::tables::outbox;
use super::users::entity_ids_of;
use super::{Store, StoreError};
use crate::config::Config;
use crate::crypto;

/// Finished rows (delivered or given up) and rows of webhooks removed from the config are deleted
/// this long after their event. A row still waiting for delivery is never deleted, however long
/// idbridge was stopped.
pub const OUTBOX_RETENTION: i64 = 7 * 86_400;

/// A row due for delivery, before it is claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotification {
    pub id: String,
    pub webhook: String,
    pub attempts: i32,
}

/// A row claimed for one attempt: what the delivery worker sends, and the attempt's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedNotification {
    pub id: String,
    pub event_type: String,
    pub body: String,
    /// The number of this attempt, counting it.
    pub attempts: i32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The webhook answered 2xx.
    Delivered,
    /// It failed; try again at `at`.
    Retry { at: i64, error: String },
    /// It failed and there are no attempts left.
    GiveUp { error: String },
}

/// Writes one outbox row for each webhook of `config` subscribed to the notification's event,
/// through `db`: the caller's transaction, so that the rows commit or roll back with the change
/// they announce, and so that the user's attachments it reads are those the change left. Each row
/// gets its own random id, which is the payload's `meta.id`.
pub async fn enqueue_notification<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    notification: &Notification,
    now: i64,
) -> Result<(), StoreError> {
    let webhooks: Vec<_> = config
        .webhooks
        .iter()
        .filter(|w| w.wants(notification.event))
        .collect();
    if webhooks.is_empty() {
        return Ok(());
    }
    let entity_ids = entity_ids_of(db, &notification.user.id).await?;
    let notification = notification
        .clone()
        .attached_to(config.hierarchy.attachments(&entity_ids));
    for webhook in webhooks {
        let id = crypto::random_token();
        let body = notification.payload(&id, &config.server.issuer, now);
        enqueue(
            db,
            id,
            webhook.key(),
            notification.event.as_str(),
            body,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Writes one outbox row, due at once, for `target` (a webhook's key, or a client's
/// back-channel logout target), through `db`: the caller's transaction.
pub(super) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    id: String,
    target: String,
    event_type: &str,
    body: String,
    now: i64,
) -> Result<(), StoreError> {
    outbox::Model {
        id,
        webhook: target,
        event_type: event_type.to_string(),
        body,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        delivered_at: None,
        given_up_at: None,
        last_error: None,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(())
}

/// Neither finished nor held by a process, and its time has come.
fn claimable(now: i64) -> Condition {
    use outbox::Column as O;
    Condition::all()
        .add(O::DeliveredAt.is_null())
        .add(O::GivenUpAt.is_null())
        .add(O::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(O::LockedUntil.is_null())
                .add(O::LockedUntil.lte(now)),
        )
}

/// The notifications not yet delivered nor given up, of every webhook and process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub waiting: i64,
    pub oldest_created_at: Option<i64>,
}

impl Store {
    /// How many notifications wait in the outbox, and since when the oldest, in one query.
    pub async fn outbox_backlog(&self) -> Result<Backlog, StoreError> {
        use outbox::Column as O;
        use sea_orm::sea_query::Expr;
        let (waiting, oldest_created_at): (i64, Option<i64>) = outbox::Entity::find()
            .select_only()
            .expr(Expr::col(O::Id).count())
            .expr(Expr::col(O::CreatedAt).min())
            .filter(O::DeliveredAt.is_null())
            .filter(O::GivenUpAt.is_null())
            .into_tuple()
            .one(&self.db)
            .await?
            .unwrap_or((0, None));
        Ok(Backlog {
            waiting,
            oldest_created_at,
        })
    }

    /// Up to `limit` rows of the given webhooks (by key) that may be claimed now, oldest due first.
    pub async fn due_notifications(
        &self,
        webhooks: &[String],
        now: i64,
        limit: u64,
    ) -> Result<Vec<DueNotification>, StoreError> {
        use outbox::Column as O;
        let rows: Vec<(String, String, i32)> = outbox::Entity::find()
            .select_only()
            .columns([O::Id, O::Webhook, O::Attempts])
            .filter(claimable(now))
            .filter(O::Webhook.is_in(webhooks))
            .order_by_asc(O::NextAttemptAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, webhook, attempts)| DueNotification {
                id,
                webhook,
                attempts,
            })
            .collect())
    }

    /// Takes a due row for one attempt, held until `now + lease`; `None` when another process
    /// took it first. The attempt is counted here, so the returned row's `attempts` is the number
    /// of this attempt, and it fences the outcome ([`Store::finish_attempt`]).
    pub async fn claim_notification(
        &self,
        due: &DueNotification,
        now: i64,
        lease: i64,
    ) -> Result<Option<ClaimedNotification>, StoreError> {
        use outbox::Column as O;
        let claimed = outbox::Entity::update_many()
            .col_expr(O::LockedUntil, Expr::value(now + lease))
            .col_expr(O::Attempts, Expr::col(O::Attempts).add(1))
            .filter(O::Id.eq(&due.id))
            .filter(O::Attempts.eq(due.attempts))
            .filter(claimable(now))
            .exec_with_returning(&self.writer)
            .await?;
        Ok(claimed.into_iter().next().map(|row| ClaimedNotification {
            id: row.id,
            event_type: row.event_type,
            body: row.body,
            attempts: row.attempts,
        }))
    }

    /// Records how attempt number `attempt` of a row ended. A failure is recorded only while the
    /// row is still this attempt's (no later claim, not delivered meanwhile); a delivery always is.
    pub async fn finish_attempt(
        &self,
        id: &str,
        attempt: i32,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> Result<(), StoreError> {
        use outbox::Column as O;
        let update = outbox::Entity::update_many()
            .col_expr(O::LockedUntil, Expr::value(Option::<i64>::None))
            .filter(O::Id.eq(id))
            .filter(O::DeliveredAt.is_null());
        let update = match outcome {
            AttemptOutcome::Delivered => update
                .col_expr(O::DeliveredAt, Expr::value(now))
                .col_expr(O::LastError, Expr::value(Option::<String>::None)),
            AttemptOutcome::Retry { at, error } => update
                .col_expr(O::NextAttemptAt, Expr::value(*at))
                .col_expr(O::LastError, Expr::value(error.clone()))
                .filter(O::Attempts.eq(attempt)),
            AttemptOutcome::GiveUp { error } => update
                .col_expr(O::GivenUpAt, Expr::value(now))
                .col_expr(O::LastError, Expr::value(error.clone()))
                .filter(O::Attempts.eq(attempt)),
        };
        update.exec(&self.writer).await?;
        Ok(())
    }
}
