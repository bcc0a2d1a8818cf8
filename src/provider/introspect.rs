//! `POST /sso/v2/introspect` (RFC 7662), for authenticated confidential clients and only about
//! their own tokens.
use axum::Form;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{TokenParam, client_and_token};
use super::error::OAuthError;
use crate::http::ClientAddr;
use crate::state::AppState;

pub async fn introspect(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (client, hash) = client_and_token(&state, address, &headers, form)?;
    if client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "introspection needs a confidential client".into(),
        ));
    }
    let now = state.clock.now();
    let answer = if let Some(access) = state.store.find_access_token(&hash, now).await?
        && access.client_id == client.id
    {
        json!({"active": true, "token_type": "Bearer", "client_id": access.client_id,
               "scope": access.scope, "sub": access.user_id, "exp": access.expires_at,
               "iss": state.server().issuer})
    } else if let Some(refresh) = state.store.find_refresh_token(&hash, now).await?
        && refresh.client_id == client.id
    {
        json!({"active": true, "token_type": "refresh_token", "client_id": refresh.client_id,
               "scope": refresh.scope, "sub": refresh.user_id, "exp": refresh.expires_at,
               "iss": state.server().issuer})
    } else {
        json!({"active": false})
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
