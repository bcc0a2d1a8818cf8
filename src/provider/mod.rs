//! The downstream OpenID Connect provider (SPEC section 4): discovery, keys, authorization with
//! login and consent, tokens, userinfo, logout, revocation, introspection, the session tracker,
//! and the legacy paths.
mod authorize;
mod claims;
mod client_auth;
mod consent;
mod discovery;
pub mod error;
mod flow;
pub mod id_token;
mod introspect;
mod issue;
mod legacy;
mod logout;
pub mod logout_token;
mod revoke;
mod session;
pub mod token_endpoint;
pub mod userinfo;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::http::PageError;
use crate::state::AppState;
pub use error::{AuthorizationError, ErrorCode};
pub use flow::fail_resumed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/sso/v2/jwks", get(discovery::jwks))
        .route(
            "/sso/v2/authorize",
            get(authorize::get).post(authorize::post),
        )
        .route("/sso/v2/authorize/resume", get(resume))
        .route("/sso/v2/consent", get(consent::show).post(consent::decide))
        .route("/sso/v2/token", post(token_endpoint::token))
        .route(
            "/sso/v2/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/sso/v2/logout", get(logout::get).post(logout::post))
        .route("/sso/v2/revoke", post(revoke::revoke))
        .route("/sso/v2/introspect", post(introspect::introspect))
        .route("/sso/v2/session", get(session::status))
        .route("/sso/sessionTracker/oasm.js", get(session::script))
        .merge(legacy::router())
}

#[derive(Deserialize)]
struct ResumeQuery {
    id: String,
}

/// Where login sends the browser back to: the next step of the pending authorization.
async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, PageError> {
    let pending = flow::pending_for_browser(&state, &headers, &query.id).await?;
    flow::proceed(&state, &headers, &pending, false).await
}
