//! The time source. Every expiry check reads the clock from application state, so tests move
//! time forward with [`Clock::advance`] instead of sleeping, or stop it with [`Clock::stopped`]
//! to make steps fall in the same second.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None` for the system's time; otherwise the second this clock stands at.
    stopped_at: Option<i64>,
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stands at the system's current second, moved only by [`Clock::advance`].
    pub fn stopped() -> Clock {
        Clock {
            stopped_at: Some(system_seconds()),
            ..Clock::default()
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.stopped_at.unwrap_or_else(system_seconds) + self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

fn system_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
