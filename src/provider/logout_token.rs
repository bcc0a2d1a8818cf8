//! Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): what a client registered
//! for back-channel logout is sent when a session it got tokens in ends. Signed when sent, as the
//! client's ID tokens are, so that a retry hours later still carries a fresh `exp`; its `jti` is
//! the outbox row's id, the same at every attempt, so the client can drop a repeat.
use serde_json::json;

use super::error::OAuthError;
use super::id_token::sign_for_client;
use crate::state::AppState;

/// The event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid: only for its delivery.
const LOGOUT_TOKEN_TTL: i64 = 120;

/// The logout token telling `client_id` that the session `sid` of `sub` ended.
pub async fn logout_token(
    state: &AppState,
    client_id: &str,
    sub: &str,
    sid: &str,
    jti: &str,
) -> Result<String, OAuthError> {
    let client = state
        .client(client_id)
        .ok_or_else(|| OAuthError::Server(format!("client {client_id} is no longer registered")))?;
    let now = state.clock.now();
    let claims = json!({
        "iss": state.server().issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": jti,
        "sub": sub,
        "sid": sid,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    sign_for_client(state, &client, "logout+jwt", &claims).await
}
