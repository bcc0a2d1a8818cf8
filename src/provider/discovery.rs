//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and `GET /sso/v2/jwks`.
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::OAuthError;
use crate::config::KNOWN_SCOPES;
use crate::state::AppState;
use crate::vocabulary::prompt::Prompt;
use crate::vocabulary::response_mode::ResponseMode;

pub async fn configuration(State(state): State<AppState>) -> Response {
    let issuer = &state.server().issuer;
    let mut algs: Vec<&str> = state
        .config()
        .signing_algs()
        .iter()
        .map(|a| a.as_str())
        .collect();
    if state
        .config()
        .clients
        .iter()
        .any(|c| c.id_token_alg == crate::config::Alg::HS256)
    {
        algs.push("HS256");
    }
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/sso/v2/authorize"),
        "token_endpoint": format!("{issuer}/sso/v2/token"),
        "userinfo_endpoint": format!("{issuer}/sso/v2/userinfo"),
        "jwks_uri": format!("{issuer}/sso/v2/jwks"),
        "end_session_endpoint": format!("{issuer}/sso/v2/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "revocation_endpoint": format!("{issuer}/sso/v2/revoke"),
        "introspection_endpoint": format!("{issuer}/sso/v2/introspect"),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ResponseMode::SUPPORTED.map(ResponseMode::as_str),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": Prompt::SUPPORTED,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "name",
            "preferred_username", "email", "email_verified", "attached_to", "given_name", "family_name",
            "locale", "address"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(document),
    )
        .into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let keys = state.keys.jwks().await?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(keys)).into_response())
}
