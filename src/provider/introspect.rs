//! `POST /sso/v2/revoke` (RFC 7009) and `POST /sso/v2/introspect` (RFC 7662), for authenticated
//! clients and only about their own tokens.
use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::clients::Client;
use super::error::OAuthError;
use super::token::authenticate_client;
use crate::crypto;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct TokenParam {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The authenticated client and the stored key of the `token` it asks about.
fn client_and_token<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<(&'a Client, String), OAuthError> {
    let Form(form) = form.map_err(|e| OAuthError::InvalidRequest(e.body_text()))?;
    let client = authenticate_client(
        state,
        headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    Ok((client, crypto::ordered_token_key(&token)))
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (client, hash) = client_and_token(&state, &headers, form)?;
    let now = state.clock.now();
    // A refresh token takes its whole grant with it; an access token only itself. Unknown tokens
    // and other clients' tokens get the same 200, so the answer reveals nothing (RFC 7009 2.2).
    if let Some(refresh) = state.store.find_refresh_token(&hash, now).await?
        && refresh.client_id == client.id
    {
        state.store.revoke_family(&refresh.family_id, now).await?;
    } else if let Some(access) = state.store.find_access_token(&hash, now).await?
        && access.client_id == client.id
    {
        state.store.revoke_access_token(&hash, now).await?;
    }
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (client, hash) = client_and_token(&state, &headers, form)?;
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
               "iss": state.config.server.issuer})
    } else if let Some(refresh) = state.store.find_refresh_token(&hash, now).await?
        && refresh.client_id == client.id
    {
        json!({"active": true, "token_type": "refresh_token", "client_id": refresh.client_id,
               "scope": refresh.scope, "sub": refresh.user_id, "exp": refresh.expires_at,
               "iss": state.config.server.issuer})
    } else {
        json!({"active": false})
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
