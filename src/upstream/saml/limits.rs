//! What SAML responses may cost this process, whoever posts them: the ACS needs no login, and
//! verifying a response is blocking work that shares the blocking pool with password logins.
//! At most `server.saml_posts_per_minute_per_address` posts per client address (IPv6 addresses by
//! /64) per [`WINDOW`] (all at once after a quiet minute, then steadily), and at most one
//! verification per core at a time; a post waits at most [`TURN_WAIT`] for its turn. Per
//! process, in memory: what is protected is this process's CPU.
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::rate::RateLimit;
use crate::vocabulary::addresses::counted_address;

pub const WINDOW: Duration = Duration::from_secs(60);
pub const TURN_WAIT: Duration = Duration::from_secs(5);

pub struct SamlLimits {
    verifications: Arc<Semaphore>,
    turn_wait: Duration,
    posts: RateLimit<IpAddr>,
}

impl SamlLimits {
    /// `posts_per_window` posts per address per [`WINDOW`], one verification per core.
    pub fn new(posts_per_window: u32) -> SamlLimits {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SamlLimits::with_verifications(cores, TURN_WAIT, posts_per_window)
    }

    fn with_verifications(permits: usize, turn_wait: Duration, posts: u32) -> SamlLimits {
        SamlLimits {
            verifications: Arc::new(Semaphore::new(permits)),
            turn_wait,
            posts: RateLimit::new(posts, WINDOW),
        }
    }

    /// Counts a post from `client`; false when it is one too many.
    pub fn count_post(&self, client: IpAddr, now: Instant) -> bool {
        self.posts.admit(&counted_address(client), now).is_ok()
    }

    /// A turn to verify, held until the permit is dropped; `None` when none came in
    /// [`TURN_WAIT`].
    pub async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        let waiting = self.verifications.clone().acquire_owned();
        tokio::time::timeout(self.turn_wait, waiting)
            .await
            .ok()?
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTS_PER_WINDOW: u32 = 120;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn posts_are_counted_per_address_and_window() {
        let limits = SamlLimits::new(POSTS_PER_WINDOW);
        let start = Instant::now();
        for _ in 0..POSTS_PER_WINDOW {
            assert!(limits.count_post(ip("203.0.113.9"), start));
        }
        assert!(!limits.count_post(ip("203.0.113.9"), start));
        assert!(limits.count_post(ip("203.0.113.10"), start));
        assert!(limits.count_post(ip("203.0.113.9"), start + WINDOW));
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limits = SamlLimits::new(POSTS_PER_WINDOW);
        let now = Instant::now();
        for i in 0..POSTS_PER_WINDOW {
            assert!(limits.count_post(ip(&format!("2001:db8:1:2::{i:x}")), now));
        }
        assert!(!limits.count_post(ip("2001:db8:1:2:ffff::1"), now));
        assert!(limits.count_post(ip("2001:db8:1:3::1"), now));
    }

    #[tokio::test]
    async fn a_post_waits_a_bounded_time_for_its_turn() {
        let limits = SamlLimits::with_verifications(1, Duration::from_millis(50), POSTS_PER_WINDOW);
        let held = limits.turn().await.expect("a free turn");
        assert!(limits.turn().await.is_none(), "busy");
        drop(held);
        assert!(limits.turn().await.is_some());
    }
}
