//! CSRF protection for forms: a random seed in an `HttpOnly` cookie, and in each form the HMAC of
//! that seed under a server key. Over https the seed cookie is `__Host-` prefixed, so a sibling
//! subdomain cannot plant a seed whose token it knows.
use axum::http::HeaderMap;

use super::cookies;
use super::error::PageError;
use crate::crypto;
use crate::state::AppState;

/// The token to put in a form, and the `Set-Cookie` to send when the browser has no seed yet.
pub fn issue(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookies::get(state, headers, cookies::CSRF) {
        Some(seed) => (token_for(state, seed), None),
        None => {
            let seed = crypto::random_token();
            let cookie = cookies::set(
                state,
                cookies::CSRF,
                &seed,
                Some(state.config.server.session_ttl),
            );
            (token_for(state, &seed), Some(cookie))
        }
    }
}

/// Refuses a form whose token does not match the browser's seed.
pub fn verify(state: &AppState, headers: &HeaderMap, token: &str) -> Result<(), PageError> {
    let seed = cookies::get(state, headers, cookies::CSRF).ok_or(PageError::Csrf)?;
    if crypto::constant_time_eq(&token_for(state, seed), token) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

fn token_for(state: &AppState, seed: &str) -> String {
    crypto::hmac_b64(state.csrf_key.as_slice(), seed.as_bytes())
}
