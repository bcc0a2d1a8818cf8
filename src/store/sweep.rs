//! Removal of state that can no longer be used: expired sessions and passed throttle windows.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::tables::{login_throttle, session};
use super::{Store, StoreError};

impl Store {
    /// Deletes sessions that have expired and failure counters older than `throttle_window`.
    pub async fn sweep(&self, now: i64, throttle_window: i64) -> Result<u64, StoreError> {
        let sessions = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        let counters = login_throttle::Entity::delete_many()
            .filter(login_throttle::Column::WindowStart.lte(now - throttle_window))
            .exec(&self.db)
            .await?;
        Ok(sessions.rows_affected + counters.rows_affected)
    }
}
