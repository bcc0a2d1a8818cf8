//! Local-account sign-in: argon2id verification behind per-account and per-address rate limits.
//! An unknown account costs the same argon2 work and gives the same answer as a wrong password,
//! and it is throttled the same way, so neither timing nor lockouts reveal which accounts exist.
use crate::password::{self, PasswordError};
use crate::state::AppState;
use crate::store::tables::user;
use crate::store::{StoreError, ThrottleRule};

/// Failed logins allowed for one account (known or not) per window.
pub const ACCOUNT_RULE: ThrottleRule = ThrottleRule {
    max_failures: 5,
    window: 15 * 60,
};
/// Failed logins allowed from one client address per window.
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

/// Checks an email and password; on success the failures counted against the account are cleared.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    client_addr: &str,
) -> Result<user::Model, LoginError> {
    let now = state.clock.now();
    let account_key = format!("account:{}", email.trim().to_lowercase());
    let address_key = format!("address:{client_addr}");
    let keys = [
        (account_key.as_str(), ACCOUNT_RULE),
        (address_key.as_str(), ADDRESS_RULE),
    ];
    if let Some(until) = state.store.throttled_until(&keys, now).await? {
        return Err(LoginError::Throttled { until });
    }
    let user = state.store.find_local_user(email.trim()).await?;
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // Verified before the match: an unknown account does the same work and counts the same.
    let correct = verify_password::<LoginError>(state, &keys, stored_hash, password, now).await?;
    match user {
        Some(user) if correct => {
            state.store.clear_failures(&account_key).await?;
            Ok(user)
        }
        _ => Err(LoginError::InvalidCredentials),
    }
}

/// Whether `password` is the one `stored_hash` was made from. Without a stored hash (no such
/// account) the dummy hash is verified instead and the answer is `false`, so that an unknown name
/// costs the same argon2 work as a wrong password. A `false` is counted against every one of
/// `keys`. Local logins and API credentials both check passwords through here.
pub async fn verify_password<E: From<StoreError> + From<PasswordError>>(
    state: &AppState,
    keys: &[(&str, ThrottleRule)],
    stored_hash: Option<String>,
    password: &str,
    now: i64,
) -> Result<bool, E> {
    let known = stored_hash.is_some();
    let hash = stored_hash.unwrap_or_else(|| state.dummy_hash.to_string());
    let matches =
        password.len() <= MAX_PASSWORD_LEN && password::verify(password.to_string(), hash).await?;
    let correct = known && matches;
    if !correct {
        state.store.record_failure(keys, now).await?;
    }
    Ok(correct)
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
