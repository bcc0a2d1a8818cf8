//! Local-account sign-in: argon2id verification behind per-account and per-address rate limits.
//! An unknown account costs the same argon2 work and gives the same answer as a wrong password,
//! and it is throttled the same way, so neither timing nor lockouts reveal which accounts exist.
use std::net::IpAddr;

use crate::http::PageError;
use crate::password::PasswordError;
use crate::state::AppState;
use crate::store::tables::user;
use crate::store::{StoreError, ThrottleRule, address_key};

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

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("incorrect email or password")]
    InvalidCredentials,
    #[error("too many failed logins; blocked until {until}")]
    Throttled { until: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// Checks an email and password, sent from `client`; on success the failures counted against
/// the account are cleared.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    client: IpAddr,
) -> Result<user::Model, LoginError> {
    let now = state.clock.now();
    let account_key = format!("account:{}", email.trim().to_lowercase());
    let address_key = address_key("address", client);
    let keys = [
        (account_key.as_str(), ACCOUNT_RULE),
        (address_key.as_str(), ADDRESS_RULE),
    ];
    let user = state.store.find_local_user(email.trim()).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Checked before the match: an unknown account does the same work and counts the same.
    match check_password::<LoginError>(state, &keys, stored_hash, password, now).await? {
        Checked::Correct => {
            let user = user.ok_or_else(|| {
                StoreError::Corrupt("a password matched without an account".into())
            })?;
            state.store.clear_failures(&account_key).await?;
            Ok(user)
        }
        Checked::Wrong => Err(LoginError::InvalidCredentials),
        Checked::Throttled { until } => Err(LoginError::Throttled { until }),
    }
}

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

/// Checks `password` against `stored_hash`. The attempt is counted against every one of `keys`
/// first, and when that puts one over its rule the password is not checked at all; so parallel
/// guesses get no more checks than the rule allows. A correct password takes its count back; a
/// check that could not run (the [`crate::password::Argon2Gate`] was busy) too. Without a stored
/// hash (no such account) the dummy hash is checked instead and the answer is
/// [`Checked::Wrong`], so that an unknown name costs the same argon2 work as a wrong password.
/// Local logins and API credentials both check passwords through here.
pub async fn check_password<E: From<StoreError> + From<PasswordError>>(
    state: &AppState,
    keys: &[(&str, ThrottleRule)],
    stored_hash: Option<String>,
    password: &str,
    now: i64,
) -> Result<Checked, E> {
    if let Some(until) = state.store.count_attempt(keys, now).await? {
        return Ok(Checked::Throttled { until });
    }
    let counted: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
    let known = stored_hash.is_some();
    let hash = stored_hash.unwrap_or_else(|| state.dummy_hash.to_string());
    let matches = if password.len() <= MAX_PASSWORD_LEN {
        match state.argon2.verify(password.to_string(), hash).await {
            Ok(matches) => matches,
            Err(error) => {
                state.store.uncount_attempt(&counted).await?;
                return Err(error.into());
            }
        }
    } else {
        false
    };
    if known && matches {
        state.store.uncount_attempt(&counted).await?;
        Ok(Checked::Correct)
    } else {
        Ok(Checked::Wrong)
    }
}

/// Deletes expired sessions, failure counters whose window has passed, and expired
/// authorizations, codes and tokens.
pub async fn sweep_expired(state: &AppState) -> Result<u64, StoreError> {
    let window = ACCOUNT_RULE.window.max(ADDRESS_RULE.window);
    let live_webhooks: Vec<String> = state.config.webhooks.iter().map(|w| w.key()).collect();
    state
        .store
        .sweep(state.clock.now(), window, &live_webhooks)
        .await
}

impl From<LoginError> for PageError {
    fn from(error: LoginError) -> PageError {
        match error {
            LoginError::Store(e) => PageError::Store(e),
            LoginError::Password(busy @ PasswordError::Busy(_)) => PageError::Busy(busy),
            other => PageError::Internal(other.to_string()),
        }
    }
}
