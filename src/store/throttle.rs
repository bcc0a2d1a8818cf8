//! Counters of failed logins and of rate-limited events, in the database so that every process
//! sees the same counts.
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, Set};

use super::tables::login_throttle::{self, Column};
use super::{Store, StoreError};

/// At most `max_failures` failed logins per `window` seconds for one key.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub max_failures: i32,
    pub window: i64,
}

impl Store {
    /// Counts one attempt against each key before its password is checked, and says until when
    /// the latest of the keys is blocked if any is now over its rule. Each count is one statement
    /// that increments and returns the new value (`INSERT … ON CONFLICT DO UPDATE … RETURNING`),
    /// so of any number of attempts in parallel only the first `max_failures` of a window get
    /// through: reading the count first and adding to it after the check would let every one
    /// of them pass. A window that has passed starts again at 1.
    pub async fn count_attempt(
        &self,
        keys: &[(&str, ThrottleRule)],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut blocked_until = None;
        for (key, rule) in keys {
            let (count, window_start) = self.count_once(key, rule.window, now).await?;
            if count > rule.max_failures {
                let until = window_start + rule.window;
                blocked_until = std::cmp::max(blocked_until, Some(until));
            }
        }
        Ok(blocked_until)
    }

    /// Takes back an attempt counted against each key, for an attempt that turned out not to be
    /// a failure (the right password, or one never checked).
    pub async fn uncount_attempt(&self, keys: &[&str]) -> Result<(), StoreError> {
        login_throttle::Entity::update_many()
            .col_expr(Column::Failures, Expr::col(Column::Failures).sub(1))
            .filter(Column::Key.is_in(keys.iter().map(|key| key.to_string())))
            .filter(Column::Failures.gt(0))
            .exec(&self.writer)
            .await?;
        Ok(())
    }

    /// Counts one event for `key` and returns how many its window holds now, this one included,
    /// in one atomic statement, so that parallel requests each see a different count (a window
    /// that has passed starts again at 1). For limits on how often something may be done.
    pub async fn count_event(&self, key: &str, window: i64, now: i64) -> Result<i32, StoreError> {
        Ok(self.count_once(key, window, now).await?.0)
    }

    /// Counts one more for `key` and returns the count and the start of its window, in one
    /// statement that increments and returns (`INSERT … ON CONFLICT DO UPDATE … RETURNING`,
    /// written out because sea-orm would follow an insert with a separate SELECT on SQLite).
    async fn count_once(&self, key: &str, window: i64, now: i64) -> Result<(i32, i64), StoreError> {
        let mut upsert = count_once(key, window, now).into_query();
        upsert.returning(Query::returning().columns([Column::Failures, Column::WindowStart]));
        let row = self
            .writer
            .query_one(&upsert)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a count returned no row".into()))?;
        Ok((
            row.try_get("", "failures")?,
            row.try_get("", "window_start")?,
        ))
    }

    /// Forgets the attempts counted against a key (after a successful login to that account).
    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        login_throttle::Entity::delete_by_id(key.to_string())
            .exec(&self.writer)
            .await?;
        Ok(())
    }
}

/// The insert that counts one more for `key`: a new row at 1, or the row's count plus one, or 1
/// in a new window when the row's `window` seconds have passed.
fn count_once(key: &str, window: i64, now: i64) -> sea_orm::Insert<login_throttle::ActiveModel> {
    let window_over = Expr::col((login_throttle::Entity, Column::WindowStart)).lte(now - window);
    let on_conflict = OnConflict::column(Column::Key)
        .value(
            Column::Failures,
            Expr::case(window_over.clone(), 1)
                .finally(Expr::col((login_throttle::Entity, Column::Failures)).add(1)),
        )
        .value(
            Column::WindowStart,
            Expr::case(window_over, now)
                .finally(Expr::col((login_throttle::Entity, Column::WindowStart))),
        )
        .to_owned();
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.to_string()),
        failures: Set(1),
        window_start: Set(now),
    })
    .on_conflict(on_conflict)
}
