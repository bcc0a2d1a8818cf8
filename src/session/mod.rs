//! The idbridge session of the browser behind a request: finding it, starting it at a login,
//! and what the login page says after it ends ([`flash`]).
pub mod flash;

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

use crate::http::cookies;
use crate::state::AppState;
use crate::store::{NewSession, SessionInfo, StoreError};

/// The live session the request's cookie names, if any.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionInfo>, StoreError> {
    match cookies::get(state, headers, cookies::SESSION) {
        Some(token) => state.store.find_session(token, state.clock.now()).await,
        None => Ok(None),
    }
}

/// The same, with the scope its user has consented to give `client_id`, if any, in one query.
pub async fn current_session_and_consent(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Option<(SessionInfo, Option<String>)>, StoreError> {
    match cookies::get(state, headers, cookies::SESSION) {
        Some(token) => {
            let now = state.clock.now();
            state
                .store
                .find_session_and_consent(token, client_id, now)
                .await
        }
        None => Ok(None),
    }
}

/// A session for the browser behind `headers`, starting now, made by a login for the pending
/// authorization `pending_id`, if any.
pub fn new_session<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
    client_addr: IpAddr,
    pending_id: Option<&'a str>,
) -> NewSession<'a> {
    NewSession {
        now: state.clock.now(),
        ttl: state.server().session_ttl,
        client_addr,
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        pending_id,
        replaces: cookies::get(state, headers, cookies::SESSION),
        upstream: None,
    }
}

/// The `Set-Cookie` that gives the browser the session of `token`: a new token at every login
/// (the one before ends with it, see [`NewSession::replaces`]).
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let ttl = state.server().session_ttl;
    cookies::set(state, cookies::SESSION, token, Some(ttl))
}
