//! Credentials that verified recently, so that a backend calling many times a minute pays the
//! argon2 cost once. Only successes are remembered. An entry is keyed by an HMAC of username and
//! password under a random key of this process, so the map holds nothing a password could be
//! guessed from offline; it lives for [`TTL`] seconds (a credential changed in the config takes
//! effect at the next start anyway), and the map never holds more than [`MAX_ENTRIES`].
//!
//! A pair is verified by one request at a time ([`VerifiedCache::turn`]): requests that come
//! while it runs wait and take its result. Without that, a backend with many connections would
//! verify in parallel each time its entry expires, every attempt would count against its address
//! before any succeeded, and it would throttle itself.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use super::ApiCredential;
use crate::crypto;

/// How long a verified credential is remembered, in seconds.
pub const TTL: i64 = 60;
/// Bound on remembered credentials; when full, expired entries go, and if none has expired the
/// map starts over.
pub const MAX_ENTRIES: usize = 1024;

pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, (ApiCredential, i64)>>,
    /// The pairs being verified now, each with the lock its verification holds.
    verifying: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Default for VerifiedCache {
    fn default() -> VerifiedCache {
        VerifiedCache {
            key: crypto::random_bytes(),
            entries: Mutex::new(HashMap::new()),
            verifying: Arc::default(),
        }
    }
}

/// The turn to verify a pair; others wait for it until it is dropped.
pub struct Turn {
    fingerprint: String,
    verifying: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    _held: OwnedMutexGuard<()>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut verifying = self.verifying.lock().unwrap_or_else(|e| e.into_inner());
        // Two holders: the map and this turn's guard; more means someone waits for the lock.
        if verifying
            .get(&self.fingerprint)
            .is_some_and(|lock| Arc::strong_count(lock) <= 2)
        {
            verifying.remove(&self.fingerprint);
        }
    }
}

impl VerifiedCache {
    /// The username never contains ':' (HTTP Basic splits at the first one), so
    /// `username:password` names one pair only.
    fn fingerprint(&self, username: &str, password: &str) -> String {
        crypto::hmac_b64(&self.key, format!("{username}:{password}").as_bytes())
    }

    /// Waits until no other request verifies this exact pair, and holds the turn until the
    /// result is dropped; look in the cache again once it is yours.
    pub async fn turn(&self, username: &str, password: &str) -> Turn {
        let fingerprint = self.fingerprint(username, password);
        let lock = self
            .verifying
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(fingerprint.clone())
            .or_default()
            .clone();
        Turn {
            fingerprint,
            verifying: self.verifying.clone(),
            _held: lock.lock_owned().await,
        }
    }

    /// The credential these exact username and password verified as, if that was less than
    /// [`TTL`] seconds ago.
    pub fn get(&self, username: &str, password: &str, now: i64) -> Option<ApiCredential> {
        let fingerprint = self.fingerprint(username, password);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&fingerprint)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(credential, _)| credential.clone())
    }

    pub fn insert(&self, username: &str, password: &str, credential: &ApiCredential, now: i64) {
        let fingerprint = self.fingerprint(username, password);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, expires_at)| *expires_at > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(fingerprint, (credential.clone(), now + TTL));
    }

    /// Forgets every verification (the credentials changed, perhaps through another process).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(name: &str) -> ApiCredential {
        ApiCredential {
            username: name.into(),
            scopes: vec!["sso_urls".into()],
        }
    }

    #[test]
    fn remembers_only_the_exact_pair_for_a_minute() {
        let cache = VerifiedCache::default();
        cache.insert("backend", "secret", &credential("backend"), 1000);
        assert_eq!(
            cache.get("backend", "secret", 1000 + TTL - 1),
            Some(credential("backend"))
        );
        assert_eq!(cache.get("backend", "secret", 1000 + TTL), None);
        assert_eq!(cache.get("backend", "Secret", 1000), None);
        assert_eq!(cache.get("backend2", "secret", 1000), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..MAX_ENTRIES + 10 {
            cache.insert(&format!("u{i}"), "pw", &credential("u"), 0);
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
        assert!(
            cache
                .get(&format!("u{}", MAX_ENTRIES + 9), "pw", 0)
                .is_some()
        );
    }
}
