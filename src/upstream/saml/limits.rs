//! What SAML responses may cost this process, whoever posts them: the ACS needs no login, and
//! verifying a response is blocking work that shares the blocking pool with password logins.
//! At most [`POSTS_PER_WINDOW`] posts per client address (IPv6 addresses by /64) per
//! [`WINDOW`] seconds, and at most one verification per core at a time; a post waits at most
//! [`TURN_WAIT`] for its turn. Per process, in memory: what is protected is this process's CPU.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::vocabulary::addresses::address_key;

pub const POSTS_PER_WINDOW: u32 = 120;
pub const WINDOW: i64 = 60;
pub const TURN_WAIT: Duration = Duration::from_secs(5);
/// Addresses remembered at most; past that, passed windows are forgotten, then all.
const MAX_ADDRESSES: usize = 10_000;

pub struct SamlLimits {
    verifications: Arc<Semaphore>,
    turn_wait: Duration,
    /// Per address: when its window started, and its posts in it.
    posts: Mutex<HashMap<String, (i64, u32)>>,
}

impl Default for SamlLimits {
    fn default() -> SamlLimits {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SamlLimits::with_verifications(cores, TURN_WAIT)
    }
}

impl SamlLimits {
    fn with_verifications(permits: usize, turn_wait: Duration) -> SamlLimits {
        SamlLimits {
            verifications: Arc::new(Semaphore::new(permits)),
            turn_wait,
            posts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a post from `client`; false when it is one too many.
    pub fn count_post(&self, client: IpAddr, now: i64) -> bool {
        let key = address_key("acs", client);
        let mut posts = self.posts.lock().unwrap_or_else(|e| e.into_inner());
        if posts.len() >= MAX_ADDRESSES && !posts.contains_key(&key) {
            posts.retain(|_, (start, _)| *start + WINDOW > now);
            if posts.len() >= MAX_ADDRESSES {
                posts.clear();
            }
        }
        let (start, count) = posts.entry(key).or_insert((now, 0));
        if *start + WINDOW <= now {
            (*start, *count) = (now, 0);
        }
        *count = count.saturating_add(1);
        *count <= POSTS_PER_WINDOW
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn posts_are_counted_per_address_and_window() {
        let limits = SamlLimits::default();
        for _ in 0..POSTS_PER_WINDOW {
            assert!(limits.count_post(ip("203.0.113.9"), 1000));
        }
        assert!(!limits.count_post(ip("203.0.113.9"), 1000 + WINDOW - 1));
        assert!(limits.count_post(ip("203.0.113.10"), 1000));
        assert!(limits.count_post(ip("203.0.113.9"), 1000 + WINDOW));
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limits = SamlLimits::default();
        for i in 0..POSTS_PER_WINDOW {
            assert!(limits.count_post(ip(&format!("2001:db8:1:2::{i:x}")), 0));
        }
        assert!(!limits.count_post(ip("2001:db8:1:2:ffff::1"), 0));
        assert!(limits.count_post(ip("2001:db8:1:3::1"), 0));
    }

    #[test]
    fn many_addresses_stay_bounded() {
        let limits = SamlLimits::default();
        for i in 0..MAX_ADDRESSES as u32 + 10 {
            limits.count_post(IpAddr::from(i.to_be_bytes()), 0);
        }
        assert!(limits.posts.lock().unwrap().len() <= MAX_ADDRESSES);
    }

    #[tokio::test]
    async fn a_post_waits_a_bounded_time_for_its_turn() {
        let limits = SamlLimits::with_verifications(1, Duration::from_millis(50));
        let held = limits.turn().await.expect("a free turn");
        assert!(limits.turn().await.is_none(), "busy");
        drop(held);
        assert!(limits.turn().await.is_some());
    }
}
