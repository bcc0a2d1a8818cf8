//! Password checks that requests cause (local logins, API credentials), behind throttling rules.
//! An unknown name costs the same argon2 work and gives the same answer as a wrong password, and
//! it is throttled the same way, so neither timing nor lockouts reveal which names exist.
use crate::password::{Argon2Gate, PasswordError};
use crate::store::{Store, StoreError, ThrottleRule};

/// Failed logins allowed for one account (known or not) per window.
pub const ACCOUNT_RULE: ThrottleRule = ThrottleRule {
    max_failures: 5,
    window: 15 * 60,
};
/// Failed logins allowed from one client address (an IPv6 /64) per window.
pub const ADDRESS_RULE: ThrottleRule = ThrottleRule {
    max_failures: 20,
    window: 15 * 60,
};
/// Longer passwords are refused without hashing, so a huge one cannot tie up a core.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// What checking a password came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Correct,
    Wrong,
    /// Not checked: one of the keys is over its rule until then.
    Throttled {
        until: i64,
    },
}

/// What a password check needs: the failure counters, the gate that bounds argon2 work, and a
/// hash of no one's password to check when the name is unknown.
pub struct PasswordChecker<'a> {
    pub store: &'a Store,
    pub argon2: &'a Argon2Gate,
    pub dummy_hash: &'a str,
}

impl PasswordChecker<'_> {
    /// Checks `password` against `stored_hash`. The attempt is counted against every one of
    /// `keys` first, and when that puts one over its rule the password is not checked at all; so
    /// parallel guesses get no more checks than the rule allows. A correct password takes its
    /// count back; a check that could not run (the [`Argon2Gate`] was busy) too. Without a
    /// stored hash (no such name) the dummy hash is checked instead and the answer is
    /// [`Checked::Wrong`], so that an unknown name costs the same argon2 work as a wrong password.
    pub async fn check<E: From<StoreError> + From<PasswordError>>(
        &self,
        keys: &[(&str, ThrottleRule)],
        stored_hash: Option<String>,
        password: &str,
        now: i64,
    ) -> Result<Checked, E> {
        if let Some(until) = self.store.count_attempt(keys, now).await? {
            return Ok(Checked::Throttled { until });
        }
        let counted: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = if password.len() <= MAX_PASSWORD_LEN {
            match self.argon2.verify(password.to_string(), hash).await {
                Ok(matches) => matches,
                Err(error) => {
                    self.store.uncount_attempt(&counted).await?;
                    return Err(error.into());
                }
            }
        } else {
            false
        };
        if known && matches {
            self.store.uncount_attempt(&counted).await?;
            Ok(Checked::Correct)
        } else {
            Ok(Checked::Wrong)
        }
    }
}
