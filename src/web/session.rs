//! The idbridge session of the browser behind a request.
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

use super::cookies;
use crate::notifications::Notification;
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

/// Starts a session for someone who has just proved who they are, and returns its `Set-Cookie`.
/// The session the browser had before is ended: a new id at every login, so an id planted or
/// seen before the login is worthless after it. `login` is announced to the webhooks that want
/// `UserLoginNotification` (see [`Notification::user_login`]).
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    login: &Notification,
    client_addr: &str,
) -> Result<String, StoreError> {
    if let Some(previous) = cookies::get(state, headers, cookies::SESSION) {
        state.store.delete_session(previous).await?;
    }
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ttl = state.config.server.session_ttl;
    let new = NewSession {
        login,
        now: state.clock.now(),
        ttl,
        client_addr,
        user_agent,
    };
    let token = state.store.create_session(new, &state.config).await?;
    Ok(cookies::set(state, cookies::SESSION, &token, Some(ttl)))
}
