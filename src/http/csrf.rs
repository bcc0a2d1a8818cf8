//! CSRF protection for forms: a random seed in an `HttpOnly` cookie, and in each form the HMAC of
//! that seed under a server key. Over https the seed cookie is `__Host-` prefixed, so a sibling
//! subdomain cannot plant a seed whose token it knows.
use axum::http::HeaderMap;

use super::Site;
use super::cookies;
use super::error::PageError;
use crate::crypto;

/// The token to put in a form, and the `Set-Cookie` to send when the browser has no seed yet.
pub fn issue(site: &impl Site, headers: &HeaderMap) -> (String, Option<String>) {
    match cookies::get(site, headers, cookies::CSRF) {
        Some(seed) => (token_for(site, seed), None),
        None => {
            let seed = crypto::random_token();
            let cookie = cookies::set(site, cookies::CSRF, &seed, Some(site.session_ttl()));
            (token_for(site, &seed), Some(cookie))
        }
    }
}

/// Refuses a form whose token does not match the browser's seed.
pub fn verify(site: &impl Site, headers: &HeaderMap, token: &str) -> Result<(), PageError> {
    let seed = cookies::get(site, headers, cookies::CSRF).ok_or(PageError::Csrf)?;
    if crypto::constant_time_eq(&token_for(site, seed), token) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

fn token_for(site: &impl Site, seed: &str) -> String {
    crypto::hmac_b64(site.csrf_key(), seed.as_bytes())
}
