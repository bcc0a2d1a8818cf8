//! Request rates held in this process's memory: at most so many requests per period per key,
//! all of them at once if the key was quiet (the generic cell rate algorithm: each key keeps only
//! the time its next request would be due). Used where a database write per request would cost
//! more than the request itself (the token endpoint), or where what is protected is this
//! process's CPU (the SAML ACS); with several processes each keeps its own count, so a deployment
//! of N processes admits up to N times the rate.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many keys, keys whose burst has fully recovered are dropped (they hold nothing a
/// fresh entry would not), at most once a second so that many live keys cost no scan per request.
const PRUNE_ABOVE: usize = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct RateLimit<K> {
    /// The time between two requests at the steady rate.
    interval: Duration,
    /// How far ahead of now a key's due time may run: one period's burst.
    burst: Duration,
    keys: Mutex<Keys<K>>,
}

#[derive(Debug)]
struct Keys<K> {
    due: HashMap<K, Instant>,
    pruned_at: Option<Instant>,
}

impl<K: Hash + Eq> RateLimit<K> {
    /// At most `count` requests per `period` per key, `count` of them at once.
    pub fn new(count: u32, period: Duration) -> RateLimit<K> {
        RateLimit {
            interval: period / count.max(1),
            burst: period,
            keys: Mutex::new(Keys {
                due: HashMap::new(),
                pruned_at: None,
            }),
        }
    }

    /// Counts one request of `key` at `now`, or, when the key is over its rate, says how long
    /// until it may try again (and counts nothing). A key already counted is not copied again.
    pub fn admit<Q>(&self, key: &Q, now: Instant) -> Result<(), Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let Keys { due, pruned_at } = &mut *keys;
        if due.len() > PRUNE_ABOVE && pruned_at.is_none_or(|at| now >= at + PRUNE_EVERY) {
            due.retain(|_, next| *next > now);
            *pruned_at = Some(now);
        }
        let known = due.get_mut(key);
        let next = known.as_deref().map_or(now, |next| (*next).max(now));
        let ahead = next - now;
        if ahead + self.interval > self.burst {
            return Err(ahead + self.interval - self.burst);
        }
        match known {
            Some(due_at) => *due_at = next + self.interval,
            None => {
                due.insert(key.to_owned(), next + self.interval);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_steady_rate() {
        let limit = RateLimit::<String>::new(10, Duration::from_secs(1));
        let start = Instant::now();
        for _ in 0..10 {
            assert_eq!(limit.admit("a", start), Ok(()));
        }
        let wait = limit.admit("a", start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // Another key has its own count.
        assert_eq!(limit.admit("b", start), Ok(()));
        // After one interval, one more request; not two.
        let later = start + Duration::from_millis(100);
        assert_eq!(limit.admit("a", later), Ok(()));
        assert!(limit.admit("a", later).is_err());
        // After a quiet second, the full burst again.
        let rested = later + Duration::from_secs(1);
        for _ in 0..10 {
            assert_eq!(limit.admit("a", rested), Ok(()));
        }
        assert!(limit.admit("a", rested).is_err());
    }

    #[test]
    fn refused_requests_do_not_push_the_due_time() {
        let limit = RateLimit::<u32>::new(1, Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(limit.admit(&1, start), Ok(()));
        for _ in 0..100 {
            assert!(limit.admit(&1, start).is_err());
        }
        assert_eq!(limit.admit(&1, start + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn recovered_keys_are_pruned() {
        let limit = RateLimit::new(1000, Duration::from_secs(1));
        let start = Instant::now();
        for key in 0..=PRUNE_ABOVE as u32 {
            limit.admit(&key, start).unwrap();
        }
        limit
            .admit(&u32::MAX, start + Duration::from_secs(2))
            .unwrap();
        assert_eq!(limit.keys.lock().unwrap().due.len(), 1);
    }
}
