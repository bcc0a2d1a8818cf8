//! The idbridge session of the browser behind a request.
use axum::http::HeaderMap;

use super::cookies;
use crate::state::AppState;
use crate::store::{SessionInfo, StoreError};

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
