//! Counters of failed logins and of rate-limited events, in the database so that every process
//! sees the same counts.
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::tables::login_throttle::{self, Column};
use super::{Store, StoreError};

/// At most `max_failures` failed logins per `window` seconds for one key.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub max_failures: i32,
    pub window: i64,
}

impl Store {
    /// When the latest of the given keys' blocks ends, if any of them is blocked now.
    pub async fn throttled_until(
        &self,
        keys: &[(&str, ThrottleRule)],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let rows = login_throttle::Entity::find()
            .filter(Column::Key.is_in(keys.iter().map(|(key, _)| key.to_string())))
            .all(&self.db)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let (_, rule) = keys.iter().find(|(key, _)| *key == row.key)?;
                let until = row.window_start + rule.window;
                (row.failures >= rule.max_failures && until > now).then_some(until)
            })
            .max())
    }

    /// Counts one failure for each key, atomically: a window that has passed starts again at 1.
    pub async fn record_failure(
        &self,
        keys: &[(&str, ThrottleRule)],
        now: i64,
    ) -> Result<(), StoreError> {
        for (key, rule) in keys {
            count_once(key, rule.window, now)
                .exec_without_returning(&self.writer)
                .await?;
        }
        Ok(())
    }

    /// Counts one event for `key` and returns how many its window holds now, this one included,
    /// in one atomic statement, so that parallel requests each see a different count (a window
    /// that has passed starts again at 1). For limits on how often something may be done.
    pub async fn count_event(&self, key: &str, window: i64, now: i64) -> Result<i32, StoreError> {
        let row = count_once(key, window, now)
            .exec_with_returning(&self.writer)
            .await?;
        Ok(row.failures)
    }

    /// Forgets the failures of a key (after a successful login to that account).
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
