//! `GET/POST /sso/v2/userinfo` (OIDC Core 5.3): the claims the access token's scope releases,
//! `attached_to` included.
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::error::{BearerError, OAuthError};
use super::tokens::user_claims;
use crate::crypto;
use crate::state::AppState;

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(BearerError::Missing)?;
    let found = state
        .store
        .find_access_token(&crypto::sha256_hex(token), state.clock.now())
        .await?;
    // A client_credentials token stands for no user, so it has no userinfo.
    let Some((grant, Some(user))) = found else {
        return Err(BearerError::InvalidToken);
    };
    let claims = user_claims(&state, &user, &grant.scope)
        .await
        .map_err(|e| match e {
            OAuthError::Server(cause) => BearerError::Server(cause),
            other => BearerError::Server(other.to_string()),
        })?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response())
}
