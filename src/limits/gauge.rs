//! This process's count of live pending logins, against the deployment's limit: counting them
//! takes a scan, so it is taken at most once a second and what is admitted meanwhile is added.
use std::sync::Mutex;

use crate::store::{Store, StoreError};

/// This process's idea of how many pending rows are alive: the last count (taken in the second
/// `counted_at`) plus the rows admitted since.
#[derive(Debug, Default)]
pub struct PendingGauge {
    state: Mutex<Gauge>,
}

#[derive(Debug, Default)]
struct Gauge {
    counted_at: Option<i64>,
    live: u64,
}

impl PendingGauge {
    /// Takes one place if there is room; `false` when the deployment is full.
    pub(super) async fn reserve(
        &self,
        store: &Store,
        now: i64,
        max: u64,
    ) -> Result<bool, StoreError> {
        let stale = self.lock().counted_at != Some(now);
        if stale {
            let live = store.count_live_pending(now).await?;
            let mut gauge = self.lock();
            gauge.counted_at = Some(now);
            gauge.live = live;
        }
        let mut gauge = self.lock();
        if gauge.live >= max {
            return Ok(false);
        }
        gauge.live += 1;
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gauge> {
        // A panic while holding the lock leaves two plain numbers, still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
