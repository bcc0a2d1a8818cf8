//! `POST /sso/v2/revoke` (RFC 7009), for authenticated clients and only their own tokens.
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{TokenParam, client_and_token};
use super::error::OAuthError;
use crate::http::ClientAddr;
use crate::state::AppState;
use crate::store::{Actor, AuditEvent};
use crate::vocabulary::audit::AuditKind;

pub async fn revoke(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<Response, OAuthError> {
    let (client, hash) = client_and_token(&state, address, &headers, form)?;
    let now = state.clock.now();
    // A refresh token takes its whole grant with it; an access token only itself. Unknown tokens
    // and other clients' tokens get the same 200, so the answer reveals nothing (RFC 7009 2.2).
    let revoked = if let Some(refresh) = state.store.find_refresh_token(&hash, now).await?
        && refresh.client_id == client.id
    {
        state.store.revoke_family(&refresh.family_id, now).await?;
        Some(("refresh_token", Some(refresh.user_id)))
    } else if let Some(access) = state.store.find_access_token(&hash, now).await?
        && access.client_id == client.id
    {
        state.store.revoke_access_token(&hash, now).await?;
        Some(("access_token", access.user_id))
    } else {
        None
    };
    if let Some((token, user_id)) = revoked {
        let event = AuditEvent {
            kind: AuditKind::TokensRevoked,
            actor: Actor::Client(client.id.clone()),
            user_id,
            client_addr: Some(address),
            details: json!({ "token": token }),
        };
        state.store.record_audit(&event, now).await?;
    }
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}
