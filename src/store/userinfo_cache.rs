//! A process's short memory of the userinfo grants it has just read, so that a client calling
//! userinfo again and again with one access token does not cost a database round trip each time
//! (the round trip is most of userinfo's cost; see docs/performance.md).
//!
//! What it may cost in correctness is bounded by `ttl` (`server.userinfo_cache`):
//! - A revocation made by this process is seen at once: every revoking store method forgets
//!   everything after its writes ([`UserinfoCache::forget_all_when_done`]), and a grant read
//!   before that cannot be remembered past it (its fill carries the revocation count it started
//!   from).
//! - A revocation made by another process sharing the database is seen within `ttl`. RFC 7009
//!   section 2.2 allows such a propagation delay; introspection always reads the database.
//! - A token never outlives its own expiry here, and a changed name or email shows within `ttl`.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::UserinfoGrant;

/// More distinct live tokens than this within one `ttl` make the cache start afresh rather
/// than grow: memory stays bounded (a few hundred bytes an entry) whatever the traffic.
const MAX_ENTRIES: usize = 65_536;

#[derive(Debug)]
pub(super) struct UserinfoCache {
    ttl: Duration,
    /// Counts this process's revocations; an entry filled before the latest one is not used.
    revocations: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    grant: Arc<UserinfoGrant>,
    revocations: u64,
    fresh_until: Instant,
}

/// Taken before reading the database, handed back with what was read.
pub(super) struct Fill {
    revocations: u64,
}

impl UserinfoCache {
    /// A zero `ttl` turns the cache off.
    pub(super) fn new(ttl: Duration) -> UserinfoCache {
        UserinfoCache {
            ttl,
            revocations: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The remembered grant of a token, while fresh, unrevoked here, and unexpired at `now`.
    pub(super) fn get(&self, token_hash: &str, now: i64) -> Option<Arc<UserinfoGrant>> {
        if self.ttl.is_zero() {
            return None;
        }
        let revocations = self.revocations.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(token_hash)?;
        (entry.revocations == revocations
            && entry.fresh_until > Instant::now()
            && entry.grant.expires_at > now)
            .then(|| Arc::clone(&entry.grant))
    }

    /// Call before reading a grant from the database, so that a revocation made while the read
    /// is under way keeps its result out of the cache.
    pub(super) fn start_fill(&self) -> Fill {
        Fill {
            revocations: self.revocations.load(Ordering::Acquire),
        }
    }

    pub(super) fn fill(&self, fill: Fill, token_hash: &str, grant: Arc<UserinfoGrant>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash.to_string(),
            Entry {
                grant,
                revocations: fill.revocations,
                fresh_until: Instant::now() + self.ttl,
            },
        );
    }

    /// For a method that revokes tokens: forgets everything when dropped, that is after the
    /// method's writes, even when it fails or is cancelled halfway.
    pub(super) fn forget_all_when_done(&self) -> ForgetWhenDone<'_> {
        ForgetWhenDone(self)
    }

    fn forget_all(&self) {
        self.revocations.fetch_add(1, Ordering::AcqRel);
        if !self.ttl.is_zero() {
            // The count already makes every entry unusable; the map is dropped outside the
            // lock so that userinfo requests do not wait for tens of thousands of frees.
            let forgotten =
                std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()));
            drop(forgotten);
        }
    }
}

pub(super) struct ForgetWhenDone<'a>(&'a UserinfoCache);

impl Drop for ForgetWhenDone<'_> {
    fn drop(&mut self) {
        self.0.forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires_at: i64) -> Arc<UserinfoGrant> {
        let user = super::super::users::new_user_row(
            "u",
            "u@example.com",
            "U",
            None,
            &super::super::UserSource::Config,
            0,
        );
        Arc::new(UserinfoGrant {
            scope: crate::vocabulary::scope::Scopes::parse("openid"),
            user: user.into(),
            entity_ids: vec![],
            expires_at,
        })
    }

    #[test]
    fn remembers_until_revoked_expired_or_stale() {
        let cache = UserinfoCache::new(Duration::from_secs(60));
        let fill = cache.start_fill();
        cache.fill(fill, "h", grant(100));
        assert!(cache.get("h", 99).is_some());
        assert!(cache.get("h", 100).is_none(), "expired token");
        assert!(cache.get("other", 99).is_none());
        drop(cache.forget_all_when_done());
        assert!(cache.get("h", 99).is_none(), "revoked here");

        let stale = UserinfoCache::new(Duration::from_millis(1));
        stale.fill(stale.start_fill(), "h", grant(100));
        std::thread::sleep(Duration::from_millis(5));
        assert!(stale.get("h", 99).is_none(), "older than the ttl");
    }

    #[test]
    fn a_read_overtaken_by_a_revocation_is_not_remembered() {
        let cache = UserinfoCache::new(Duration::from_secs(60));
        let fill = cache.start_fill();
        drop(cache.forget_all_when_done());
        cache.fill(fill, "h", grant(100));
        assert!(cache.get("h", 99).is_none());
    }

    #[test]
    fn zero_ttl_remembers_nothing() {
        let cache = UserinfoCache::new(Duration::ZERO);
        cache.fill(cache.start_fill(), "h", grant(100));
        assert!(cache.get("h", 99).is_none());
    }
}
