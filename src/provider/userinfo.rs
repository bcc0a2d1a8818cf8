//! `GET/POST /sso/v2/userinfo` (OIDC Core 5.3): the claims the access token's scope releases,
//! `attached_to` included.
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::claims::user_claims;
use super::error::BearerError;
use crate::crypto;
use crate::state::AppState;

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    let token = bearer_token(&headers)?;
    let claims = claims_for_access_token(&state, token).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response())
}

/// The token of an `Authorization: Bearer` header (RFC 6750 section 2.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(BearerError::Missing)
}

/// The userinfo claims an access token gives access to, from one database query or, within
/// `server.userinfo_cache` of the last one, from this process's memory.
pub async fn claims_for_access_token(
    state: &AppState,
    token: &str,
) -> Result<Map<String, Value>, BearerError> {
    let grant = state
        .store
        .userinfo_grant(&crypto::ordered_token_key(token), state.clock.now())
        .await?
        .ok_or(BearerError::InvalidToken)?;
    Ok(user_claims(
        &state.config().hierarchy,
        &grant.user,
        &grant.entity_ids,
        &grant.scope,
    ))
}
